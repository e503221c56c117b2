package routing_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/routing"
	"github.com/meridian-gateway/meridian/internal/routing/routingtest"
)

// awaitLen waits until n requests wait in q; the test's context is the
// hang guard.
func awaitLen(t *testing.T, q *routing.Queue, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second) // a hang guard only
	defer cancel()
	if err := q.AwaitLen(ctx, n); err != nil {
		t.Fatal(err)
	}
}

// awaitTimers waits until n timers are pending on clk.
func awaitTimers(t *testing.T, clk *routingtest.Clock, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second) // a hang guard only
	defer cancel()
	if err := clk.WaitTimers(ctx, n); err != nil {
		t.Fatal(err)
	}
}

func TestQueue(t *testing.T) {
	t.Parallel()
	clk := routingtest.NewClock(t0)
	q := routing.NewQueue(2, clk)
	ctx := t.Context()
	res := make(chan error, 3)
	go func() { res <- q.Wait(ctx, time.Second) }()
	awaitLen(t, q, 1)
	go func() { res <- q.Wait(ctx, 5*time.Second) }()
	awaitLen(t, q, 2)

	if err := q.Wait(ctx, time.Second); !errors.Is(err, routing.ErrQueueFull) {
		t.Fatalf("Wait on a full queue = %v, want ErrQueueFull", err)
	}
	awaitTimers(t, clk, 2)
	clk.Advance(time.Second) // the first waiter times out
	if err := <-res; !errors.Is(err, routing.ErrQueueTimeout) {
		t.Fatalf("first waiter = %v, want ErrQueueTimeout", err)
	}
	q.Notify() // capacity frees: the second waiter re-plans
	if err := <-res; err != nil {
		t.Fatalf("second waiter = %v, want nil", err)
	}
	if q.Len() != 0 {
		t.Errorf("Len = %d, want 0", q.Len())
	}
	q.Notify() // no waiter: a no-op
}

func TestQueueCancel(t *testing.T) {
	t.Parallel()
	clk := routingtest.NewClock(t0)
	q := routing.NewQueue(1, clk)
	ctx, cancel := context.WithCancel(t.Context())
	res := make(chan error, 1)
	go func() { res <- q.Wait(ctx, time.Minute) }()
	awaitLen(t, q, 1)
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait after cancel = %v, want context.Canceled", err)
	}
	if q.Len() != 0 || clk.Timers() != 0 {
		t.Errorf("after cancel: %d waiters, %d timers, want 0, 0", q.Len(), clk.Timers())
	}
	if err := routing.NewQueue(0, clk).Wait(t.Context(), time.Second); !errors.Is(err, routing.ErrQueueFull) {
		t.Errorf("Wait on a zero-size queue = %v, want ErrQueueFull", err)
	}
}

// TestQueueAwaitLen: AwaitLen returns once the queue holds exactly n
// waiters, whichever way it got there, and with the context's error when
// it ends first.
func TestQueueAwaitLen(t *testing.T) {
	t.Parallel()
	clk := routingtest.NewClock(t0)
	q := routing.NewQueue(2, clk)
	awaitLen(t, q, 0)
	res := make(chan error, 1)
	go func() { res <- q.Wait(t.Context(), time.Minute) }()
	awaitLen(t, q, 1)
	q.Notify()
	awaitLen(t, q, 0)
	if err := <-res; err != nil {
		t.Fatalf("woken waiter = %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := q.AwaitLen(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("AwaitLen on an ended context = %v, want context.Canceled", err)
	}
}
