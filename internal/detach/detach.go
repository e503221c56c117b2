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
)

// From returns a context that ends when parent does, with the same error
// (context.Canceled, or context.DeadlineExceeded at parent's deadline,
// which is its own), but is not parent's child: stop lets go of parent,
// after which only cancel and ctx's own deadline end it. stop reports
// false once parent has ended (its end then reaches ctx), or when parent
// was let go of before. Values are parent's. Call cancel when the call is
// done, as for context.WithCancel.
func From(parent context.Context) (ctx context.Context, cancel context.CancelFunc, stop func() bool) {
	if d, ok := parent.Deadline(); ok {
		ctx, cancel = context.WithDeadline(context.WithoutCancel(parent), d)
	} else {
		ctx, cancel = context.WithCancel(context.WithoutCancel(parent))
	}
	hungUp := func() bool {
		// A deadline reaches ctx through its own, as a time-out.
		err := parent.Err()
		return err != nil && !errors.Is(err, context.DeadlineExceeded)
	}
	stop = context.AfterFunc(parent, func() {
		if hungUp() {
			cancel()
		}
	})
	// AfterFunc calls back on a goroutine of its own: a caller that has
	// already hung up must not start the call meanwhile.
	if hungUp() {
		cancel()
	}
	return ctx, cancel, stop
}
