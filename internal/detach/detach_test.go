package detach

import (
	"context"
	"errors"
	"testing"
	"time"
)

type key struct{}

func TestFrom(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// end ends the parent (after stop, when stopFirst).
		end       func(cancel context.CancelFunc)
		deadline  bool
		stopFirst bool
		// endFirst ends the parent before From, which must then return
		// ctx already ended (not once its callback has run).
		endFirst bool
		want     error // ctx.Err() afterwards; nil: still running
		wantStop bool
	}{
		{name: "hang-up", end: func(c context.CancelFunc) { c() }, want: context.Canceled},
		{name: "hung up before", endFirst: true, end: func(c context.CancelFunc) { c() }, want: context.Canceled},
		{name: "deadline", deadline: true, want: context.DeadlineExceeded},
		{name: "let go, then hang-up", stopFirst: true, end: func(c context.CancelFunc) { c() }, wantStop: true},
		{name: "still running", stopFirst: true, wantStop: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent, cancelParent := context.WithCancel(context.WithValue(t.Context(), key{}, "v"))
			defer cancelParent()
			if tc.deadline {
				// Already past: ctx ends as a time-out, not as a
				// cancellation.
				parent, cancelParent = context.WithDeadline(parent, time.Unix(0, 0))
				defer cancelParent()
			}
			if tc.endFirst {
				tc.end(cancelParent)
			}
			ctx, cancel, stop := From(parent)
			defer cancel()
			if tc.endFirst {
				if err := ctx.Err(); !errors.Is(err, tc.want) {
					t.Fatalf("ctx.Err() = %v at once, want %v", err, tc.want)
				}
				return
			}
			if got := ctx.Value(key{}); got != "v" {
				t.Errorf("ctx.Value = %v, want the parent's value", got)
			}
			if tc.stopFirst {
				if got := stop(); got != tc.wantStop {
					t.Errorf("stop() = %v, want %v", got, tc.wantStop)
				}
			}
			if tc.end != nil {
				tc.end(cancelParent)
			}
			if tc.want == nil {
				if err := ctx.Err(); err != nil {
					t.Fatalf("ctx.Err() = %v after the parent was let go of, want nil", err)
				}
				return
			}
			<-ctx.Done()
			if err := ctx.Err(); !errors.Is(err, tc.want) {
				t.Fatalf("ctx.Err() = %v, want %v", err, tc.want)
			}
			if !tc.stopFirst && stop() {
				t.Error("stop() = true after the parent ended, want false")
			}
		})
	}
}

// BenchmarkFrom: a forward and a backend's call each detach their context
// once per request (docs/performance.md, "Forwarded CPU at 32 in flight,
// 2026-12-08").
func BenchmarkFrom(b *testing.B) {
	parent, cancelParent := context.WithCancel(context.Background())
	defer cancelParent()
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel, stop := From(parent)
		_ = ctx.Done() // net/http asks a request's context for it
		stop()
		cancel()
	}
}

// TestFromChildren: the detached context is a context package's own
// cancelCtx on a values-only parent (the watch): its children register
// with it, end with it, and read its cause; values still come from the
// caller's context.
func TestFromChildren(t *testing.T) {
	parent, cancelParent := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	ctx, cancel, stop := From(parent)
	defer cancel()
	child, cancelChild := context.WithCancel(ctx)
	defer cancelChild()
	if got := child.Value(key{}); got != "v" {
		t.Errorf("child.Value = %v, want v", got)
	}
	if !stop() {
		t.Fatal("stop() = false before the parent ended")
	}
	cancelParent()
	if child.Err() != nil {
		t.Fatalf("child ended with the parent after stop: %v", child.Err())
	}
	cancel()
	select {
	case <-child.Done():
	case <-time.After(time.Minute): // a hang guard only
		t.Fatal("child did not end with the detached context")
	}
	if err := context.Cause(child); !errors.Is(err, context.Canceled) {
		t.Errorf("context.Cause(child) = %v, want context.Canceled", err)
	}
	if err := context.Cause(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("context.Cause(ctx) = %v, want context.Canceled", err)
	}
}
