package backend

import (
	"bufio"
	"context"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/detach"
)

// streamBody is what a stream holds of its upstream HTTP request: the
// request's context, the buffered body, the idle timer, and the drain
// that reads the body on to its end once the stream has ended, so that
// the connection goes back to the pool. sseStream (OpenAI) and
// rawEventStream (Bedrock) embed it.
type streamBody struct {
	ctx    context.Context
	cancel context.CancelFunc
	// detach stops the caller's context from cancelling ctx; it reports
	// false once that cancellation has begun. Nil: close never drains.
	detach func() bool
	// drains runs and owns the stream's drain (the backend's); set with
	// detach.
	drains *detach.Group
	body   io.ReadCloser
	// src reads body for r and tells when it reached the body's end
	// (set by a stream that reads through it: sseStream).
	src endReader
	r   *bufio.Reader
	// ended is set once the stream has ended and the upstream ends the
	// body next (the stream says when): close may then drain the body. It
	// is atomic because close may run on another goroutine than Recv.
	ended atomic.Bool
	// idle bounds each wait for an event; timer enforces it by cancelling
	// ctx, and timedOut tells that cancellation from the caller's.
	idle     time.Duration
	timer    clock.Timer
	timedOut atomic.Bool
	once     sync.Once
}

// close releases the request once; after the stream's end it first reads
// the rest of the body, in the background (drain), unless the reads of the
// stream already reached the body's end: net/http has then put the
// connection back in its pool, and a drain would only start a goroutine to
// read io.EOF again.
func (b *streamBody) close() {
	b.once.Do(func() {
		if b.ended.Load() && b.detach != nil && !b.src.end.Load() && b.detach() && b.drains.Go(b.drain, b.cancel) {
			return
		}
		b.release()
	})
}

// endReader reads a stream's body and records whether a read returned
// io.EOF (the body read to its end). end is atomic: close may run on
// another goroutine than the reads.
type endReader struct {
	r   io.Reader
	end atomic.Bool
}

func (e *endReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.end.Store(true)
	}
	return n, err
}

// drain reads what follows the stream's end to the end of the HTTP body,
// then releases the request, so that the connection goes back to the pool:
// net/http drops a connection whose response body is closed before its
// end, and the next request would dial (and shake hands) again. From a
// well-behaved upstream what follows is only the body's terminator, which
// may arrive in a write of its own. close runs it on a goroutine owned by
// the backend's drains (which the backend's Close cuts short and waits
// for), so the caller never waits for it, after detaching the request from
// the caller's context: the caller returns at once, which ends its context
// (an HTTP handler's, when it returns), and a drain still waiting for the
// terminator then lost the connection (nearly one local stream in two did,
// in meridian bench). maxDrainWait (or the idle time-out, when shorter)
// bounds it (the timer cancels the request), and after more than maxDrain
// bytes, or an error, the connection is let go.
func (b *streamBody) drain() {
	b.timer.Reset(min(b.idle, maxDrainWait))
	io.CopyN(io.Discard, b.r, maxDrain)
	b.release()
}

// release stops the timer and ends the request.
func (b *streamBody) release() {
	if b.detach != nil {
		b.detach()
	}
	b.timer.Stop()
	b.cancel()
	b.body.Close()
}
