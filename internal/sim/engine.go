package sim

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/routing"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// Strategy names accepted by [Run].
const (
	InRegionOnly = "in-region-only"
	RoundRobin   = "round-robin"
	Random       = "random"
	Oracle       = "oracle"
)

// Strategies returns every strategy in report order: Meridian's first, then
// the baselines.
func Strategies() []string {
	var out []string
	for _, s := range routing.Strategies() {
		out = append(out, s.String())
	}
	return append(out, InRegionOnly, RoundRobin, Random, Oracle)
}

// Meridian reports whether name is one of Meridian's routing strategies
// (driven through package routing) rather than a baseline.
func Meridian(name string) bool {
	s, err := routing.ParseStrategy(name)
	return err == nil && s != routing.StrategyUnset
}

// maxOrder bounds the destinations one request may consider.
const maxOrder = 16

type evKind uint8

const (
	evArrival       evKind = iota // a: traffic stream
	evAttemptArrive               // req reaches destination a
	evBackendDone                 // req's successful attempt at a ends
	evResult                      // a failed attempt's outcome reaches the source
	evExchange                    // node a publishes its snapshot
	evDeliver                     // snap reaches node a
	evScenario                    // scenario event a
	evQueueTimeout                // req's wait with sequence number a ends
	evRetry                       // req's client retries after its Retry-After
)

type event struct {
	at   int64
	seq  uint64
	kind evKind
	a    int32
	req  *request
	out  routing.Outcome
	snap *routing.Snapshot
}

// request is one client request in flight.
type request struct {
	stream         int // the traffic it belongs to
	src            int
	arrival        int64
	prompt, output int
	z              float64 // jitter draw, shared by every strategy
	order          [maxOrder]int8
	n, next        int8
	attempts       int8
	attemptStart   int64
	lastKind       routing.OutcomeKind
	srcAttempt     routing.Attempt // Meridian: the source node's attempt
	dstAttempt     routing.Attempt // Meridian: the destination node's attempt
	dstStarted     bool
	firstToken     int64
	queued         bool  // waiting in its source node's admission queue
	queueSeq       int32 // matches the pending evQueueTimeout
	queueDeadline  int64 // set when the request first waits
	everQueued     bool
	woken          bool  // woken from the queue: waits again at its head
	queuedAt       int64 // when the current wait began
	waited         int64 // total time spent queued
	retryAfter     int64 // the Retry-After of its last 429
	retry          bool  // the client's one retry after a 429
	tier           inference.ServiceTier
}

// node is the Meridian node of one region.
type node struct {
	region  int
	down    bool
	tracker *routing.Tracker
	rng     *rand.Rand
	pcg     *rand.PCG
	plan    routing.Plan
	states  []routing.State
	rr      int
	waiting []*request // admission queue, FIFO; entries no longer queued are skipped
	queue   routing.Standing
}

type world struct {
	sc       *Scenario
	strategy string
	meridian bool
	opts     routing.Options
	epoch    time.Time
	now      int64
	seq      uint64
	events   eventHeap

	regions   []string
	regionIdx map[string]int
	rtt       [][]int64  // ns
	backends  []*backend // by region; nil where the model is not deployed
	nodes     []*node
	dests     []string // profile destinations
	destIdx   []int
	isDest    []bool
	// srcDests, srcDestIdx and srcIsDest are the destinations per source
	// region index, when the profile sets them per source; nil entries
	// use dests.
	srcDests   [][]string
	srcDestIdx [][]int
	srcIsDest  [][]bool
	traffic    []*arrivals
	tokenRNG   []*rand.Rand
	// lacking names, per region, the capabilities its deployment lacks;
	// a request whose traffic uses one skips it (see capable).
	lacking   map[string][]string
	end       int64
	maxTries  int
	deadline  int64
	timeout   int64
	queueMax  int
	queueWait int64 // queue.timeout: the longest any wait may be
	maxWait   int64 // the wait budget (queue.max_wait)
	stats     *collector
}

// Now implements [routing.Clock] with simulated time.
func (w *world) Now() time.Time { return w.epoch.Add(time.Duration(w.now)) }

func (w *world) schedule(e event) {
	w.seq++
	e.seq = w.seq
	w.events.push(e)
}

// Run simulates sc under one strategy with seed (zero: the scenario's) and
// returns the result. It stops early with ctx's error when ctx ends.
func Run(ctx context.Context, sc *Scenario, strategy string, seed uint64) (*Result, error) {
	w, err := newWorld(sc, strategy, seed)
	if err != nil {
		return nil, err
	}
	for n := 0; len(w.events) > 0; n++ {
		if n&0xffff == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		e := w.events.pop()
		w.now = e.at
		w.handle(e)
	}
	return w.stats.result(strategy, w.regions), nil
}

func newWorld(sc *Scenario, strategy string, seed uint64) (*world, error) {
	if seed == 0 {
		seed = max(sc.Seed, 1)
	}
	known := slices.Contains(Strategies(), strategy)
	if !known {
		return nil, fmt.Errorf("unknown strategy %q (known: %v)", strategy, Strategies())
	}
	w := &world{
		sc:        sc,
		strategy:  strategy,
		meridian:  Meridian(strategy),
		epoch:     time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(sc.StartHour * float64(time.Hour))),
		regionIdx: map[string]int{},
		end:       int64(sc.Duration.D()),
		timeout:   int64(sc.attemptTimeout()),
		stats:     &collector{},
	}
	w.opts = sc.Routing.Options(sc.Profile.ID)
	if w.meridian {
		st, _ := routing.ParseStrategy(strategy)
		w.opts.Strategy = st
	}
	w.maxTries = min(w.opts.MaxAttempts, maxOrder)
	qmax, qwait := sc.Routing.QueueLimits()
	w.queueMax, w.queueWait = qmax, int64(qwait)
	w.maxWait = int64(min(w.opts.QueueMaxWait, qwait))
	w.deadline = int64(w.opts.FailoverDeadline)

	locs := map[string]routing.Location{}
	for i, r := range sc.Regions {
		w.regions = append(w.regions, r.ID)
		w.regionIdx[r.ID] = i
		locs[r.ID] = r.Location
	}
	matrix := routing.NewRTTMatrix(locs)
	for _, r := range sc.RTT {
		matrix.Set(r.Between[0], r.Between[1], r.RTT.D())
	}
	n := len(w.regions)
	w.rtt = make([][]int64, n)
	for i := range n {
		w.rtt[i] = make([]int64, n)
		for j := range n {
			w.rtt[i][j] = int64(matrix.RTT(w.regions[i], w.regions[j]))
		}
	}
	w.isDest = make([]bool, n)
	for _, d := range sc.Profile.Destinations {
		if !w.isDest[w.regionIdx[d]] {
			w.dests = append(w.dests, d)
			w.destIdx = append(w.destIdx, w.regionIdx[d])
			w.isDest[w.regionIdx[d]] = true
		}
	}
	w.srcDests, w.srcDestIdx, w.srcIsDest = make([][]string, n), make([][]int, n), make([][]bool, n)
	for src, ds := range sc.Profile.Sources {
		si, ok := w.regionIdx[src]
		if !ok {
			continue
		}
		w.srcIsDest[si] = make([]bool, n)
		for _, d := range ds {
			if di, ok := w.regionIdx[d]; ok && !w.srcIsDest[si][di] {
				w.srcDests[si] = append(w.srcDests[si], d)
				w.srcDestIdx[si] = append(w.srcDestIdx[si], di)
				w.srcIsDest[si][di] = true
			}
		}
	}
	model := cmp.Or(sc.Model, "model")
	w.backends = make([]*backend, n)
	var deps []routing.Deployment
	for i, d := range sc.Deployments {
		ri := w.regionIdx[d.Region]
		if d.Capabilities != nil {
			if w.lacking == nil {
				w.lacking = map[string][]string{}
			}
			for _, c := range topology.KnownCapabilities {
				if c == topology.CapabilityChat && topology.Generates(d.Capabilities) {
					continue // a list need not name chat to have it
				}
				if !slices.Contains(d.Capabilities, c) {
					w.lacking[d.Region] = append(w.lacking[d.Region], c)
				}
			}
		}
		w.backends[ri] = &backend{cfg: d, region: ri, factor: 1, rng: rand.New(rand.NewPCG(seed, 0x100+uint64(i)))}
		deps = append(deps, routing.Deployment{
			Key:            routing.Key{Region: d.Region, Model: model},
			MaxConcurrency: d.Capacity.MaxConcurrency, RPM: d.Capacity.RPM, TPM: d.Capacity.TPM,
		})
	}
	interval := int64(sc.exchangeInterval())
	for i, r := range w.regions {
		pcg := rand.NewPCG(seed, 0x200+uint64(i))
		nd := &node{region: i, pcg: pcg, rng: rand.New(pcg)}
		if w.meridian {
			tr, err := routing.NewTracker(routing.TrackerConfig{Region: r, Deployments: deps, Seed: seed + uint64(i)}, w)
			if err != nil {
				return nil, err
			}
			nd.tracker = tr
			// Stagger nodes across the interval, as independent nodes are.
			w.schedule(event{at: int64(i) * interval / int64(n), kind: evExchange, a: int32(i)})
		}
		w.nodes = append(w.nodes, nd)
	}
	for i := range sc.Traffic {
		t := &sc.Traffic[i]
		src := w.regionIdx[t.Source]
		rng := rand.New(rand.NewPCG(seed, 0x300+uint64(i)))
		a := newArrivals(t, rng, sc.StartHour, sc.Regions[src].UTCOffset)
		w.traffic = append(w.traffic, a)
		w.tokenRNG = append(w.tokenRNG, rand.New(rand.NewPCG(seed, 0x400+uint64(i))))
		if at, ok := a.next(0, time.Duration(w.end)); ok {
			w.schedule(event{at: int64(at), kind: evArrival, a: int32(i)})
		}
	}
	for i, e := range sc.Events {
		w.schedule(event{at: int64(e.At.D()), kind: evScenario, a: int32(i)})
	}
	return w, nil
}

func (w *world) handle(e event) {
	switch e.kind {
	case evArrival:
		w.arrive(int(e.a))
	case evAttemptArrive:
		w.attemptArrive(e.req, int(e.a))
	case evBackendDone:
		w.backendDone(e.req, int(e.a), e.out)
	case evResult:
		w.result(e.req, int(e.a), e.out)
	case evExchange:
		w.exchange(int(e.a))
	case evDeliver:
		if nd := w.nodes[e.a]; !nd.down {
			_ = nd.tracker.Apply(*e.snap)
			w.notify(int(e.a)) // the peer may have capacity again
		}
	case evQueueTimeout:
		if r := e.req; r.queued && r.queueSeq == e.a {
			w.unqueue(r)
			wait, _ := w.predict(r, 0)
			w.reject(r, wait)
		}
	case evRetry:
		w.retry(e.req)
	case evScenario:
		w.scenarioEvent(w.sc.Events[e.a])
	}
}

func (w *world) arrive(stream int) {
	t := w.traffic[stream]
	if at, ok := t.next(time.Duration(w.now), time.Duration(w.end)); ok {
		w.schedule(event{at: int64(at), kind: evArrival, a: int32(stream)})
	}
	rng := w.tokenRNG[stream]
	r := &request{
		stream:  stream,
		src:     w.regionIdx[t.t.Source],
		arrival: w.now,
		prompt:  t.t.PromptTokens.sample(rng),
		output:  t.t.OutputTokens.sample(rng),
		z:       rng.NormFloat64(),
	}
	r.tier, _ = inference.ParseServiceTier(t.t.Tier)
	w.stats.arrived(r)
	w.stats.requests++
	if w.nodes[r.src].down {
		// The client cannot reach its own region's node.
		w.finish(r, false, routing.ConnectError)
		return
	}
	w.order(r)
	w.tryNext(r)
}

func (r *request) tokens() int { return r.prompt + r.output }

// destsFrom returns the destinations a request from source index src may
// use: its per-source set when the profile gives one, else the profile's.
func (w *world) destsFrom(src int) ([]string, []int) {
	if w.srcIsDest[src] != nil {
		return w.srcDests[src], w.srcDestIdx[src]
	}
	return w.dests, w.destIdx
}

// reaches reports whether a request from src may be served in d.
func (w *world) reaches(src, d int) bool {
	if w.srcIsDest[src] != nil {
		return w.srcIsDest[src][d]
	}
	return w.isDest[d]
}

// order fills r.order with the destinations to try, by strategy.
func (w *world) order(r *request) {
	nd := w.nodes[r.src]
	add := func(i int) {
		if int(r.n) < maxOrder {
			r.order[r.n] = int8(i)
			r.n++
		}
	}
	switch w.strategy {
	case InRegionOnly:
		if w.backends[r.src] != nil {
			add(r.src)
		}
	case RoundRobin:
		_, idx := w.destsFrom(r.src)
		k := len(idx)
		for j := range k {
			add(idx[(nd.rr+j)%k])
		}
		nd.rr++
	case Random:
		_, idx := w.destsFrom(r.src)
		for _, d := range idx {
			add(d)
		}
		o := r.order[:r.n]
		nd.rng.Shuffle(len(o), func(i, j int) { o[i], o[j] = o[j], o[i] })
	case Oracle:
		w.oracleOrder(r)
	default:
		w.route(r)
	}
}

// route plans with package routing, as the gateway does.
func (w *world) route(r *request) {
	nd := w.nodes[r.src]
	model := cmp.Or(w.sc.Model, "model")
	dests, _ := w.destsFrom(r.src)
	nd.states = nd.tracker.States(nd.states[:0], model, dests)
	in := routing.Input{
		SourceRegion:    w.regions[r.src],
		Destinations:    dests,
		States:          nd.states,
		Authorized:      authorizeAll,
		Capable:         w.capable(r),
		RTT:             w,
		EstimatedTokens: r.tokens(),
		Options:         w.opts,
		Rand:            nd.pcg,
		Now:             w.Now(),
	}
	if err := routing.Route(&nd.plan, &in); err != nil {
		return
	}
	for _, c := range nd.plan.Candidates() {
		if int(r.n) == maxOrder {
			break
		}
		r.order[r.n] = int8(w.regionIdx[c.Region])
		r.n++
	}
}

func authorizeAll(string) bool { return true }

// capable returns the routing filter for r's traffic, or nil when it uses
// no capability some deployment lacks.
func (w *world) capable(r *request) func(string) bool {
	uses := w.traffic[r.stream].t.Uses
	if w.lacking == nil {
		return nil
	}
	// Traffic that is not embeddings generates text, which an
	// embeddings-only deployment lacks: even traffic that uses nothing
	// needs the filter.
	generates := !slices.Contains(uses, topology.CapabilityEmbeddings)
	return func(region string) bool {
		if generates && slices.Contains(w.lacking[region], topology.CapabilityChat) {
			return false
		}
		for _, c := range uses {
			if slices.Contains(w.lacking[region], c) {
				return false
			}
		}
		return true
	}
}

// RTT implements [routing.RTTSource] from the scenario's matrix.
func (w *world) RTT(from, to string) time.Duration {
	i, ok1 := w.regionIdx[from]
	j, ok2 := w.regionIdx[to]
	if !ok1 || !ok2 {
		return routing.UnknownRTT
	}
	return time.Duration(w.rtt[i][j])
}

// oracleOrder ranks destinations by the true state: admissible first, then
// by expected TTFT including RTT.
func (w *world) oracleOrder(r *request) {
	type option struct {
		idx  int
		ok   bool
		cost float64
	}
	var opts [maxOrder]option
	k := 0
	_, idx := w.destsFrom(r.src)
	for _, d := range idx {
		b := w.backends[d]
		if b == nil || k == maxOrder {
			continue
		}
		ok, _ := b.free(w.now, r.tokens())
		ok = ok && !w.nodes[d].down
		cost := float64(w.rtt[r.src][d]) + float64(b.ttft(r.prompt, 0))
		opts[k] = option{d, ok, cost}
		k++
	}
	o := opts[:k]
	slices.SortStableFunc(o, func(a, b option) int {
		if a.ok != b.ok {
			if a.ok {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.cost, b.cost)
	})
	for _, x := range o {
		r.order[r.n] = int8(x.idx)
		r.n++
	}
}

// tryNext starts the next attempt of r within the failover budget, or
// finishes r.
func (w *world) tryNext(r *request) {
	for r.next < r.n && int(r.attempts) < w.maxTries {
		if r.attempts > 0 && w.now-r.arrival >= w.deadline {
			break
		}
		d := int(r.order[r.next])
		r.next++
		if _, full := w.atCapacity(d, r.tokens()); w.meridian && d == r.src && full {
			continue // the deployment's quota capacity is taken: skipped, as the gateway does
		}
		if w.meridian {
			a, err := w.nodes[r.src].tracker.Start(w.key(d), r.tokens())
			if err != nil {
				continue // the probe was taken or a cooldown began since planning
			}
			r.srcAttempt = a
		}
		r.attempts++
		r.attemptStart = w.now
		w.schedule(event{at: w.now + w.rtt[r.src][d]/2, kind: evAttemptArrive, a: int32(d), req: r})
		return
	}
	w.giveUp(r)
}

// giveUp ends a request that has no attempt left. When nothing could take
// it (its plan was empty), a Meridian node predicts its wait
// (routing.PredictWait, with the requests already waiting ahead of it) and
// queues it only if that fits the wait budget; otherwise it answers 429 at
// once with the predicted wait as Retry-After, as the gateway does. A
// request whose attempts were all throttled ends in 429 with the last
// Retry-After, as in the gateway (it queues only an empty plan); anything
// else fails.
func (w *world) giveUp(r *request) {
	nd := w.nodes[r.src]
	if w.meridian && w.queueMax > 0 && r.attempts == 0 {
		all := w.live(nd)
		lane := w.priorityLane(nd) // the waiters of the priority lane, at the head
		ahead := all
		if r.tier == inference.TierPriority {
			ahead = lane // only the priority lane is ahead of it
		}
		if r.woken {
			ahead = 0 // it keeps its turn at the head (of its lane)
		}
		wait, ok := w.predict(r, ahead)
		if !ok || r.tier == inference.TierFlex {
			// Flex is served from spare capacity only: it never waits.
			w.reject(r, wait)
			return
		}
		deadline := r.queueDeadline
		if deadline == 0 {
			deadline = w.now + w.maxWait
		}
		standing := !r.woken && r.tier != inference.TierPriority && nd.queue.Standing()
		if w.now+wait > deadline || w.now >= deadline || all >= w.queueMax || standing {
			w.reject(r, wait)
			return
		}
		if !r.everQueued && !r.retry {
			w.stats.queued++
		}
		r.everQueued = true
		r.queueDeadline = deadline
		r.queued = true
		r.queuedAt = w.now
		r.queueSeq++
		switch {
		case r.woken && r.tier == inference.TierPriority:
			nd.waiting = slices.Insert(nd.waiting, 0, r)
		case r.woken || r.tier == inference.TierPriority:
			nd.waiting = slices.Insert(nd.waiting, lane, r) // the head of the default lane
		default:
			nd.waiting = append(nd.waiting, r)
		}
		w.schedule(event{at: r.queueDeadline, kind: evQueueTimeout, a: r.queueSeq, req: r})
		w.dropHopeless(nd)
		return
	}
	w.finish(r, false, r.lastKind)
}

// priorityLane returns how many priority requests wait at the head of nd's
// (compacted) queue, as routing.Queue keeps them.
func (w *world) priorityLane(nd *node) int {
	n := 0
	for n < len(nd.waiting) && nd.waiting[n].tier == inference.TierPriority {
		n++
	}
	return n
}

// live returns how many requests wait at nd, compacting its queue.
func (w *world) live(nd *node) int {
	nd.waiting = slices.DeleteFunc(nd.waiting, func(r *request) bool { return !r.queued })
	if len(nd.waiting) == 0 {
		nd.queue.Empty()
	}
	return len(nd.waiting)
}

// dropHopeless answers 429 at once to the waiters at the tail of nd's queue
// whose predicted wait (with the waiters ahead of each) no longer fits what
// is left of their budget, instead of at their deadline.
func (w *world) dropHopeless(nd *node) {
	for n := w.live(nd); n > 0; n-- {
		r := nd.waiting[n-1]
		wait, ok := w.predict(r, n-1)
		if ok && w.now+wait <= r.queueDeadline {
			return
		}
		nd.waiting = nd.waiting[:n-1]
		w.unqueue(r)
		w.reject(r, wait)
	}
}

// predict runs routing.PredictWait for r at its source node.
func (w *world) predict(r *request, ahead int) (int64, bool) {
	nd := w.nodes[r.src]
	model := cmp.Or(w.sc.Model, "model")
	nd.states = nd.tracker.States(nd.states[:0], model, w.dests)
	in := routing.Input{
		SourceRegion:    w.regions[r.src],
		Destinations:    w.dests,
		States:          nd.states,
		Authorized:      authorizeAll,
		RTT:             w,
		EstimatedTokens: r.tokens(),
		Options:         w.opts,
		Now:             w.Now(),
	}
	_ = routing.Route(&nd.plan, &in)
	d, ok := routing.PredictWait(&in, &nd.plan, ahead)
	return int64(d), ok
}

func (w *world) unqueue(r *request) {
	r.queued = false
	r.waited += w.now - r.queuedAt
	nd := w.nodes[r.src]
	nd.queue.Left(w.Now(), time.Duration(r.waited), w.live(nd))
}

// reject answers r 429 with Retry-After wait (at least 1s, whole seconds).
func (w *world) reject(r *request, wait int64) {
	r.retryAfter = wait
	w.finish(r, false, routing.Throttled)
}

// notify wakes the oldest request waiting at node i (routing.Queue.Notify):
// it re-plans with a fresh attempt budget.
func (w *world) notify(i int) {
	nd := w.nodes[i]
	for len(nd.waiting) > 0 {
		r := nd.waiting[0]
		nd.waiting[0] = nil
		nd.waiting = nd.waiting[1:]
		if !r.queued {
			continue // timed out already
		}
		w.unqueue(r)
		r.woken = true
		r.n, r.next, r.attempts = 0, 0, 0
		w.order(r)
		w.tryNext(r)
		w.dropHopeless(nd)
		return
	}
}

// retry is the client's one retry of a throttled request after its
// Retry-After.
func (w *world) retry(r *request) {
	r.retry = true
	r.n, r.next, r.attempts = 0, 0, 0
	r.queueDeadline, r.woken, r.lastKind = 0, false, 0
	if w.nodes[r.src].down {
		w.finish(r, false, routing.ConnectError)
		return
	}
	w.order(r)
	w.tryNext(r)
}

func (w *world) key(region int) routing.Key {
	return routing.Key{Region: w.regions[region], Model: cmp.Or(w.sc.Model, "model")}
}

// attemptArrive runs an attempt at destination d.
func (w *world) attemptArrive(r *request, d int) {
	half := w.rtt[r.src][d] / 2
	reply := func(after int64, o routing.Outcome) {
		w.schedule(event{at: w.now + after + half, kind: evResult, a: int32(d), req: r, out: o})
	}
	if d != r.src && w.nodes[d].down {
		reply(half+int64(time.Millisecond), routing.Outcome{Kind: routing.ConnectError})
		return
	}
	dst := w.nodes[d]
	r.dstStarted = false
	if w.meridian && d != r.src {
		// The destination node admits the forwarded request against the
		// deployment's capacity (the quota store, exact) and through its
		// own tracker, as its gateway does.
		if retry, full := w.atCapacity(d, r.tokens()); full {
			reply(int64(time.Millisecond), routing.Outcome{Kind: routing.Throttled, RetryAfter: retry})
			return
		}
		a, err := dst.tracker.Start(w.key(d), r.tokens())
		if err != nil {
			s, _ := dst.tracker.State(w.key(d))
			reply(int64(time.Millisecond), routing.Outcome{Kind: routing.Throttled, RetryAfter: max(s.CooldownUntil.Sub(w.Now()), 0)})
			return
		}
		r.dstAttempt, r.dstStarted = a, true
	}
	b := w.backends[d]
	ok, kind, retry := b.admit(w.now, r.tokens())
	if !ok {
		o := routing.Outcome{Kind: kind, RetryAfter: retry}
		var after int64
		switch kind {
		case routing.Timeout:
			after = max(w.timeout-2*half, 0)
		case routing.ServerError:
			after = int64(50 * time.Millisecond)
		default:
			after = int64(5 * time.Millisecond)
		}
		if r.dstStarted {
			dst.tracker.Observe(r.dstAttempt, o)
			r.dstStarted = false
		}
		reply(after, o)
		return
	}
	ttft := b.ttft(r.prompt, r.z)
	b.inFlight++
	r.firstToken = w.now + int64(ttft) + half
	w.schedule(event{
		at: w.now + int64(ttft+b.generation(r.output)), kind: evBackendDone, a: int32(d), req: r,
		out: routing.Outcome{Kind: routing.Success, TTFT: ttft},
	})
}

// atCapacity reports whether node d's own deployment has its configured
// capacity (concurrency, RPM, TPM) taken: the gateway's quota store refuses
// the attempt before the backend sees it, and the deployment is not cooled
// down for it. retry is the Retry-After the destination answers a
// forwarded request with, as the quota store does: 250ms for concurrency
// (a slot frees as soon as a request ends), 1s for a used-up window.
func (w *world) atCapacity(d int, tokens int) (retry time.Duration, full bool) {
	if !w.meridian {
		return 0, false
	}
	s, ok := w.nodes[d].tracker.State(w.key(d))
	switch {
	case !ok:
		return 0, false
	case s.MaxConcurrency > 0 && s.InFlight >= s.MaxConcurrency:
		return 250 * time.Millisecond, true
	case (s.RPMLimit > 0 && s.RPMRemaining < 1) || (s.TPMLimit > 0 && s.TPMRemaining < tokens):
		return time.Second, true
	}
	return 0, false
}

// backendDone ends a successful attempt: the backend frees its slot, both
// nodes observe the success, the client has its answer half an RTT later.
func (w *world) backendDone(r *request, d int, o routing.Outcome) {
	w.backends[d].inFlight--
	if r.dstStarted {
		w.nodes[d].tracker.Observe(r.dstAttempt, o)
	}
	if w.meridian {
		w.nodes[r.src].tracker.Observe(r.srcAttempt, o)
	}
	w.stats.served(r, d, w.now+w.rtt[r.src][d]/2, w)
	if w.meridian {
		// A slot freed: the nodes' queues re-plan their oldest waiter.
		w.notify(r.src)
		if d != r.src {
			w.notify(d)
		}
	}
}

// result handles a failed attempt's outcome at the source node.
func (w *world) result(r *request, d int, o routing.Outcome) {
	if w.meridian {
		w.nodes[r.src].tracker.Observe(r.srcAttempt, o)
	}
	r.lastKind = o.Kind
	if o.Kind == routing.Throttled {
		r.retryAfter = int64(o.RetryAfter)
	}
	w.tryNext(r)
}

// finish ends r unserved. A throttled first try is retried once by its
// client after the Retry-After (rounded up to whole seconds, as the header
// carries it; at least 1s).
func (w *world) finish(r *request, ok bool, kind routing.OutcomeKind) {
	w.stats.ended(r)
	if r.retry {
		w.stats.retryFailed++
		return
	}
	if r.attempts == 0 || kind == routing.Throttled {
		w.stats.throttled++
		w.stats.tierThrot[tierIndex(r.tier)]++
		ra := max((r.retryAfter+int64(time.Second)-1)/int64(time.Second), 1) * int64(time.Second)
		w.schedule(event{at: w.now + ra, kind: evRetry, req: r})
		return
	}
	w.stats.failed++
}

// exchange publishes node i's snapshot to every peer after half an RTT.
func (w *world) exchange(i int) {
	nd := w.nodes[i]
	next := w.now + int64(w.sc.exchangeInterval())
	if next < w.end+int64(time.Minute) {
		w.schedule(event{at: next, kind: evExchange, a: int32(i)})
	}
	if nd.down {
		return
	}
	snap := nd.tracker.Snapshot()
	for j := range w.nodes {
		if j != i {
			w.schedule(event{at: w.now + w.rtt[i][j]/2, kind: evDeliver, a: int32(j), snap: &snap})
		}
	}
}

func (w *world) scenarioEvent(e Event) {
	ri := w.regionIdx[e.Region]
	b := w.backends[ri]
	switch e.Kind {
	case "outage":
		switch e.Mode {
		case "node":
			w.nodes[ri].down = true
			if b != nil {
				b.down = downConnect
			}
		case "timeout":
			if b != nil {
				b.down = downTimeout
			}
		default:
			if b != nil {
				b.down = downConnect
			}
		}
	case "throttle":
		if b != nil {
			b.factor = e.Factor
		}
	case "recover":
		w.nodes[ri].down = false
		if b != nil {
			b.down, b.factor = up, 1
		}
	}
}
