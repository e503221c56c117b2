package bufgrow

import (
	"io"
	"strings"
	"testing"
)

// TestGrow: the grown reader reads what the small one still held, then
// the source, byte for byte; what was read from the small one before
// stays as it was; once its rest is read, nothing holds the small
// buffer; growing allocates the larger buffer and nothing else.
func TestGrow(t *testing.T) {
	const text = "event one\nevent two\nevent three\nevent four\n"
	var g Reader
	r := g.Start(strings.NewReader(text), 16)
	first, err := r.ReadSlice('\n') // points into the small buffer
	if err != nil {
		t.Fatal(err)
	}
	kept := string(first)
	src := strings.NewReader(text[16:]) // what the small reader has not read
	r = g.Grow(r, src, 64)
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := kept + string(rest); got != text {
		t.Errorf("read %q, want %q", got, text)
	}
	if string(first) != kept {
		t.Errorf("the line read before growing became %q, was %q", first, kept)
	}
	if g.small.Size() != 0 || g.rest.rest != nil {
		t.Error("the grown reader still holds the small reader's buffer")
	}

	n := testing.AllocsPerRun(100, func() {
		g := new(Reader)
		r := g.Start(strings.NewReader(text), 16)
		r.ReadSlice('\n')
		r = g.Grow(r, strings.NewReader(text[16:]), 64)
		io.Copy(io.Discard, r)
	})
	// The Reader, two strings.Readers, the two buffers (io.Copy's
	// buffer is spared by bufio.Reader's WriteTo).
	if n > 5 {
		t.Errorf("%v allocations, want at most 5", n)
	}
}

// TestPrefixReaderRead: rest first, in pieces as the caller asks, then r
// with its errors; an empty read returns nothing.
func TestPrefixReaderRead(t *testing.T) {
	p := &prefixReader{rest: []byte("abc"), r: strings.NewReader("de")}
	if n, err := p.Read(nil); n != 0 || err != nil {
		t.Fatalf("empty read = %d, %v", n, err)
	}
	b := make([]byte, 2)
	var got []byte
	for {
		n, err := p.Read(b)
		got = append(got, b[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if string(got) != "abcde" || p.rest != nil {
		t.Errorf("read %q, rest %q; want abcde and no rest", got, p.rest)
	}
}
