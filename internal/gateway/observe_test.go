package gateway

import (
	"context"
	"errors"
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
			o := observingOnAManualClock()
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
	o := observingOnAManualClock()

	ctx, first := o.Begin(t.Context())
	h.g.observeAnswer(ctx, &Record{RequestID: "first"})
	go first.Run()
	if id := <-obs.entered; id != "first" {
		t.Fatalf("observer entered for %q, want first", id)
	}

	waited := make(chan struct{})
	go func() {
		o.Wait()
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
	for !o.Waiting() {
		if t.Context().Err() != nil {
			t.Fatal("no Wait began")
		}
		runtime.Gosched()
	}
}

// TestObservingWaitIsBounded: an observer that is itself slow holds a
// reader for at most maxObserveWait on the node's clock; later readers do
// not wait for it again, but do wait for observations put off after it,
// and its late end disturbs no count.
func TestObservingWaitIsBounded(t *testing.T) {
	c := clock.NewManual(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	h := newPathHarness(t)
	obs := &gatedObserver{entered: make(chan string, 2), gate: make(chan struct{})}
	h.g.observer = obs
	o := NewObserving(c)
	ctx, stuck := o.Begin(t.Context())
	h.g.observeAnswer(ctx, &Record{RequestID: "stuck"})
	go stuck.Run()
	<-obs.entered

	waited := make(chan struct{})
	go func() {
		o.Wait()
		close(waited)
	}()
	waitForWaiter(t, o)
	if err := c.WaitTimers(t.Context(), 1); err != nil { // Wait's (Run stopped the delivery timer)
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
		o.Wait()
	}
	// A new observation is waited for, and the stuck one ending meanwhile
	// does not count for it.
	obs2 := &gatedObserver{entered: make(chan string, 1), gate: make(chan struct{})}
	h2 := newPathHarness(t)
	h2.g.observer = obs2
	ctx, next := o.Begin(t.Context())
	h2.g.observeAnswer(ctx, &Record{RequestID: "next"})
	go next.Run()
	<-obs2.entered
	waited = make(chan struct{})
	go func() {
		o.Wait()
		close(waited)
	}()
	waitForWaiter(t, o)
	close(obs.gate) // the stuck observation ends
	select {
	case <-waited:
		t.Fatal("the given-up observation's end released a Wait for another")
	default:
	}
	close(obs2.gate)
	<-waited
}

// TestObservationDeliveredWithoutItsAnswer: an answer whose write never
// ends (a client that stopped reading) does not hold its observations
// back for longer than maxObserveDelay, and a reader then finds them.
func TestObservationDeliveredWithoutItsAnswer(t *testing.T) {
	c := clock.NewManual(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	h := newPathHarness(t)
	obs := &gatedObserver{}
	h.g.observer = obs
	o := NewObserving(c)
	ctx, after := o.Begin(t.Context())
	defer after.Run() // the handler's own call, long after
	h.g.observeAnswer(ctx, &Record{RequestID: "r1"})
	c.Advance(maxObserveDelay - time.Nanosecond)
	if got := obs.seen(); len(got) != 0 {
		t.Fatalf("observed %v before the delay, want nothing", got)
	}
	c.Advance(time.Nanosecond)
	o.Wait()
	if got := obs.seen(); len(got) != 1 || got[0] != "r1" {
		t.Fatalf("observed %v, want [r1]", got)
	}
	if c.Timers() != 0 {
		t.Fatalf("%d timers left, want none", c.Timers())
	}
}

// TestHoldAfterAGiveUp: a request whose hold a Wait gave up on takes a new
// one for what it puts off later, so that the next reader waits for it; a
// hold still counted is reused.
func TestHoldAfterAGiveUp(t *testing.T) {
	o := observingOnAManualClock()
	e, added := o.hold(0, false)
	if !added || e != 0 {
		t.Fatalf("first hold: epoch %d, added %v", e, added)
	}
	if e2, added := o.hold(e, true); added || e2 != e {
		t.Fatalf("hold while counted: epoch %d, added %v; want %d reused", e2, added, e)
	}
	// A Wait gives epoch 0 up (as its timer would).
	o.mu.Lock()
	o.epoch, o.live, o.pending[0] = 1, 1, 0
	o.mu.Unlock()
	e3, added := o.hold(e, true)
	if !added || e3 != 1 {
		t.Fatalf("hold after the give-up: epoch %d, added %v; want a new one in epoch 1", e3, added)
	}
	o.release(e) // the old hold's late end changes nothing
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.pending[1] != 1 {
		t.Fatalf("pending of epoch 1 = %d, want 1", o.pending[1])
	}
}

// TestObservingWaitWithNothingPutOff returns at once, without a timer.
func TestObservingWaitWithNothingPutOff(t *testing.T) {
	c := clock.NewManual(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	o := NewObserving(c)
	o.Wait()
	var none *Observing
	none.Wait() // a nil Observing waits for nothing
	if c.Timers() != 0 {
		t.Fatalf("%d timers, want none", c.Timers())
	}
}

// TestRunLater: RunLater returns while the observers still run (on the
// Observing's worker), readers' Waits wait for them, and the observations
// of the requests handed over meanwhile follow in order. Close runs what
// is queued and ends the worker; a RunLater after it runs on its caller.
func TestRunLater(t *testing.T) {
	h := newPathHarness(t)
	obs := &gatedObserver{entered: make(chan string, 4), gate: make(chan struct{})}
	h.g.observer = obs
	o := observingOnAManualClock()

	ctx, first := o.Begin(t.Context())
	h.g.observeAnswer(ctx, &Record{RequestID: "first"})
	first.RunLater() // returns although the observer is held
	if id := <-obs.entered; id != "first" {
		t.Fatalf("observer entered for %q, want first", id)
	}
	ctx, second := o.Begin(t.Context())
	h.g.observeAnswer(ctx, &Record{RequestID: "second"})
	second.RunLater()
	// Nothing put off: runs at once, queues nothing.
	_, none := o.Begin(t.Context())
	none.RunLater()

	waited := make(chan struct{})
	go func() {
		o.Wait()
		close(waited)
	}()
	waitForWaiter(t, o)
	select {
	case <-waited:
		t.Fatal("Wait returned while observations handed to the worker were held")
	default:
	}
	close(obs.gate)
	<-waited
	if got := obs.seen(); len(got) != 2 || got[0] != "first" || got[1] != "second" {
		t.Fatalf("observed %v, want [first second]", got)
	}

	ctx, queued := o.Begin(t.Context())
	h.g.observeAnswer(ctx, &Record{RequestID: "queued"})
	queued.RunLater()
	if err := o.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := obs.seen(); len(got) != 3 || got[2] != "queued" {
		t.Fatalf("observed %v after Close, want the queued request last", got)
	}
	ctx, late := o.Begin(t.Context())
	h.g.observeAnswer(ctx, &Record{RequestID: "late"})
	late.RunLater()
	if got := obs.seen(); len(got) != 4 || got[3] != "late" {
		t.Fatalf("observed %v, want the request after Close run by its caller", got)
	}
	if err := o.Close(t.Context()); err != nil { // again: nothing to do
		t.Fatalf("second Close: %v", err)
	}
	// Later observations of a request that ran are delivered at once.
	h.g.observeAnswer(ctx, &Record{RequestID: "after"})
	if got := obs.seen(); len(got) != 5 || got[4] != "after" {
		t.Fatalf("observed %v, want the observation after RunLater at once", got)
	}
}

// TestRunLaterQueueFull: when the worker's queue is full, RunLater runs
// the observations on its caller rather than queue without bound.
func TestRunLaterQueueFull(t *testing.T) {
	h := newPathHarness(t)
	obs := &gatedObserver{entered: make(chan string, observeQueue+2), gate: make(chan struct{})}
	h.g.observer = obs
	o := observingOnAManualClock()
	defer o.Close(context.Background())
	ctx, held := o.Begin(t.Context())
	h.g.observeAnswer(ctx, &Record{RequestID: "held"})
	held.RunLater()
	<-obs.entered // the worker is held: the queue fills
	for range observeQueue {
		ctx, a := o.Begin(t.Context())
		h.g.observeAnswer(ctx, &Record{RequestID: "queued"})
		a.RunLater()
	}
	ctx, over := o.Begin(t.Context())
	h.g.observeAnswer(ctx, &Record{RequestID: "over"})
	ran := make(chan struct{})
	go func() {
		over.RunLater()
		close(ran)
	}()
	if id := <-obs.entered; id != "over" {
		t.Fatalf("observer entered for %q, want the request beyond the queue, on its caller", id)
	}
	close(obs.gate)
	<-ran
	o.Wait()
	if got := len(obs.seen()); got != observeQueue+2 {
		t.Fatalf("observed %d requests, want %d", got, observeQueue+2)
	}
}

// TestObservationAllocs pins what putting a request's observation off
// costs: Begin (the context and the AfterAnswer, one allocation), the
// observation and its hold (none), the timer that bounds the delay (two:
// the timer and its function), and Run (none). It was seven.
func TestObservationAllocs(t *testing.T) {
	h := newPathHarness(t)
	h.g.observer = &countingObserver{}
	o := NewObserving(nil) // the wall clock's timer, as in production (it never fires: Run stops it)
	rec := &Record{RequestID: "r"}
	ctx := t.Context()
	n := testing.AllocsPerRun(100, func() {
		rctx, a := o.Begin(ctx)
		h.g.observeDetached(rctx, ctx, rec)
		a.Run()
	})
	if n > 3 {
		t.Errorf("Begin, put and Run allocate %v times, want at most 3", n)
	}
}

// countingObserver counts the records it hears of.
type countingObserver struct{ n int }

func (o *countingObserver) Record(context.Context, *Record) error {
	o.n++
	return nil
}

// TestObservingCloseIsBounded: Close waits for an observer that never
// returns only as long as its context allows; the worker ends once the
// observer does.
func TestObservingCloseIsBounded(t *testing.T) {
	h := newPathHarness(t)
	obs := &gatedObserver{entered: make(chan string, 1), gate: make(chan struct{})}
	h.g.observer = obs
	o := observingOnAManualClock()
	ctx, stuck := o.Begin(t.Context())
	h.g.observeAnswer(ctx, &Record{RequestID: "stuck"})
	stuck.RunLater()
	<-obs.entered
	cctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := o.Close(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close with a held observer and an ended context = %v, want context.Canceled", err)
	}
	close(obs.gate)
	o.Wait() // the stuck observation ends and releases its hold
	if got := obs.seen(); len(got) != 1 || got[0] != "stuck" {
		t.Fatalf("observed %v, want [stuck]", got)
	}
}

// panickyObserver panics on the request named boom and records the rest.
type panickyObserver struct{ countingObserver }

func (o *panickyObserver) Record(ctx context.Context, rec *Record) error {
	if rec.RequestID == "boom" {
		panic("observer bug")
	}
	return o.countingObserver.Record(ctx, rec)
}

// TestObserverPanicIsContained: an observer that panics on the worker
// takes neither the worker nor the node down, and its request's hold is
// released (a reader does not wait for it).
func TestObserverPanicIsContained(t *testing.T) {
	h := newPathHarness(t)
	obs := &panickyObserver{}
	h.g.observer = obs
	o := observingOnAManualClock()
	defer o.Close(context.Background())
	for _, id := range []string{"boom", "ok"} {
		ctx, a := o.Begin(t.Context())
		h.g.observeAnswer(ctx, &Record{RequestID: id})
		a.RunLater()
	}
	o.Wait()
	if o.Waiting() {
		t.Fatal("a Wait is still waiting")
	}
	// The worker ran "ok" after the panic; Close waits for it.
	if err := o.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if obs.n != 1 {
		t.Errorf("the observer took %d requests after the panic, want 1", obs.n)
	}
}

// observingOnAManualClock is an Observing whose delay timers never fire
// (nothing advances its clock): the test drives the order itself.
func observingOnAManualClock() *Observing {
	return NewObserving(clock.NewManual(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
}
