package interregion

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// repeatStream yields ev n times, then io.EOF.
type repeatStream struct {
	ev inference.Event
	n  int
}

func (s *repeatStream) Recv() (inference.Event, error) {
	if s.n == 0 {
		return inference.Event{}, io.EOF
	}
	s.n--
	return s.ev, nil
}

func (s *repeatStream) Close() error { return nil }

// pipeWriter is a ResponseWriter that writes into a pipe.
type pipeWriter struct {
	h http.Header
	w *io.PipeWriter
}

func (p *pipeWriter) Header() http.Header         { return p.h }
func (p *pipeWriter) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p *pipeWriter) WriteHeader(int)             {}
func (p *pipeWriter) Flush()                      {}

// pipeStream relays src as the destination's server does, in frames or
// NDJSON, into a pipe that a source's remoteStream reads.
func pipeStream(tb testing.TB, framed bool, src inference.Stream) inference.Stream {
	pr, pw := io.Pipe()
	s := &server{opts: ServerOptions{Logger: slog.New(slog.DiscardHandler)}}
	w := &pipeWriter{h: http.Header{}, w: pw}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.relay(w, src, framed)
		pw.Close()
	}()
	tb.Cleanup(func() { pr.Close(); <-done })
	_, cancel := context.WithCancel(context.Background())
	return newRemoteStream(dst, pr, cancel, framed, nil)
}

// streamFormats are the two formats of a forwarded stream.
var streamFormats = []struct {
	name   string
	framed bool
}{{"ndjson", false}, {"frames", true}}
