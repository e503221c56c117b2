package routing

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Deployment is a deployment the [Tracker] follows, with its configured
// capacity (zero means no such limit).
type Deployment struct {
	Key
	MaxConcurrency int
	RPM            int
	TPM            int
}

// TrackerConfig configures a [Tracker]. Zero fields take the documented
// defaults.
type TrackerConfig struct {
	// Region is this node's region: its deployments are local, measured
	// here and published in [Tracker.Snapshot]; the others are learned from
	// peers' snapshots and from this node's own attempts.
	Region string
	// Deployments lists every deployment this node may route to.
	Deployments []Deployment
	// TTFTWeight is the EWMA weight of a new TTFT sample. If zero, 0.2.
	TTFTWeight float64
	// ErrorWeight is the EWMA weight of a new success/failure sample. If
	// zero, 0.1.
	ErrorWeight float64
	// FailureThreshold is the number of consecutive failures that opens the
	// circuit. If zero, 3.
	FailureThreshold int
	// FailureBackoff is the cooldown after a first failure, doubled per
	// consecutive failure. If zero, 250ms.
	FailureBackoff time.Duration
	// ThrottleBackoff is the cooldown after a 429 without Retry-After,
	// doubled per consecutive 429. If zero, 250ms: such a 429 usually means
	// "all slots busy", and a slot frees as soon as any request ends.
	ThrottleBackoff time.Duration
	// MaxBackoff caps every computed cooldown (not Retry-After), and so how
	// long a failed deployment waits for its next probe. If zero, 30s.
	MaxBackoff time.Duration
	// RampUp is how long traffic takes to ramp back to a full share after a
	// circuit closes. If zero, 10s.
	RampUp time.Duration
	// Seed seeds the back-off jitter, for deterministic simulation.
	Seed uint64
}

func (c *TrackerConfig) withDefaults() {
	c.TTFTWeight = firstNonZero(c.TTFTWeight, 0.2)
	c.ErrorWeight = firstNonZero(c.ErrorWeight, 0.1)
	c.FailureThreshold = firstNonZero(c.FailureThreshold, 3)
	c.FailureBackoff = firstNonZero(c.FailureBackoff, 250*time.Millisecond)
	c.ThrottleBackoff = firstNonZero(c.ThrottleBackoff, 250*time.Millisecond)
	c.MaxBackoff = firstNonZero(c.MaxBackoff, 30*time.Second)
	c.RampUp = firstNonZero(c.RampUp, 10*time.Second)
}

// Tracker follows the health and load of deployments: EWMAs of TTFT and error
// rate, in-flight counts, RPM/TPM windows, cooldowns and circuit breakers. It
// turns them into the [State]s that [Route] reads, publishes the local ones
// as a [Snapshot] and merges peers' snapshots.
//
// A Tracker is safe for concurrent use. Each deployment has its own lock, so
// the hot path (States, Start, Observe) contends only per deployment. The set
// of deployments is fixed at construction; build a new Tracker on topology
// reload.
type Tracker struct {
	cfg    TrackerConfig
	clock  Clock
	byKey  map[Key]*deployment
	local  []*deployment // in configuration order, for Snapshot
	jitter atomic.Uint64
}

// deployment is one tracked deployment; mu guards everything below it.
type deployment struct {
	Deployment
	isLocal bool

	mu         sync.Mutex
	inFlight   int
	queueDepth int
	ttft       float64 // EWMA in ns; 0 = no sample
	service    float64 // EWMA of successful attempts' durations in ns; 0 = no sample
	errRate    float64
	failures   int // consecutive failures (opens the circuit)
	// level is the back-off escalation: it rises once per incident, not
	// once per request that was already in flight when the incident began,
	// so a burst of concurrent failures does not jump straight to
	// MaxBackoff. incidentAt is when the current cooldown was set.
	level         int
	incidentAt    time.Time
	circuit       CircuitState
	probeInFlight bool
	cooldownUntil time.Time
	throttled     bool      // the last setback was a 429, not a failure (State.Throttled)
	closedAt      time.Time // when the circuit last closed, for the ramp
	win           window    // local only

	remote      State // the peer's last report; remote only
	hasRemote   bool
	sentSince   int // attempts started since the last report (RPM)
	tokensSince int
	// A remote deployment's in-flight is estimated as the last report's,
	// minus this node's attempts that began before the report and have
	// ended since (endedSince), plus this node's attempts begun since the
	// report and still running (liveSince). A short request thus stops
	// counting when it ends, not at the next report, and an attempt the
	// report never saw (hung, lost) does not inflate it. epoch counts
	// applied reports.
	epoch      uint64
	liveSince  int
	endedSince int
}

// NewTracker returns a tracker of cfg.Deployments reading time from clock.
func NewTracker(cfg TrackerConfig, clock Clock) (*Tracker, error) {
	if clock == nil {
		return nil, fmt.Errorf("new tracker: nil clock")
	}
	cfg.withDefaults()
	t := &Tracker{cfg: cfg, clock: clock, byKey: make(map[Key]*deployment, len(cfg.Deployments))}
	t.jitter.Store(cfg.Seed)
	for _, d := range cfg.Deployments {
		if _, dup := t.byKey[d.Key]; dup {
			return nil, fmt.Errorf("new tracker: deployment %s listed twice", d.Key)
		}
		x := &deployment{Deployment: d, isLocal: d.Region == cfg.Region}
		t.byKey[d.Key] = x
		if x.isLocal {
			t.local = append(t.local, x)
		}
	}
	return t, nil
}

// Attempt is a started attempt at a deployment, returned by [Tracker.Start]
// and passed back to [Tracker.Observe] exactly once.
type Attempt struct {
	Key Key
	// Probe reports whether this attempt is the deployment's half-open probe.
	Probe   bool
	Started time.Time
	d       *deployment
	epoch   uint64 // the deployment's report epoch when the attempt began
	tokens  int    // counted in the local window at Started
}

// States appends to dst the state of model's deployment in each region,
// aligned with regions (the layout [Input.States] prefers), and returns the
// extended slice. A region without a tracked deployment gets a State with
// only Region and Model set: unknown.
func (t *Tracker) States(dst []State, model string, regions []string) []State {
	now := t.clock.Now()
	for _, r := range regions {
		d, ok := t.byKey[Key{Region: r, Model: model}]
		if !ok {
			dst = append(dst, State{Region: r, Model: model})
			continue
		}
		d.mu.Lock()
		dst = append(dst, t.stateLocked(d, now))
		d.mu.Unlock()
	}
	return dst
}

// State returns the state of one deployment, or false if it is not tracked.
func (t *Tracker) State(k Key) (State, bool) {
	d, ok := t.byKey[k]
	if !ok {
		return State{}, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return t.stateLocked(d, t.clock.Now()), true
}

// stateLocked builds d's state: measured for a local deployment, the peer's
// report corrected by this node's own attempts and observations otherwise.
func (t *Tracker) stateLocked(d *deployment, now time.Time) State {
	var s State
	if d.isLocal {
		d.win.advance(now.Unix())
		s = State{
			InFlight:       d.inFlight,
			MaxConcurrency: d.MaxConcurrency,
			QueueDepth:     d.queueDepth,
			RPMLimit:       d.RPM,
			RPMRemaining:   max(d.RPM-d.win.sumReq, 0),
			TPMLimit:       d.TPM,
			TPMRemaining:   max(d.TPM-d.win.sumTok, 0),
			TTFT:           time.Duration(d.ttft),
			ServiceTime:    time.Duration(d.service),
			ErrorRate:      d.errRate,
			Circuit:        d.circuit,
			CooldownUntil:  d.cooldownUntil,
			Throttled:      d.throttled,
			ObservedAt:     now,
		}
	} else {
		if d.hasRemote {
			s = d.remote
			// Attempts this node started since the report are not in it yet.
			s.InFlight = max(s.InFlight-d.endedSince, 0) + d.liveSince
			s.RPMRemaining = max(s.RPMRemaining-d.sentSince, 0)
			s.TPMRemaining = max(s.TPMRemaining-d.tokensSince, 0)
		} else {
			s = State{MaxConcurrency: d.MaxConcurrency, RPMLimit: d.RPM, TPMLimit: d.TPM, RPMRemaining: d.RPM, TPMRemaining: d.TPM}
		}
		if s.TTFT == 0 {
			s.TTFT = time.Duration(d.ttft)
		}
		if s.ServiceTime == 0 {
			s.ServiceTime = time.Duration(d.service)
		}
		s.ErrorRate = max(s.ErrorRate, d.errRate)
		if d.cooldownUntil.After(s.CooldownUntil) {
			s.CooldownUntil, s.Throttled = d.cooldownUntil, d.throttled
		}
		if d.circuit != CircuitClosed || s.Circuit == CircuitHalfOpen {
			// This node's own view of the circuit decides probes; a peer's
			// half-open probe is the peer's to run.
			s.Circuit = d.circuit
		}
	}
	s.Region, s.Model = d.Region, d.Model
	if !d.isLocal {
		s.OwnInFlight = d.inFlight // a local state is always fresh
	}
	s.ProbeInFlight = d.probeInFlight
	s.Ramp = t.rampLocked(d, now)
	return s
}

// rampLocked returns the traffic share in (0,1] after a circuit closed.
func (t *Tracker) rampLocked(d *deployment, now time.Time) float64 {
	if d.closedAt.IsZero() || d.circuit != CircuitClosed {
		return 1
	}
	since := now.Sub(d.closedAt)
	if since >= t.cfg.RampUp {
		return 1
	}
	return 0.1 + 0.9*float64(since)/float64(t.cfg.RampUp)
}

// Start records the start of an attempt carrying tokens (prompt plus expected
// output) at deployment k. It returns [ErrUnavailable] if the deployment may
// not be tried now: in cooldown, circuit open, or its single half-open probe
// already taken by another request (the plan was computed before that
// request started); the caller then moves to its next candidate. Every
// successful Start must be matched by one [Tracker.Observe].
func (t *Tracker) Start(k Key, tokens int) (Attempt, error) {
	d, ok := t.byKey[k]
	if !ok {
		return Attempt{}, fmt.Errorf("start %s: %w", k, ErrUnknownDeployment)
	}
	now := t.clock.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	a := Attempt{Key: k, Started: now, d: d}
	cooldown := d.cooldownUntil
	if d.hasRemote && d.remote.CooldownUntil.After(cooldown) {
		cooldown = d.remote.CooldownUntil
	}
	if now.Before(cooldown) {
		return Attempt{}, fmt.Errorf("start %s: cooldown until %s: %w", k, cooldown.Format(time.RFC3339Nano), ErrUnavailable)
	}
	if d.circuit != CircuitClosed {
		if d.probeInFlight {
			return Attempt{}, fmt.Errorf("start %s: probe in flight: %w", k, ErrUnavailable)
		}
		d.circuit = CircuitHalfOpen
		d.probeInFlight = true
		a.Probe = true
	}
	d.inFlight++
	if d.isLocal {
		d.win.add(now.Unix(), tokens)
		a.tokens = tokens
	} else {
		d.sentSince++
		d.tokensSince = satAdd(d.tokensSince, max(tokens, 0))
		d.liveSince++
		a.epoch = d.epoch
	}
	return a, nil
}

// ProbeRetryAfter is the shortest Retry-After that makes a throttled
// deployment wait for a single probe once its cooldown ends.
const ProbeRetryAfter = time.Second

// Observe records how attempt a ended and releases its in-flight slot (and
// its probe). Success feeds the TTFT EWMA, closes a half-open circuit and
// starts the ramp. Throttled cools the deployment down for its Retry-After,
// or for exponential back-off with jitter; a Retry-After of at least
// [ProbeRetryAfter] also opens the circuit, so one probe goes first when it
// ends. A failure (5xx, time-out, connect
// error) cools it down with back-off and, after FailureThreshold in a row or
// on a failed probe, opens the circuit. Canceled only releases the slot.
func (t *Tracker) Observe(a Attempt, o Outcome) {
	d := a.d
	if d == nil {
		return
	}
	now := t.clock.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.inFlight = max(d.inFlight-1, 0)
	if !d.isLocal {
		if a.epoch == d.epoch {
			d.liveSince = max(d.liveSince-1, 0)
		} else {
			d.endedSince++
		}
	}
	if a.Probe {
		d.probeInFlight = false
	}
	if d.isLocal && (o.Kind == Throttled || o.Kind == ConnectError) {
		// The provider refused the request (or never saw it): it used
		// none of the RPM/TPM window, and counting it would make an
		// overloaded deployment look used up while it still has room.
		d.win.remove(a.Started.Unix(), a.tokens)
	}
	switch k := o.Kind; {
	case k == Success:
		if o.TTFT > 0 {
			d.ttft = ewma(d.ttft, float64(o.TTFT), t.cfg.TTFTWeight)
		}
		if took := now.Sub(a.Started); took > 0 && !a.Started.IsZero() {
			d.service = ewma(d.service, float64(took), t.cfg.TTFTWeight)
		}
		d.errRate += t.cfg.ErrorWeight * (0 - d.errRate)
		d.failures, d.level = 0, 0
		d.throttled = false
		if d.circuit != CircuitClosed {
			d.circuit = CircuitClosed
			d.closedAt = now
		}
	case k == Throttled:
		t.escalate(d, a)
		cd := o.RetryAfter
		if cd <= 0 {
			cd = t.backoff(t.cfg.ThrottleBackoff, d.level)
		}
		d.cooldownUntil = laterOf(d.cooldownUntil, now.Add(cd))
		d.throttled = true
		// A Retry-After of a second or more is a rate-limit window: when it
		// ends, one probe goes first (half-open) rather than every waiting
		// request at once. Shorter waits (a slot about to free) stay plain
		// cooldowns, so saturation recovers at full speed.
		if a.Probe || o.RetryAfter >= ProbeRetryAfter {
			d.circuit = CircuitOpen
		}
	case k.Failure():
		d.errRate += t.cfg.ErrorWeight * (1 - d.errRate)
		d.failures++
		d.throttled = false
		t.escalate(d, a)
		d.cooldownUntil = laterOf(d.cooldownUntil, now.Add(t.backoff(t.cfg.FailureBackoff, d.level)))
		if a.Probe || d.failures >= t.cfg.FailureThreshold {
			d.circuit = CircuitOpen
		}
	}
}

// escalate raises d's back-off level for a failed attempt, unless the
// attempt began before the current incident did (it was already in flight
// when the deployment started failing: the same incident, not a new one).
func (t *Tracker) escalate(d *deployment, a Attempt) {
	if d.level > 0 && a.Started.Before(d.incidentAt) {
		return
	}
	d.level++
	d.incidentAt = t.clock.Now()
}

// backoff returns base·2^(n-1), capped at MaxBackoff, with equal jitter: a
// uniform draw in [half, full], so that nodes do not retry in lockstep.
func (t *Tracker) backoff(base time.Duration, n int) time.Duration {
	d := float64(base) * math.Pow(2, float64(min(n-1, 30)))
	d = min(d, float64(t.cfg.MaxBackoff))
	u := float64(splitmix(t.jitter.Add(0x9e3779b97f4a7c15))>>11) / (1 << 53)
	return time.Duration(d/2 + u*d/2)
}

// CoolDown extends deployment k's cooldown to at least until: a cooldown
// learned from elsewhere (another replica of this region saw a 429, shared
// through the quota store, or the tracker a reload replaced). throttled
// says whether a 429 set it (State.Throttled) and holds when until is the
// later end. It never shortens a cooldown. Unknown keys are ignored.
func (t *Tracker) CoolDown(k Key, until time.Time, throttled bool) {
	if d, ok := t.byKey[k]; ok {
		d.mu.Lock()
		if until.After(d.cooldownUntil) {
			d.cooldownUntil, d.throttled = until, throttled
		}
		d.mu.Unlock()
	}
}

// SetQueueDepth records how many requests wait for deployment k (see
// [Queue]); it is published in the local snapshot. Unknown keys are ignored.
func (t *Tracker) SetQueueDepth(k Key, n int) {
	if d, ok := t.byKey[k]; ok {
		d.mu.Lock()
		d.queueDepth = n
		d.mu.Unlock()
	}
}

// ewma folds sample into old with weight w; an old of 0 means no sample yet.
func ewma(old, sample, w float64) float64 {
	if old == 0 {
		return sample
	}
	return old + w*(sample-old)
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// splitmix is SplitMix64's output function: a cheap, well-mixed hash.
func splitmix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
