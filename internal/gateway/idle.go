package gateway

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/routing"
)

// DefaultStreamIdleTimeout is a deployment's stream idle time-out when its
// stream_idle_timeout is zero. It equals the backend package's default (a
// node test keeps them equal).
const DefaultStreamIdleTimeout = 15 * time.Second

// linkIdleMargin is how much longer than the destination's own stream idle
// time-out the source waits on a forwarded stream: the destination's
// in-stream error must have time to arrive, so the source's watch only
// ends streams whose node or link went silent.
const linkIdleMargin = 10 * time.Second

// linkIdleTimeout is the longest silence of a forwarded stream of model:
// the largest stream_idle_timeout of its deployments, plus linkIdleMargin.
func (g *Gateway) linkIdleTimeout(model string) time.Duration {
	longest := time.Duration(0)
	for _, d := range g.cfg.Deployments {
		if d.Model != model {
			continue
		}
		t := d.Backend.StreamIdleTimeout.D()
		if t <= 0 {
			t = DefaultStreamIdleTimeout
		}
		longest = max(longest, t)
	}
	if longest == 0 {
		longest = DefaultStreamIdleTimeout
	}
	return longest + linkIdleMargin
}

// idleStream ends a stream that stays silent for longer than idle while
// its reader waits: it closes the stream under the blocked Recv, which then
// returns a time-out. One timer runs per idle period, not per event.
//
// Recv runs once per event: it reads the clock once and stores to one
// atomic before and after the event, and takes no lock (it took two lock
// pairs per event before, contended with nothing but the period's check).
type idleStream struct {
	inference.Stream
	clock routing.TimerClock
	idle  time.Duration
	start time.Time // of the watch; waiting counts from it

	// waiting is when the pending Recv began, as the time since start in
	// nanoseconds plus one; zero when no Recv is pending.
	waiting  atomic.Int64
	timedOut atomic.Bool

	mu     sync.Mutex // stop and closed
	stop   func() bool
	closed bool
}

func watchIdle(s inference.Stream, clock routing.TimerClock, idle time.Duration) inference.Stream {
	w := &idleStream{Stream: s, clock: clock, idle: idle, start: clock.Now()}
	w.mu.Lock()
	w.stop = clock.AfterFunc(idle, w.check)
	w.mu.Unlock()
	return w
}

// Ready implements inference.Readier.
func (w *idleStream) Ready() bool { return inference.Ready(w.Stream) }

func (w *idleStream) Recv() (inference.Event, error) {
	w.waiting.Store(int64(w.since()) + 1)
	ev, err := w.Stream.Recv()
	w.waiting.Store(0)
	if err != nil && w.timedOut.Load() {
		return ev, &inference.Error{Kind: inference.KindTimeout, Message: "the destination region stopped sending (no event for " + w.idle.String() + ")", Err: err}
	}
	return ev, err
}

// since is the time since the watch began (monotonic on the wall clock).
func (w *idleStream) since() time.Duration { return w.clock.Now().Sub(w.start) }

// check runs when a period ends: it closes the stream if the pending Recv
// has waited idle or longer, and otherwise re-arms for the rest.
func (w *idleStream) check() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	next := w.idle
	// The clock is read before the pending Recv's start: a Recv that
	// begins in between then counts as just begun, where the other order
	// could measure an earlier Recv's start against a later time and end
	// a stream whose events came in time.
	now := w.since()
	if at := w.waiting.Load(); at != 0 {
		waited := now - time.Duration(at-1)
		if waited >= w.idle {
			w.timedOut.Store(true)
			w.mu.Unlock()
			w.Stream.Close()
			return
		}
		next = w.idle - waited
	}
	w.stop = w.clock.AfterFunc(next, w.check)
	w.mu.Unlock()
}

func (w *idleStream) Close() error {
	w.mu.Lock()
	w.closed = true
	if w.stop != nil {
		w.stop()
	}
	w.mu.Unlock()
	return w.Stream.Close()
}
