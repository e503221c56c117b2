package routing_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/routing"
	"github.com/meridian-gateway/meridian/internal/routing/routingtest"
)

// waitFor polls cond as a hang guard; it never asserts on wall time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestQueue(t *testing.T) {
	t.Parallel()
	clk := routingtest.NewClock(t0)
	q := routing.NewQueue(2, clk)
	ctx := t.Context()
	res := make(chan error, 3)
	go func() { res <- q.Wait(ctx, time.Second) }()
	waitFor(t, "first waiter", func() bool { return q.Len() == 1 })
	go func() { res <- q.Wait(ctx, 5*time.Second) }()
	waitFor(t, "second waiter", func() bool { return q.Len() == 2 })

	if err := q.Wait(ctx, time.Second); !errors.Is(err, routing.ErrQueueFull) {
		t.Fatalf("Wait on a full queue = %v, want ErrQueueFull", err)
	}
	waitFor(t, "timers", func() bool { return clk.Timers() == 2 })
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
	waitFor(t, "waiter", func() bool { return q.Len() == 1 })
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
