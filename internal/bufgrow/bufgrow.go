// Package bufgrow is the buffered reader of a relayed stream: it starts
// with a small buffer, which a paced stream of small events never
// outgrows, and grows once to a larger one when an upstream releases a
// burst. It lives inside the stream that uses it, so that neither reader
// is an allocation of its own.
package bufgrow

import (
	"bufio"
	"io"
)

// Reader holds a stream's two buffered readers. The zero value is ready
// for Start.
type Reader struct {
	small, burst bufio.Reader
	rest         prefixReader
}

// Start returns the reader of src with a buffer of size bytes.
func (g *Reader) Start(src io.Reader, size int) *bufio.Reader {
	g.small = *bufio.NewReaderSize(src, size)
	return &g.small
}

// Grow returns the reader of src with a buffer of size bytes, which
// reads first what cur, the reader read so far (the one Start returned),
// still holds, from cur's buffer in place (an io.MultiReader over a copy
// of it cost four allocations and the copy). cur must not be read again,
// so that nothing overwrites its buffer: what was read from it before
// (an event whose bytes point into it) stays as it was. Once its rest is
// read, nothing here holds that buffer any more. Grow is called once.
func (g *Reader) Grow(cur *bufio.Reader, src io.Reader, size int) *bufio.Reader {
	rest, _ := cur.Peek(cur.Buffered())
	g.rest = prefixReader{rest: rest, r: src}
	g.small = bufio.Reader{}
	g.burst = *bufio.NewReaderSize(&g.rest, size)
	return &g.burst
}

// prefixReader reads rest, then r.
type prefixReader struct {
	rest []byte
	r    io.Reader
}

func (p *prefixReader) Read(b []byte) (int, error) {
	if len(p.rest) > 0 {
		n := copy(b, p.rest)
		if p.rest = p.rest[n:]; len(p.rest) == 0 {
			p.rest = nil // the buffer it pointed into is no longer held
		}
		return n, nil
	}
	return p.r.Read(b)
}
