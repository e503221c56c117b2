// Package headerwait bounds an HTTP client request's wait for its
// response's headers on an injectable clock, as net/http's
// Transport.ResponseHeaderTimeout does on the wall clock, so that a test
// drives it with a manual clock: a timer armed once the request is written
// cancels the request's context unless the headers arrived first. The
// backends (internal/backend) and the inter-region link
// (internal/interregion) bound their first byte with it.
package headerwait

import (
	"context"
	"net/http/httptrace"
	"sync"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
)

// Wait bounds one request's wait for its response's headers.
type Wait struct {
	// trace arms and stops the timer; it is allocated with the rest.
	trace  httptrace.ClientTrace
	clk    clock.Clock
	d      time.Duration
	cancel context.CancelFunc
	mu     sync.Mutex
	timer  clock.Timer
	gen    uint64 // the attempt the armed timer belongs to
	ended  bool   // the request returned
	fired  bool
}

// Start returns the context to send a request under: parent's child,
// carrying the client trace that arms the wait, which the Wait's time-out
// cancels. cancel releases it; a caller calls it once the response's body
// is done with, or at once when the request failed or timed out.
func Start(parent context.Context, clk clock.Clock, d time.Duration) (ctx context.Context, cancel context.CancelFunc, w *Wait) {
	ctx, cancel = context.WithCancel(parent)
	w = &Wait{clk: clk, d: d, cancel: cancel}
	w.trace.WroteRequest = w.wrote
	w.trace.GetConn = w.connecting
	return httptrace.WithClientTrace(ctx, &w.trace), cancel, w
}

// End stops the timer once the request returned (its headers arrived, or
// it failed), and reports whether the time-out fired first. When it did,
// the request's context is cancelled: a response that came at the same
// moment is to be closed and the request reported as timed out, one
// outcome as net/http's own bound gives.
func (w *Wait) End() (fired bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ended = true
	if w.timer != nil {
		w.timer.Stop()
	}
	return w.fired
}

// wrote arms the timer once the request is written (again, when net/http
// wrote it a second time, on another connection).
func (w *Wait) wrote(info httptrace.WroteRequestInfo) {
	if info.Err != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ended {
		return
	}
	if w.timer != nil {
		w.timer.Stop()
	}
	w.gen++
	gen := w.gen
	w.timer = w.clk.AfterFuncTimer(w.d, func() { w.fire(gen) })
}

// connecting stops the timer while net/http gets a connection for another
// attempt (it retries a request that a reused connection dropped before
// answering): the wait starts again when that attempt's request is
// written. A timer of the earlier attempt that is already firing finds its
// attempt over and does nothing.
func (w *Wait) connecting(string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gen++
	if w.timer != nil {
		w.timer.Stop()
	}
}

// fire cancels the request unless it returned or the timer belongs to an
// earlier attempt (its callback may run after Stop: a clock runs callbacks
// outside its lock).
func (w *Wait) fire(gen uint64) {
	w.mu.Lock()
	if w.ended || gen != w.gen {
		w.mu.Unlock()
		return
	}
	w.fired = true
	w.mu.Unlock()
	w.cancel()
}
