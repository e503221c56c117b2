package gateway

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/routing"
)

func TestParseMaxQueueWait(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"250ms", 250 * time.Millisecond, true},
		{" 1.5s ", 1500 * time.Millisecond, true},
		{"0", NoQueueWait, true},
		{"0s", NoQueueWait, true},
		{"", 0, false},
		{"-1s", 0, false},
		{"soon", 0, false},
		{"250", 0, false}, // a unit is required
		{"1000000000000000000000000000000000h", 0, false},
	}
	for _, tc := range tests {
		got, ok := ParseMaxQueueWait(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseMaxQueueWait(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	h := http.Header{}
	if got := MaxQueueWait(h); got != 0 {
		t.Errorf("MaxQueueWait without the header = %v, want 0 (the configured budget)", got)
	}
	h.Set(HeaderMaxQueueWait, "100ms")
	if got := MaxQueueWait(h); got != 100*time.Millisecond {
		t.Errorf("MaxQueueWait(100ms) = %v", got)
	}
}

// FuzzParseMaxQueueWait: any header value parses to a non-negative budget
// or NoQueueWait, or is ignored; it never panics.
func FuzzParseMaxQueueWait(f *testing.F) {
	for _, s := range []string{"250ms", "0", "", "1h2m3s", "-0", "9223372036854775807ns", "1e3s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseMaxQueueWait(s)
		if ok && d < 0 && d != NoQueueWait {
			t.Errorf("ParseMaxQueueWait(%q) = %v", s, d)
		}
		if !ok && d != 0 {
			t.Errorf("ParseMaxQueueWait(%q) = %v, false; want 0", s, d)
		}
	})
}

// TestAdmissionPredictsTheWait: with c's single slot in eu-west-1 taken, a
// request whose predicted wait exceeds the budget (300ms by default; the
// caller's header lowers it) hears 429 at once, with the predicted wait as
// Retry-After; one whose wait fits queues and is served when the slot
// frees. The manual clock never moves in the first cases: a request that
// waited would hang the test.
func TestAdmissionPredictsTheWait(t *testing.T) {
	t.Parallel()
	h := newPathHarness(t)
	h.local.complete = func(context.Context, *inference.Request) (*inference.Response, error) {
		return &inference.Response{Message: inference.TextMessage(inference.RoleAssistant, "ok")}, nil
	}
	tr := h.g.Routing().Tracker
	k := routing.Key{Region: "eu-west-1", Model: "c"}

	// The slot is taken and nothing has taught a service time yet: the
	// default (2s) predicts a 2s wait.
	held, err := tr.Start(k, 10)
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.g.Invoke(t.Context(), h.call("slow", "c", false))
	e := inference.AsError(err)
	if ra := e.RetryAfter; e.Kind != inference.KindThrottled || ra < routing.DefaultServiceTime || ra > routing.DefaultServiceTime+2*time.Millisecond {
		t.Fatalf("Invoke with a 2s predicted wait = %v (Retry-After %v), want 429 with Retry-After 2s at once", err, e.RetryAfter)
	}
	tr.Observe(held, routing.Outcome{Kind: routing.Canceled})

	// Teach a 100ms service time, then take the slot again.
	a, _ := tr.Start(k, 10)
	h.clock.Advance(100 * time.Millisecond)
	tr.Observe(a, routing.Outcome{Kind: routing.Success, TTFT: 50 * time.Millisecond})
	held, _ = tr.Start(k, 10)

	// A caller that will not wait, and one whose 50ms budget is shorter
	// than the 100ms predicted, hear 429 at once (Retry-After at least 1s).
	for _, wait := range []time.Duration{NoQueueWait, 50 * time.Millisecond} {
		call := h.call("impatient", "c", false)
		call.MaxQueueWait = wait
		_, err := h.g.Invoke(t.Context(), call)
		if e := inference.AsError(err); e.Kind != inference.KindThrottled || e.RetryAfter != time.Second {
			t.Errorf("Invoke with max queue wait %v = %v (Retry-After %v), want 429 with Retry-After 1s", wait, err, e.RetryAfter)
		}
	}

	// The default budget fits 100ms: the request queues, then is served.
	done := make(chan error, 1)
	go func() {
		_, err := h.g.Invoke(t.Context(), h.call("patient", "c", false))
		done <- err
	}()
	// Once it waits in the routing queue (after the gateway counted it),
	// the Notify below cannot come before it.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second) // a hang guard only
	defer cancel()
	if err := h.g.routing.Queue.AwaitLen(ctx, 1); err != nil {
		t.Fatalf("the request never queued: %v", err)
	}
	if got := depth(h.g.Routing(), "c"); got != 1 {
		t.Fatalf("queue depth of profile c = %d, want 1", got)
	}
	h.clock.Advance(80 * time.Millisecond)
	tr.Observe(held, routing.Outcome{Kind: routing.Success})
	h.g.routing.Queue.Notify()
	if err := <-done; err != nil {
		t.Fatalf("queued request = %v, want served once the slot freed", err)
	}
}

func depth(r *Routing, profile string) int {
	for _, s := range r.QueueStats() {
		if s.Profile == profile {
			return s.Depth
		}
	}
	return 0
}
