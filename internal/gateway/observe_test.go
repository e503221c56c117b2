package gateway

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// gatedObserver records request ids; while gate is set, each Record
// reports its id on entered and then waits for gate to close.
type gatedObserver struct {
	mu      sync.Mutex
	ids     []string
	entered chan string
	gate    chan struct{}
}

func (o *gatedObserver) Record(_ context.Context, rec *Record) error {
	if o.gate != nil {
		o.entered <- rec.RequestID
		<-o.gate
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ids = append(o.ids, rec.RequestID)
	return nil
}

func (o *gatedObserver) seen() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.ids...)
}

// TestObserversHearAfterTheAnswer: with an AfterAnswer in the request's
// context, the recorder (the audit trail) hears of a request before Invoke
// returns and the observers only once the node runs them; without one,
// both hear of it before Invoke returns. Streams and refusals alike.
func TestObserversHearAfterTheAnswer(t *testing.T) {
	for _, tc := range []struct {
		name, model string
		stream      bool
		deferred    bool
	}{
		{"answer deferred", "m", false, true},
		{"stream deferred", "m", true, true},
		{"refusal deferred", "unknown-model", false, true},
		{"answer at once", "m", false, false},
		{"stream at once", "m", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newPathHarness(t)
			h.local.stream = func(ctx context.Context, _ *inference.Request) (inference.Stream, error) {
				return newFakeStream(ctx, false, streamEvents()...), nil
			}
			obs := &gatedObserver{}
			h.g.observer = obs
			o := NewObserving(nil)
			ctx := t.Context()
			var after *AfterAnswer
			if tc.deferred {
				ctx, after = o.Begin(ctx)
			}
			out, err := h.g.Invoke(ctx, h.call("r1", tc.model, tc.stream))
			if err == nil && out.Stream != nil {
				for {
					if _, err := out.Stream.Recv(); err != nil {
						break
					}
				}
				out.Stream.Close()
			}
			if got := h.recorder.last(t).RequestID; got != "r1" {
				t.Fatalf("recorder heard of %q, want r1", got)
			}
			if !tc.deferred {
				if got := obs.seen(); len(got) != 1 || got[0] != "r1" {
					t.Fatalf("observer heard of %v before the answer, want [r1]", got)
				}
				return
			}
			if got := obs.seen(); len(got) != 0 {
				t.Fatalf("observer heard of %v before Run, want nothing", got)
			}
			if !after.Pending() {
				t.Fatal("Pending = false with an observation put off")
			}
			after.Run()
			if got := obs.seen(); len(got) != 1 || got[0] != "r1" {
				t.Fatalf("observer heard of %v after Run, want [r1]", got)
			}
			// After Run, a late record is observed at once.
			h.g.observeAnswer(ctx, &Record{RequestID: "late"})
			if got := obs.seen(); len(got) != 2 || got[1] != "late" {
				t.Fatalf("observer heard of %v, want the late record at once", got)
			}
		})
	}
}

// TestObservingWaitsForObservationsPutOff: Wait returns only once the
// observations put off before it have run, and does not wait for those put
// off after it began.
func TestObservingWaitsForObservationsPutOff(t *testing.T) {
	h := newPathHarness(t)
	obs := &gatedObserver{entered: make(chan string, 1), gate: make(chan struct{})}
	h.g.observer = obs
	o := NewObserving(nil)

	ctx, first := o.Begin(t.Context())
	h.g.observeAnswer(ctx, &Record{RequestID: "first"})
	go first.Run()
	if id := <-obs.entered; id != "first" {
		t.Fatalf("observer entered for %q, want first", id)
	}

	waited := make(chan struct{})
	go func() {
		o.Wait(t.Context())
		close(waited)
	}()
	waitForWaiter(t, o)

	// Put off after Wait began: not waited for (Run is never called, and
	// Wait must still return once first has run).
	ctx2, _ := o.Begin(t.Context())
	h.g.observeAnswer(ctx2, &Record{RequestID: "second"})

	select {
	case <-waited:
		t.Fatal("Wait returned while an observation put off before it was running")
	default:
	}
	close(obs.gate)
	<-waited
	if got := obs.seen(); len(got) != 1 || got[0] != "first" {
		t.Fatalf("observed %v, want [first]", got)
	}
}

// waitForWaiter blocks until a Wait of o waits for a slot.
func waitForWaiter(t *testing.T, o *Observing) {
	t.Helper()
	for {
		o.mu.Lock()
		waiting := o.idle[0] != nil || o.idle[1] != nil
		o.mu.Unlock()
		if waiting {
			return
		}
		if t.Context().Err() != nil {
			t.Fatal("no Wait began")
		}
		runtime.Gosched()
	}
}

// TestObservingWaitIsBounded: an observation held up (its answer's write
// blocked by a slow client) holds a reader for at most maxObserveWait on
// the node's clock; later readers do not wait for it again, but do wait
// for observations put off after it, and its late end disturbs no count.
func TestObservingWaitIsBounded(t *testing.T) {
	c := clock.NewManual(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	o := NewObserving(c)
	_, stuck := o.Begin(t.Context())
	stuck.put(observation{})

	waited := make(chan struct{})
	go func() {
		o.Wait(t.Context())
		close(waited)
	}()
	if err := c.WaitTimers(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	c.Advance(maxObserveWait - time.Nanosecond)
	select {
	case <-waited:
		t.Fatal("Wait returned before its bound")
	default:
	}
	c.Advance(time.Nanosecond)
	<-waited

	// Given up on: the next readers return at once.
	for range 3 {
		o.Wait(t.Context())
	}
	// A new observation is waited for, and the stuck one ending meanwhile
	// does not count for it.
	_, next := o.Begin(t.Context())
	next.put(observation{})
	waited = make(chan struct{})
	go func() {
		o.Wait(t.Context())
		close(waited)
	}()
	waitForWaiter(t, o)
	release(stuck)
	select {
	case <-waited:
		t.Fatal("the given-up observation's end released a Wait for another")
	default:
	}
	release(next)
	<-waited
	if c.Timers() != 0 {
		t.Fatalf("%d timers left, want none", c.Timers())
	}
}

// release runs a, whose observations are zero values (no gateway to
// deliver to): only its hold on the Observing ends.
func release(a *AfterAnswer) {
	a.mu.Lock()
	a.obs = nil
	a.mu.Unlock()
	a.Run()
}

// TestObservingWaitWithNothingPutOff returns at once, without a timer.
func TestObservingWaitWithNothingPutOff(t *testing.T) {
	c := clock.NewManual(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	o := NewObserving(c)
	o.Wait(t.Context())
	var none *Observing
	none.Wait(t.Context()) // a nil Observing waits for nothing
	if c.Timers() != 0 {
		t.Fatalf("%d timers, want none", c.Timers())
	}
}
