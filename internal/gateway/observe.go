package gateway

import (
	"context"
	"runtime/debug"
	"sync"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// A request's observers (Options.Observer: metrics of the OpenTelemetry
// kind, traces, the live view) only describe an answer; unlike the
// recorder (the audit trail), they can neither refuse it nor change it. So
// they need not delay it: a node that can send an answer before its handler
// returns (see [Observing.Begin]) lets them run once it is out, and a
// request's answer then costs no observation time.
//
// What that must not change is what a reader of the observers sees: a
// client that has its answer and then scrapes the metrics, looks the
// request up in the live view or flushes the traces must find it. Readers
// therefore call [Observing.Wait] first, which waits for the observations
// already put off, and only those.

// maxObserveDelay bounds how long an observation waits for its answer to
// be out: a client that reads a large answer slowly, or stops reading,
// holds the write of it, and its observations then run without waiting
// for the rest.
const maxObserveDelay = time.Second

// maxObserveWait bounds Observing.Wait, for an observer that is itself
// slow: a reader then goes on without that request rather than stall.
const maxObserveWait = 2 * time.Second

// observeQueue bounds the answered requests waiting for the observing
// worker (see AfterAnswer.RunLater); beyond it, a handler runs its
// observations itself, which slows the requests that outpace the observers.
const observeQueue = 1024

// Observing orders a node's put-off observations with the readers of the
// observers. The zero value is not usable: use [NewObserving].
//
// Observations are counted by epoch; each Wait closes the current epoch
// and waits for its count to fall to zero. Two slots suffice: Waits are
// serialised, so when one closes epoch e, epoch e-1 is already settled.
type Observing struct {
	clock clock.Clock
	// waiting serialises Wait.
	waiting sync.Mutex
	mu      sync.Mutex
	epoch   uint64
	pending [2]int // observations of the last two epochs, by epoch&1
	// live is the oldest epoch still counted in pending: the observations
	// of older epochs were given up on by a Wait that timed out, and no
	// reader waits for them again.
	live uint64
	// idle[s], when set, is closed once pending[s] falls to zero: a Wait
	// is waiting for slot s.
	idle [2]chan struct{}

	// The worker runs the observations handed over by RunLater, one
	// request after another. It starts with the first, and Close ends it.
	workerMu   sync.RWMutex // closed, and the start of the worker
	closed     bool
	work       chan *AfterAnswer // nil until the worker starts
	workerDone chan struct{}
}

// NewObserving returns an Observing whose Wait is bounded on c (nil: the
// wall clock).
func NewObserving(c clock.Clock) *Observing {
	return &Observing{clock: clock.Or(c)}
}

// hold counts a request's observations put off, in the current epoch, and
// returns that epoch; added is false when the request's earlier hold, in
// epoch last (held), still counts, so that it need not take another. A hold
// a Wait gave up on no longer counts.
func (o *Observing) hold(last uint64, held bool) (e uint64, added bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if held && last >= o.live {
		return last, false
	}
	e = o.epoch
	o.pending[e&1]++
	return e, true
}

// release counts one observation of epoch e done.
func (o *Observing) release(e uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if e < o.live {
		return // given up on
	}
	s := e & 1
	o.pending[s]--
	if o.pending[s] == 0 && o.idle[s] != nil {
		close(o.idle[s])
		o.idle[s] = nil
	}
}

// Wait returns once every observation put off before the call has run, or
// after maxObserveWait (an observer that is slow, which no later Wait waits
// for again). Observations put off meanwhile are not waited for, so a
// steady load cannot starve a reader. A nil Observing waits for nothing.
//
// It takes no context: a reader that gave up early would settle the epoch
// for the readers after it, which must still wait.
func (o *Observing) Wait() {
	if o == nil {
		return
	}
	o.waiting.Lock()
	defer o.waiting.Unlock()
	o.mu.Lock()
	e := o.epoch
	s := e & 1
	o.epoch++ // observations from now on count in the other slot
	if o.pending[s] == 0 {
		o.mu.Unlock()
		return
	}
	idle := make(chan struct{})
	o.idle[s] = idle
	o.mu.Unlock()
	t, expired := o.clock.NewTimer(maxObserveWait)
	defer t.Stop()
	select {
	case <-idle:
		return
	case <-expired:
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.idle[s] != idle {
		return // settled meanwhile
	}
	o.idle[s] = nil
	o.pending[s] = 0 // its slot is free for epoch e+2
	o.live = e + 1
}

// Waiting reports whether a Wait is waiting for observations (tests use it
// to order a reader before an observation's end).
func (o *Observing) Waiting() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.idle[0] != nil || o.idle[1] != nil
}

// handOver gives a to the worker, starting it if need be; false when the
// queue is full or o is closed (the caller then runs a itself).
func (o *Observing) handOver(a *AfterAnswer) bool {
	for range 2 {
		if sent, started := o.send(a); started {
			return sent
		}
		if !o.startWorker() {
			return false
		}
	}
	return false
}

// send queues a for the worker; started is false when the worker has not
// started (nor o closed). The send holds the read lock, so that Close
// closes the queue only once no send is in flight.
func (o *Observing) send(a *AfterAnswer) (sent, started bool) {
	o.workerMu.RLock()
	defer o.workerMu.RUnlock()
	if o.closed {
		return false, true
	}
	if o.work == nil {
		return false, false
	}
	select {
	case o.work <- a:
		return true, true
	default:
		return false, true
	}
}

// startWorker starts the worker unless it runs; false once o is closed.
func (o *Observing) startWorker() bool {
	o.workerMu.Lock()
	defer o.workerMu.Unlock()
	if o.closed {
		return false
	}
	if o.work == nil {
		o.work, o.workerDone = make(chan *AfterAnswer, observeQueue), make(chan struct{})
		go o.runWorker(o.work, o.workerDone)
	}
	return true
}

// runWorker runs the requests handed over until Close closes work.
func (o *Observing) runWorker(work <-chan *AfterAnswer, done chan<- struct{}) {
	defer close(done)
	for a := range work {
		a.Run()
	}
}

// Close lets the worker run the observations handed to it and not yet run,
// then end, and waits for that until ctx ends (an observer that never
// returns must not hold a node's shutdown; the worker then ends once it
// does), returning ctx's error in that case. A RunLater after Close runs
// on its caller. It may be called more than once; a later call does not
// wait. The node closes its Observing once its listeners have drained,
// before its telemetry's last export.
func (o *Observing) Close(ctx context.Context) error {
	o.workerMu.Lock()
	work, done := o.work, o.workerDone
	already := o.closed
	o.closed, o.work = true, nil
	o.workerMu.Unlock()
	if already || work == nil {
		return nil
	}
	close(work)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Begin starts a request whose observations may be put off until its answer
// is out: ctx carries the returned AfterAnswer to the gateway, and the
// caller must call its Run or RunLater once the answer is written (or the
// handler has returned): until then, readers' Waits wait for it. Run also
// runs by itself maxObserveDelay after the first observation was put off.
//
// The context and the AfterAnswer are one allocation.
func (o *Observing) Begin(ctx context.Context) (context.Context, *AfterAnswer) {
	c := &answerContext{Context: ctx}
	c.a.o = o
	return c, &c.a
}

type afterAnswerKey struct{}

// answerContext is a request's context carrying its AfterAnswer (as
// context.WithValue would, without a second allocation).
type answerContext struct {
	context.Context
	a AfterAnswer
}

// Value returns the AfterAnswer for afterAnswerKey, the parent's values
// otherwise.
func (c *answerContext) Value(key any) any {
	if key == (afterAnswerKey{}) {
		return &c.a
	}
	return c.Context.Value(key)
}

// AfterAnswer holds one request's observations until its answer is out.
type AfterAnswer struct {
	o    *Observing
	mu   sync.Mutex
	done bool // Run has been called: observe at once
	// epochs are the holds the observations take on o: one, and another
	// for those put off after a Wait gave the first up.
	epochs []uint64
	obs    []observation
	timer  clock.Timer // runs Run after maxObserveDelay
	// The first hold and observation, kept without an allocation of
	// their own (a request has one observation, two when forwarded back
	// to its own region).
	epoch0 [1]uint64
	obs0   [1]observation
}

// observation is one record for a gateway's observer, with the context it
// was finished in.
type observation struct {
	ctx context.Context
	g   *Gateway
	rec *Record
}

// put keeps an observation for Run; false once Run has been called.
func (a *AfterAnswer) put(ob observation) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done {
		return false
	}
	var last uint64
	if n := len(a.epochs); n > 0 {
		last = a.epochs[n-1]
	}
	if e, added := a.o.hold(last, len(a.epochs) > 0); added {
		if a.epochs == nil {
			a.epochs = a.epoch0[:0]
		}
		a.epochs = append(a.epochs, e)
	}
	if a.timer == nil {
		a.timer = a.o.clock.AfterFuncTimer(maxObserveDelay, a.Run)
	}
	if a.obs == nil {
		a.obs = a.obs0[:0]
	}
	a.obs = append(a.obs, ob)
	return true
}

// Pending reports whether observations are waiting for Run.
func (a *AfterAnswer) Pending() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.obs) > 0
}

// Run delivers the observations put off and releases their holds on Wait;
// later ones are delivered at once. It may be called more than once, and
// concurrently (its timer and the node).
func (a *AfterAnswer) Run() {
	a.mu.Lock()
	obs, epochs, timer := a.obs, a.epochs, a.timer
	a.obs, a.epochs, a.timer, a.done = nil, nil, nil, true
	a.mu.Unlock()
	if timer != nil {
		timer.Stop()
	}
	for i, ob := range obs {
		ob.g.deliver(ob.ctx, ob.rec)
		obs[i] = observation{} // the request's context and record may go
	}
	for _, e := range epochs {
		a.o.release(e)
	}
}

// RunLater is Run on the Observing's worker: the caller (the handler of
// the request, whose return ends a chunked answer and lets the connection
// read its next request) need not wait for the observers. Readers' Waits
// still wait for these observations. With nothing put off, or when the
// worker's queue is full or the Observing closed, it is Run.
func (a *AfterAnswer) RunLater() {
	if !a.HandOver() {
		a.Run()
	}
}

// HandOver gives the observations put off to the Observing's worker and
// reports whether it took them. With nothing put off, a full queue or a
// closed Observing it reports false: the caller is to call Run (after
// flushing its answer, when that completes it).
func (a *AfterAnswer) HandOver() bool { return a.Pending() && a.o.handOver(a) }

// observeAnswer gives rec to the observers: after the answer when the request's
// context carries an AfterAnswer (see Observing.Begin), at once otherwise.
// The record must not change afterwards. An observer's error is logged: it
// cannot change an answer.
func (g *Gateway) observeAnswer(ctx context.Context, rec *Record) {
	if g.observer == nil {
		return
	}
	g.observeDetached(ctx, context.WithoutCancel(ctx), rec)
}

// observeDetached is observeAnswer with the request's context detached from
// its cancellation already (dctx, which the observers get). The
// AfterAnswer is looked up in ctx: a Value call on the standard library's
// detached context allocates (it boxes itself), one on ctx does not.
func (g *Gateway) observeDetached(ctx, dctx context.Context, rec *Record) {
	if g.observer == nil {
		return
	}
	if a, ok := ctx.Value(afterAnswerKey{}).(*AfterAnswer); ok && a.put(observation{dctx, g, rec}) {
		return
	}
	g.deliver(dctx, rec)
}

// deliver records rec with the observer, logging its error.
//
// An observer that panics is logged and the request goes on: observers run
// after the answer, on the observing worker or a timer's goroutine, where
// no net/http recovery contains a panic, and a description of an answer
// must not take the node down (nor keep the request's hold on readers).
func (g *Gateway) deliver(ctx context.Context, rec *Record) {
	defer func() {
		if p := recover(); p != nil {
			g.log.ErrorContext(ctx, "an observer panicked", telemetry.AttrRequestID, rec.RequestID, "panic", p, "stack", string(debug.Stack()))
		}
	}()
	if err := g.observer.Record(ctx, rec); err != nil {
		g.log.WarnContext(ctx, "an observer did not take a request", telemetry.AttrRequestID, rec.RequestID, telemetry.AttrError, err)
	}
}
