// Package detach gives a call a context that ends when its caller's does,
// until the caller's context is let go of.
//
// An HTTP handler's context ends when the handler returns. A response
// body read to its end after that (so that net/http pools its
// connection instead of closing it) must not be cut short by that end,
// yet before it the call must still end with its caller: a hang-up
// cancels it, a deadline times it out. A [Group] owns the goroutines that
// finish such calls, so that the component that started them can end
// them and wait for them when it closes.
package detach

import (
	"context"
	"errors"
	"time"
)

// From returns a context that ends when parent does, with the same error
// (context.Canceled, or context.DeadlineExceeded at parent's deadline,
// which is its own), but is not parent's child: stop lets go of parent,
// after which only cancel and ctx's own deadline end it. stop reports
// false once parent has ended (its end then reaches ctx), or when parent
// was let go of before. Values are parent's. Call cancel when the call is
// done, as for context.WithCancel.
func From(parent context.Context) (ctx context.Context, cancel context.CancelFunc, stop func() bool) {
	// One watch is both ctx's parent (parent's values, no cancellation:
	// context.WithoutCancel's) and what the callback needs: that, two
	// closures and a context.WithoutCancel cost two allocations more per
	// call (docs/performance.md, "Forwarded CPU at 32 in flight,
	// 2026-12-08").
	w := &watch{parent: parent}
	if d, ok := parent.Deadline(); ok {
		ctx, w.cancel = context.WithDeadline(w, d)
	} else {
		ctx, w.cancel = context.WithCancel(w)
	}
	stop = context.AfterFunc(parent, w.parentEnded)
	// AfterFunc calls back on a goroutine of its own: a caller that has
	// already hung up must not start the call meanwhile.
	w.parentEnded()
	return ctx, w.cancel, stop
}

// watch ends a detached context when its parent's caller hangs up. As a
// context it is what context.WithoutCancel(parent) is: parent's values,
// never done, no deadline. Only the context package's cancelCtx made on
// it asks it anything: that answers the context package's own lookups
// (its cancelCtxKey) itself, so they never reach parent through here.
type watch struct {
	parent context.Context
	cancel context.CancelFunc
}

func (*watch) Deadline() (time.Time, bool) { return time.Time{}, false }
func (*watch) Done() <-chan struct{}       { return nil }
func (*watch) Err() error                  { return nil }
func (w *watch) Value(key any) any         { return w.parent.Value(key) }

// parentEnded cancels the detached context if the parent was cancelled:
// a deadline reaches it through its own, as a time-out.
func (w *watch) parentEnded() {
	if err := w.parent.Err(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		w.cancel()
	}
}
