package routing

import "time"

// Input is everything [Route] needs to plan one request. Route only reads it.
type Input struct {
	// SourceRegion is where the request entered.
	SourceRegion string
	// Destinations is the profile's destination set. Nothing outside it is
	// ever a candidate (invariant 1); duplicates are ignored.
	Destinations []string
	// States describes the destination deployments. States[i] should describe
	// Destinations[i] (what [Tracker.States] returns); otherwise the state is
	// found by region. A destination without a state is unknown: it is ranked
	// below every fresh candidate.
	States []State
	// Authorized reports whether the caller may invoke the model in a region
	// (invariant 2). Nil authorizes no region.
	Authorized func(region string) bool
	// Capable reports whether the deployment in a region has every
	// capability the request uses (see [capabilityFilter]). Nil: all do.
	Capable func(region string) bool
	// RTT gives round-trip times from SourceRegion. If nil, every other
	// region is [UnknownRTT] away.
	RTT RTTSource
	// EstimatedTokens is prompt plus expected output tokens, for the TPM
	// check.
	EstimatedTokens int
	// Options are the profile's settings ([Config.Options]).
	Options Options
	// Rand drives power-of-two-choices, weighted draws and the ramp draw. A
	// math/rand/v2 source (*rand.PCG, *rand.ChaCha8, *rand.Rand) fits; the
	// simulator passes a seeded one per node.
	Rand Rand
	// Seed, when Rand is nil, seeds a SplitMix64 generator on the stack: the
	// cheapest per-request randomness (no allocation), e.g. a hash of the
	// request id or a per-node counter. With neither Rand nor Seed, Route is
	// deterministic and always takes the best candidate; many nodes doing
	// that herd, so the gateway should set one.
	Seed uint64
	// Now is the time of the decision.
	Now time.Time
}

// Rand is a source of uniformly distributed random bits.
type Rand interface {
	Uint64() uint64
}

// Candidate is one destination of a [Plan]: a candidate to try (Exclusion ==
// Included) or a destination that was excluded.
type Candidate struct {
	Region string
	// Reason says why a candidate is at its position; ReasonNone when
	// excluded.
	Reason Reason
	// Exclusion says why the destination is not a candidate.
	Exclusion Exclusion
	// Score is the strategy's score in [0,1], higher is better.
	Score float64
	// Headroom is the scarcest free fraction of concurrency, RPM and TPM.
	Headroom float64
	// RTT is the round trip from the source region.
	RTT time.Duration
	// ExpectedTTFT is the TTFT EWMA plus RTT.
	ExpectedTTFT time.Duration
	// Fresh reports whether the state was known and within the staleness
	// bound.
	Fresh bool
	// Throttled reports, for a destination excluded as cooling down, with
	// its circuit open or its probe taken, that a 429 was its setback
	// (State.Throttled): it is full, not down.
	Throttled bool

	group int8    // ordering group: 0 preferred, 1 fresh, 2 stale
	ramp  float64 // State.Ramp, for the source region's ramp draw
}

// Probe reports whether trying the candidate is a half-open probe; the
// caller's [Tracker.Start] grants it to a single request.
func (c *Candidate) Probe() bool { return c.Reason == ReasonProbe }

// Plan is the outcome of [Route]: candidates in the order to try them, then
// the excluded destinations. The zero value is an empty plan; a Plan may be
// reused across calls to avoid allocation. It is not safe for concurrent use.
type Plan struct {
	// Strategy is the strategy that ordered the candidates.
	Strategy   Strategy
	entries    []Candidate
	n          int
	retryAfter time.Duration
	states     []State // Router.Plan's reusable buffer
}

// Candidates returns the destinations to try, best first. The caller tries at
// most [Options.MaxAttempts] of them within [Options.FailoverDeadline]. The
// slice is valid until the next [Route] into p.
func (p *Plan) Candidates() []Candidate { return p.entries[:p.n] }

// Excluded returns the destinations that must not be tried, each with its
// [Exclusion], in destination-set order.
func (p *Plan) Excluded() []Candidate { return p.entries[p.n:] }

// Empty reports whether the plan has no candidate.
func (p *Plan) Empty() bool { return p.n == 0 }

// WhyExcluded returns why region is not a candidate: [Included] if it is one,
// [ExcludedNotDestination] if it is not in the destination set at all.
func (p *Plan) WhyExcluded(region string) Exclusion {
	for i := range p.entries {
		if p.entries[i].Region == region {
			return p.entries[i].Exclusion
		}
	}
	return ExcludedNotDestination
}

// RetryAfter returns how long until an excluded destination is expected to
// have capacity again: the soonest end of a cooldown or circuit, or refill of
// an RPM/TPM window, at least one second. It is 0 when no exclusion is
// temporary (for example every destination is unauthorized). Use it for the
// Retry-After header of a 429 when nothing could serve the request.
func (p *Plan) RetryAfter() time.Duration { return p.retryAfter }

func (p *Plan) reset(n int) {
	if cap(p.entries) < n {
		p.entries = make([]Candidate, 0, n)
	}
	p.entries = p.entries[:0]
	p.n = 0
	p.retryAfter = 0
}

// Route fills p with the plan for in, reusing p's storage, and returns
// [ErrNoCandidate] when no destination may be tried (p then still lists the
// exclusions and [Plan.RetryAfter]). Route is pure: the same input and random
// sequence give the same plan. It is safe to call concurrently with distinct
// plans.
//
// The pipeline: every destination passes the filters ([Exclusion] order);
// survivors get a headroom, an expected TTFT and a strategy score in [0,1];
// they are ordered fresh before stale; the strategy picks the first and the
// reason of each is recorded.
func Route(p *Plan, in *Input) error {
	opts := &in.Options
	p.reset(len(in.Destinations))
	p.Strategy = opts.Strategy
	if p.Strategy == StrategyUnset {
		p.Strategy = LocalityFirst
	}
	staleness := opts.Staleness
	if staleness <= 0 {
		staleness = DefaultStaleness
	}
	var retry time.Duration
	wt := 0.0
	if p.Strategy == Weighted {
		wt = weightTotal(opts.Weights)
	}
	for i, region := range in.Destinations {
		if seen(in.Destinations[:i], region) {
			continue
		}
		s := stateFor(in, i, region)
		c := Candidate{Region: region, Fresh: s != nil && s.Fresh(in.Now, staleness)}
		if c.Exclusion = filter(in, p.Strategy, s, c.Fresh, region); c.Exclusion != Included {
			switch c.Exclusion {
			case ExcludedCooldown, ExcludedCircuitOpen, ExcludedProbeInFlight:
				c.Throttled = s.Throttled
			}
			if d := recovery(in, s, c.Exclusion); d > 0 && (retry == 0 || d < retry) {
				retry = d
			}
			p.entries = append(p.entries, c)
			continue
		}
		measure(in, s, &c)
		c.Score = score(in, p.Strategy, s, &c, wt)
		if s != nil && probing(s, in.Now) {
			c.Reason = ReasonProbe
		}
		p.entries = append(p.entries, c)
	}
	p.retryAfter = retry
	partition(p)
	if p.n == 0 {
		return ErrNoCandidate
	}
	pick(p, in)
	return nil
}

// seen reports whether region is in done; destination sets are small, so a
// scan beats a map. Region ids often share their length and prefix
// ("eu-west-1", "eu-west-3"), so the last byte is compared first.
func seen(done []string, region string) bool {
	n := len(region)
	if n == 0 {
		return false
	}
	last := region[n-1]
	for _, d := range done {
		if len(d) == n && d[n-1] == last && d == region {
			return true
		}
	}
	return false
}

// stateFor finds the state of destination i, preferring the aligned index.
func stateFor(in *Input, i int, region string) *State {
	if i >= 0 && i < len(in.States) && in.States[i].Region == region {
		return &in.States[i]
	}
	for j := range in.States {
		if in.States[j].Region == region {
			return &in.States[j]
		}
	}
	return nil
}

// partition moves candidates before excluded destinations, keeping each
// side's order.
func partition(p *Plan) {
	e := p.entries
	n := 0
	for i := range e {
		if e[i].Exclusion == Included {
			c := e[i]
			copy(e[n+1:i+1], e[n:i])
			e[n] = c
			n++
		}
	}
	p.n = n
}
