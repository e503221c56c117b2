package headerwait

import (
	"context"
	"net/http/httptrace"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// TestWait: the wait starts when the request is written, fires at exactly
// d on the clock, stops when the request returns, starts again for a
// retried attempt, and a timer of an earlier attempt whose callback was
// already running when the retry began cancels nothing.
func TestWait(t *testing.T) {
	const d = 2 * time.Second
	tests := []struct {
		name      string
		run       func(c *clock.Manual, w *Wait)
		cancelled bool
	}{
		{"not written yet: no time-out", func(c *clock.Manual, w *Wait) { c.Advance(time.Hour) }, false},
		{"written, one tick short", func(c *clock.Manual, w *Wait) {
			w.wrote(httptrace.WroteRequestInfo{})
			c.Advance(d - 1)
		}, false},
		{"written, at the time-out", func(c *clock.Manual, w *Wait) {
			w.wrote(httptrace.WroteRequestInfo{})
			c.Advance(d)
		}, true},
		{"a failed write arms nothing", func(c *clock.Manual, w *Wait) {
			w.wrote(httptrace.WroteRequestInfo{Err: context.Canceled})
			c.Advance(d)
		}, false},
		{"a retry starts the wait again", func(c *clock.Manual, w *Wait) {
			w.wrote(httptrace.WroteRequestInfo{})
			c.Advance(d - time.Second)
			w.connecting("peer:443")
			c.Advance(time.Hour) // getting the new connection does not count
			w.wrote(httptrace.WroteRequestInfo{})
			c.Advance(d - 1)
		}, false},
		{"an earlier attempt's late callback", func(c *clock.Manual, w *Wait) {
			w.wrote(httptrace.WroteRequestInfo{})
			stale := w.gen
			w.connecting("peer:443")
			w.wrote(httptrace.WroteRequestInfo{})
			w.fire(stale) // as a callback that was running when the retry began
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := clock.NewManual(t0)
			ctx, cancel, w := Start(t.Context(), c, d)
			defer cancel()
			tc.run(c, w)
			if got := ctx.Err() != nil; got != tc.cancelled {
				t.Fatalf("request cancelled = %v, want %v", got, tc.cancelled)
			}
			if fired := w.End(); fired != tc.cancelled {
				t.Fatalf("End() = %v, want %v", fired, tc.cancelled)
			}
			if n := c.Timers(); n != 0 {
				t.Fatalf("%d timers armed after End, want none", n)
			}
		})
	}
}

// TestEndStopsTheWait: a request that returned in time is never
// cancelled by its timer, however late the clock moves.
func TestEndStopsTheWait(t *testing.T) {
	c := clock.NewManual(t0)
	ctx, cancel, w := Start(t.Context(), c, time.Second)
	defer cancel()
	w.wrote(httptrace.WroteRequestInfo{})
	if w.End() {
		t.Fatal("End reported a time-out before the clock moved")
	}
	c.Advance(time.Hour)
	if ctx.Err() != nil {
		t.Fatalf("context %v after End", ctx.Err())
	}
	w.wrote(httptrace.WroteRequestInfo{}) // a late report arms nothing
	if n := c.Timers(); n != 0 {
		t.Fatalf("%d timers armed after End, want none", n)
	}
}
