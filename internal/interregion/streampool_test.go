package interregion

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// hangingLocal is a destination gateway whose streams send one event and
// then wait for their request's context: the upstream call of a slow
// model. cancelled is closed when a stream's context ends, which is what
// stops the destination's upstream call.
type hangingLocal struct {
	started   atomic.Int64
	cancelled chan struct{}
	once      atomic.Bool
}

func (h *hangingLocal) ServeForwarded(ctx context.Context, _ *dispatch.Job) (*dispatch.Outcome, error) {
	h.started.Add(1)
	return &dispatch.Outcome{Stream: &hangingStream{ctx: ctx, h: h}}, nil
}

type hangingStream struct {
	ctx  context.Context
	h    *hangingLocal
	sent bool
}

func (s *hangingStream) Recv() (inference.Event, error) {
	if !s.sent {
		s.sent = true
		return inference.Event{Kind: inference.EventDelta, Text: "first"}, nil
	}
	<-s.ctx.Done()
	if s.h.once.CompareAndSwap(false, true) {
		close(s.h.cancelled)
	}
	return inference.Event{}, s.ctx.Err()
}

func (s *hangingStream) Close() error { return nil }

// TestStreamsOverHTTP1Pool: forwarded streams take the HTTP/1.1 pool while
// it has room, whatever the peer offers, and a stream read to its end
// gives its connection back, so sequential streams and answers share one
// connection. A stream the source abandons mid-way does not give back its
// connection (it is closed, never reused with the rest of a stream
// unread), its hang-up reaches the destination, whose stream context (and
// so its upstream call) ends, and the next forward takes a fresh
// connection.
func TestStreamsOverHTTP1Pool(t *testing.T) {
	t.Parallel()
	for _, tc := range poolLinkKinds {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			local := &servingLocal{}
			local.stream.Store(true)
			l := startPoolLink(t, poolLinkOptions{secure: tc.secure, h2: tc.h2, local: local})
			pool := l.client.peers[dst].lanes.pool
			const n = 3
			for range n {
				stream(t, l.client)
				if got := pool.inFlight.Load(); got != 0 {
					t.Fatalf("a stream read to its end left %d requests in flight on the pool, want 0", got)
				}
			}
			local.stream.Store(false)
			complete(t, l.client, forwardJob())
			if got, want := l.forwarded(), slices.Repeat([]int{1}, n+1); !slices.Equal(got, want) {
				t.Errorf("sequential streams and an answer arrived over HTTP/%v, want %v", got, want)
			}
			if got := l.conns.Load(); got != 1 {
				t.Errorf("%d sequential streams and an answer opened %d connections, want 1 (each gave it back at its end)", n, got)
			}

			// A stream abandoned after its first event.
			hang := &hangingLocal{cancelled: make(chan struct{})}
			h := startPoolLink(t, poolLinkOptions{secure: tc.secure, h2: tc.h2, local: hang})
			st, err := h.client.Executor(dst).Stream(t.Context(), forwardJob())
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			if ev, err := st.Recv(); err != nil || ev.Text != "first" {
				t.Fatalf("first Recv = %+v, %v; want the first event", ev, err)
			}
			if got := h.forwarded(); !slices.Equal(got, []int{1}) {
				t.Errorf("the stream arrived over HTTP/%v, want HTTP/1.1", got)
			}
			st.Close()
			select {
			case <-hang.cancelled:
			case <-time.After(time.Minute): // a hang guard only
				t.Fatal("the source hung up, but the destination's stream context did not end")
			}
			hpool := h.client.peers[dst].lanes.pool
			if got := hpool.inFlight.Load(); got != 0 {
				t.Errorf("an abandoned stream left %d requests in flight on the pool, want 0", got)
			}
			st, err = h.client.Executor(dst).Stream(t.Context(), forwardJob())
			if err != nil {
				t.Fatalf("Stream after an abandoned one: %v", err)
			}
			if ev, err := st.Recv(); err != nil || ev.Text != "first" {
				t.Fatalf("first Recv after an abandoned stream = %+v, %v; want the first event", ev, err)
			}
			st.Close()
			if got := h.conns.Load(); got != 2 {
				t.Errorf("a stream after an abandoned one: %d connections in all, want 2 (the abandoned one is not reused)", got)
			}
		})
	}
}

// TestStreamsOverflowToLanes: with every connection of the pool taken, a
// stream goes over an HTTP/2 lane instead of dialling or waiting; once the
// pool has room for streams, they take it again.
func TestStreamsOverflowToLanes(t *testing.T) {
	t.Parallel()
	local := &servingLocal{}
	local.stream.Store(true)
	l := startPoolLink(t, poolLinkOptions{secure: true, h2: true, local: local})
	pool := l.client.peers[dst].lanes.pool
	for range answerConnsPerPeer {
		if !pool.take(answerConnsPerPeer) {
			t.Fatal("the pool refused a request below its bound")
		}
	}
	stream(t, l.client)
	stream(t, l.client)
	if got := l.forwarded(); !slices.Equal(got, []int{2, 2}) {
		t.Errorf("streams with the pool full arrived over HTTP/%v, want HTTP/2", got)
	}
	if got := l.conns.Load(); got != 1 {
		t.Errorf("streams with the pool full opened %d connections, want 1 (a lane)", got)
	}
	if got := pool.inFlight.Load(); got != answerConnsPerPeer {
		t.Errorf("streams over the lanes changed the pool's count to %d, want %d", got, answerConnsPerPeer)
	}
	// Room for streams again: fewer than streamConnsPerPeer in flight.
	for range answerConnsPerPeer - streamConnsPerPeer + 1 {
		pool.release()
	}
	stream(t, l.client)
	if got := l.forwarded(); got[len(got)-1] != 1 {
		t.Errorf("a stream with room in the pool arrived over HTTP/%d, want HTTP/1.1", got[len(got)-1])
	}
}

// fillPool takes every connection of c's pool to dst, so that the next
// forwards go over the lanes, until the returned func gives them back.
func fillPool(t *testing.T, c *Client) (release func()) {
	t.Helper()
	pool := c.peers[dst].lanes.pool
	for range answerConnsPerPeer {
		if !pool.take(answerConnsPerPeer) {
			t.Fatal("the pool refused a request below its bound")
		}
	}
	return func() {
		for range answerConnsPerPeer {
			pool.release()
		}
	}
}

// discardWriter is a ResponseWriter that drops what is written.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Flush()                      {}

// TestRelayMemoryPerStream bounds what the destination's relay allocates
// for a stream of a few events, beyond the response writer's own buffer:
// every open forwarded stream holds it for its whole length. A write
// buffer of its own (1 KiB, once) doubled the response writer's.
func TestRelayMemoryPerStream(t *testing.T) {
	s := &server{opts: ServerOptions{Logger: slog.New(slog.DiscardHandler)}}
	events := []inference.Event{
		{Kind: inference.EventStart, Dialect: inference.DialectOpenAIChat, Raw: []byte(`{"id":"c","choices":[{"delta":{"role":"assistant"}}]}`)},
		{Kind: inference.EventDelta, Dialect: inference.DialectOpenAIChat, Raw: []byte(`{"choices":[{"delta":{"content":" token"}}]}`)},
		{Kind: inference.EventStop, Dialect: inference.DialectOpenAIChat, StopReason: inference.StopEndTurn, Raw: []byte(`{"choices":[{"finish_reason":"stop"}]}`)},
	}
	const runs = 200
	w := &discardWriter{h: http.Header{}}
	src := &sliceStream{}
	relay := func() {
		clear(w.h)
		src.events = events
		s.relay(w, src, true)
	}
	relay()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		relay()
	}
	runtime.ReadMemStats(&after)
	if got := (after.TotalAlloc - before.TotalAlloc) / runs; got > 512 {
		t.Errorf("the relay allocated %d bytes per stream of %d events, want at most 512 (no write buffer of its own)", got, len(events))
	}
}

// TestStreamOnAClosedConnection: the destination closes a kept-alive pool
// connection just as the source sends a stream on it. As for an answer,
// the link does not send the stream again: it fails as the region
// unreachable, before any byte, which the gateway fails over on.
func TestStreamOnAClosedConnection(t *testing.T) {
	t.Parallel()
	var cut atomic.Int64
	local := &servingLocal{}
	local.stream.Store(true)
	l := startPoolLink(t, poolLinkOptions{secure: true, h2: true, local: local, wrap: cutSecond(false, &cut)})
	stream(t, l.client)
	_, err := l.client.Executor(dst).Stream(t.Context(), forwardJob()) // on the reused connection, cut
	var ie *inference.Error
	if !errors.As(err, &ie) || ie.Kind != inference.KindUnavailable || ie.Message != "region "+dst+" is unreachable" {
		t.Fatalf("Stream on a cut connection = %v, want the region unreachable", err)
	}
	if got := cut.Load(); got != 1 {
		t.Fatalf("the destination cut %d forwards, want 1", got)
	}
	if got := l.forwarded(); !slices.Equal(got, []int{1, 1}) {
		t.Errorf("the destination received forwards over HTTP/%v, want two over HTTP/1.1 (the cut one not sent again)", got)
	}
	if got := l.client.peers[dst].lanes.pool.inFlight.Load(); got != 0 {
		t.Errorf("%d requests still counted in flight on the pool", got)
	}
	stream(t, l.client) // a new connection
}

// TestStreamsLeaveRoomForAnswers: streams take at most
// streamConnsPerPeer of the pool's connections, so that long streams never
// push every answer onto the lanes: with that many requests in flight on
// the pool, a stream goes over HTTP/2 and an answer still over HTTP/1.1.
func TestStreamsLeaveRoomForAnswers(t *testing.T) {
	t.Parallel()
	if streamConnsPerPeer >= answerConnsPerPeer {
		t.Fatalf("streams may take %d of the pool's %d connections, want fewer", streamConnsPerPeer, answerConnsPerPeer)
	}
	local := &servingLocal{}
	l := startPoolLink(t, poolLinkOptions{secure: true, h2: true, local: local})
	pool := l.client.peers[dst].lanes.pool
	for range streamConnsPerPeer {
		if !pool.take(answerConnsPerPeer) {
			t.Fatal("the pool refused a request below its bound")
		}
	}
	local.stream.Store(true)
	stream(t, l.client)
	local.stream.Store(false)
	complete(t, l.client, forwardJob())
	if got := l.forwarded(); !slices.Equal(got, []int{2, 1}) {
		t.Errorf("with %d requests on the pool, a stream and an answer arrived over HTTP/%v, want 2 and 1", streamConnsPerPeer, got)
	}
}
