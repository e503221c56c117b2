package gateway

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/routing"
)

// newSaturatedEngine is an engine whose deployments of m take one request
// each, every EU one busy with a request of another caller.
func newSaturatedEngine(t *testing.T) (*engine, []routing.Attempt) {
	t.Helper()
	e := newEngineWith(t, strings.ReplaceAll(engineTopology, "backend: { type: mock } }", "backend: { type: mock }, capacity: { max_concurrency: 1 } }"),
		"routing: { queue: { max: 4, timeout: 2s, max_wait: 2s } }\n")
	var busy []routing.Attempt
	for _, r := range euRegionsOfM {
		a, err := e.g.Routing().Tracker.Start(routing.Key{Region: r, Model: "m"}, 1)
		if err != nil {
			t.Fatal(err)
		}
		busy = append(busy, a)
	}
	return e, busy
}

// queued waits until a request is parked in the admission queue (it has
// armed its queue timer on the manual clock).
func (e *engine) queued(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // a hang guard only
	for e.g.Routing().Queue.Len() == 0 || e.clock.Timers() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no request entered the admission queue")
		}
		runtime.Gosched()
	}
}

// TestAdmissionQueue: with every destination saturated a request waits in
// the bounded queue; it is served when a slot frees, and answered 429 with
// Retry-After when the queue timeout passes first. Either way, one record.
func TestAdmissionQueue(t *testing.T) {
	t.Parallel()
	t.Run("served when a slot frees", func(t *testing.T) {
		t.Parallel()
		e, busy := newSaturatedEngine(t)
		done := make(chan error, 1)
		var out *Outcome
		go func() {
			var err error
			out, err = e.invoke(t, "queued", false)
			done <- err
		}()
		e.queued(t)
		e.g.observe(busy[1], routing.Outcome{Kind: routing.Success, TTFT: time.Millisecond})
		if err := <-done; err != nil {
			t.Fatalf("queued request = %v, want served once a slot freed", err)
		}
		if out.Route.InferenceRegion != busy[1].Key.Region {
			t.Errorf("served in %s, want %s, the region whose slot freed", out.Route.InferenceRegion, busy[1].Key.Region)
		}
		if e.records() != 1 {
			t.Errorf("%d records, want 1", e.records())
		}
	})
	t.Run("429 after the queue timeout", func(t *testing.T) {
		t.Parallel()
		e, _ := newSaturatedEngine(t)
		done := make(chan error, 1)
		go func() {
			_, err := e.invoke(t, "queued", false)
			done <- err
		}()
		e.queued(t)
		e.clock.Advance(2 * time.Second)
		err := <-done
		if ie := inference.AsError(err); ie.Kind != inference.KindThrottled || ie.RetryAfter < time.Second {
			t.Errorf("request after the queue timeout = %v, want 429 with Retry-After", err)
		}
		if len(e.b.tried()) != 0 || e.records() != 1 {
			t.Errorf("tried %v, %d records; want no attempt and one record", e.b.tried(), e.records())
		}
	})
	t.Run("caller hangs up while queued", func(t *testing.T) {
		t.Parallel()
		e, _ := newSaturatedEngine(t)
		ctx, cancel := contextWithCancel(t)
		done := make(chan error, 1)
		go func() {
			_, err := e.g.Invoke(ctx, &Call{RequestID: "gone", Operation: OpChatCompletions, Principal: e.principal,
				Request: &inference.Request{Model: "eu.m"}})
			done <- err
		}()
		e.queued(t)
		cancel()
		if err := <-done; inference.AsError(err).Kind != inference.KindTimeout {
			t.Errorf("request cancelled while queued = %v, want a time-out", err)
		}
		if rec := e.recorder.last(t); rec.ErrorCode != errClientClosed {
			t.Errorf("record error %q, want %s", rec.ErrorCode, errClientClosed)
		}
	})
}
