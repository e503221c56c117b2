package interregion

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/inference/inferencetest"
)

// TestFrameReaderReady: ready tells a frame buffered whole (or a length
// next refuses at once) from one that next would wait for, and skips the
// previous frame's payload still in the buffer.
func TestFrameReaderReady(t *testing.T) {
	t.Parallel()
	frame := func(typ byte, payload string) []byte {
		b := append([]byte{typ}, binary.AppendUvarint(nil, uint64(len(payload)))...)
		return append(b, payload...)
	}
	whole := frame(frameEvent, strings.Repeat("x", 300))
	tests := []struct {
		name     string
		buffered []byte
		// consume reads one frame first (its payload stays pending).
		consume bool
		want    bool
	}{
		{"nothing", nil, false, false},
		{"type byte only", whole[:1], false, false},
		{"length cut", whole[:2], false, false},
		{"payload cut", whole[:len(whole)-1], false, false},
		{"whole", whole, false, true},
		{"empty payload", frame(frameEnd, ""), false, true},
		{"too large", append([]byte{frameEvent}, binary.AppendUvarint(nil, maxFrameBytes+1)...), false, true},
		{"overlong length", append([]byte{frameEvent}, bytes.Repeat([]byte{0xff}, 11)...), false, true},
		{"after a frame, the next whole", append(frame(frameEvent, "ab"), whole...), true, true},
		{"after a frame, the next cut", append(frame(frameEvent, "ab"), whole[:5]...), true, false},
		{"after the last frame", frame(frameEvent, "ab"), true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := bufio.NewReaderSize(bytes.NewReader(tc.buffered), 4096)
			r.Peek(1) // fill the buffer with what "arrived"
			fr := &frameReader{r: r, max: maxFrameBytes}
			if tc.consume {
				if _, err := fr.next(); err != nil {
					t.Fatal(err)
				}
			}
			if got := fr.ready(); got != tc.want {
				t.Errorf("ready() = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRemoteStreamReady: an NDJSON stream is ready with a whole line
// buffered, and an ended stream is ready (Recv returns io.EOF at once).
func TestRemoteStreamReady(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, buffered string
		want           bool
	}{{"line", `{"event":{}}` + "\n", true}, {"part of a line", `{"event":`, false}, {"nothing", "", false}} {
		s := newRemoteStream("eu-west-1", nopCloser{strings.NewReader(tc.buffered)}, func() {}, false, nil)
		s.sc.Peek(1)
		if got := s.Ready(); got != tc.want {
			t.Errorf("%s: Ready() = %v, want %v", tc.name, got, tc.want)
		}
	}
	s := newRemoteStream("eu-west-1", nopCloser{strings.NewReader("")}, func() {}, true, nil)
	s.done = true
	if !inference.Ready(s) {
		t.Error("an ended stream is not Ready")
	}
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }

// countingPipe is a pipeWriter that counts the writes reaching the pipe.
type countingPipe struct {
	pipeWriter
	writes atomic.Int64
}

func (c *countingPipe) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.pipeWriter.Write(b)
}

// bufferedWriter is a response writer with a buffer, flushed by Flush,
// over a countingPipe.
type bufferedWriter struct {
	*countingPipe
	bw *bufio.Writer
}

func (b *bufferedWriter) Write(p []byte) (int, error) { return b.bw.Write(p) }
func (b *bufferedWriter) Flush()                      { b.bw.Flush() }

// TestRelayFlushesBeforeWaiting: the destination writes a stream's events
// to the link as they come and flushes before a Recv that may wait. Events
// that are already here cross in one write; an event is never held back
// waiting for the next: each reaches the source while the stream has
// nothing more to give (a relay that held it would stall this test).
func TestRelayFlushesBeforeWaiting(t *testing.T) {
	t.Parallel()
	for _, f := range streamFormats {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			relay := func(src inference.Stream) (inference.Stream, *countingPipe) {
				pr, pw := io.Pipe()
				s := &server{opts: ServerOptions{Logger: slog.New(slog.DiscardHandler)}}
				cp := &countingPipe{pipeWriter: pipeWriter{h: http.Header{}, w: pw}}
				// Buffered, as net/http's response writers are: the
				// relay has no buffer of its own.
				w := &bufferedWriter{countingPipe: cp, bw: bufio.NewWriterSize(cp, 4<<10)}
				done := make(chan struct{})
				go func() {
					defer close(done)
					s.relay(w, src, f.framed)
					w.Flush() // the handler's return
					pw.Close()
				}()
				t.Cleanup(func() { pr.Close(); <-done })
				return newRemoteStream(dst, pr, func() {}, f.framed, nil), cp
			}
			delta := func(text string) inference.Event {
				return inference.Event{Kind: inference.EventDelta, Dialect: inference.DialectOpenAIChat,
					Raw: []byte(`{"choices":[{"delta":{"content":"` + text + `"}}]}`)}
			}

			// Together: five events already here, then the end.
			together := make(inferencetest.ChanStream, 8)
			for _, w := range []string{"a", "b", "c", "d", "e"} {
				together <- delta(w)
			}
			close(together)
			rs, w := relay(together)
			n := 0
			for {
				if _, err := rs.Recv(); err == io.EOF {
					break
				} else if err != nil {
					t.Fatal(err)
				}
				n++
			}
			if n != 5 {
				t.Fatalf("the source read %d events, want 5", n)
			}
			if got := w.writes.Load(); got > 2 {
				t.Errorf("five events that were all here took %d writes to the link, want at most 2", got)
			}

			// One by one: each word is sent only once the source has
			// read the one before.
			lockstep := make(inferencetest.ChanStream, 1)
			rs, _ = relay(lockstep)
			words := []string{"w0", "w1", "w2", "w3"}
			lockstep <- delta(words[0])
			for i := range words {
				ev, err := rs.Recv()
				if err != nil {
					t.Fatalf("word %d: %v", i, err)
				}
				if !bytes.Contains(ev.Raw, []byte(words[i])) {
					t.Fatalf("word %d: got %s", i, ev.Raw)
				}
				if i+1 < len(words) {
					lockstep <- delta(words[i+1])
				} else {
					close(lockstep)
				}
			}
			if _, err := rs.Recv(); err != io.EOF {
				t.Errorf("after the last word: %v, want io.EOF", err)
			}
		})
	}
}
