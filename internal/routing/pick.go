package routing

// Ordering groups: a preferred source region, then fresh candidates, then
// those whose state is unknown or stale.
const (
	groupPreferred = 0
	groupFresh     = 1
	groupStale     = 2
)

// pick orders the candidates p.entries[:p.n] and records their reasons. It
// sorts by group, score, RTT and region (so the plan is deterministic), then
// lets the strategy choose the first fresh candidate: power-of-two-choices
// for locality-first, a weighted draw for weighted.
func pick(p *Plan, in *Input) {
	r := newRNG(in)
	c := p.entries[:p.n]
	for i := range c {
		c[i].group = groupFresh
		if !c[i].Fresh {
			c[i].group = groupStale
		}
	}
	if p.Strategy == LocalityFirst {
		preferLocal(c, in, &r)
	}
	sortCandidates(c)

	lo, hi := 0, len(c) // the fresh group is c[lo:hi]
	for lo < hi && c[lo].group == groupPreferred {
		lo++
	}
	for hi > lo && c[hi-1].group == groupStale {
		hi--
	}
	if r.ok() && hi-lo > 1 {
		var w int
		switch p.Strategy {
		case LocalityFirst:
			w = lo + powerOfTwo(&r, hi-lo)
		case Weighted:
			w = lo + weightedDraw(&r, c[lo:hi])
		default:
			w = lo
		}
		if w != lo {
			x := c[w]
			copy(c[lo+1:w+1], c[lo:w])
			c[lo] = x
		}
	}

	fresh := freshReason(p.Strategy)
	for i := range c {
		switch {
		case c[i].Reason == ReasonProbe:
		case c[i].group == groupPreferred:
			c[i].Reason = ReasonLocal
		case c[i].group == groupStale:
			c[i].Reason = ReasonStale
		default:
			c[i].Reason = fresh
		}
	}
}

// preferLocal puts the source region first while it is fresh, has at least
// the reserve of headroom, and (after a circuit closed) wins the ramp draw.
func preferLocal(c []Candidate, in *Input, r *rng) {
	reserve := in.Options.LocalReserve
	if reserve <= 0 {
		reserve = DefaultLocalReserve
	}
	for i := range c {
		x := &c[i]
		if x.Region != in.SourceRegion || !x.Fresh {
			continue
		}
		if x.Reason == ReasonProbe {
			// A recovering source region takes its probe first: that is
			// what lets it close its circuit.
			x.group = groupPreferred
			return
		}
		if x.ramp > 0 && x.ramp < 1 && r.ok() && unitFloat(r) >= x.ramp {
			return // recently recovered: only a ramp's share stays local
		}
		if x.Headroom >= reserve {
			x.group = groupPreferred
		}
		return
	}
}

// freshReason is the reason recorded for fresh candidates of a strategy.
func freshReason(s Strategy) Reason {
	switch s {
	case LeastLoaded:
		return ReasonLeastLoaded
	case Latency:
		return ReasonLatency
	case Weighted:
		return ReasonWeighted
	}
	return ReasonHeadroom
}

// less orders by group, then score (higher first), then RTT, then region.
func less(a, b *Candidate) bool {
	if a.group != b.group {
		return a.group < b.group
	}
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	if a.RTT != b.RTT {
		return a.RTT < b.RTT
	}
	return a.Region < b.Region
}

// sortCandidates is an insertion sort: plans are short and it does not
// allocate.
func sortCandidates(c []Candidate) {
	for i := 1; i < len(c); i++ {
		x := c[i]
		j := i
		for ; j > 0 && less(&x, &c[j-1]); j-- {
			c[j] = c[j-1]
		}
		c[j] = x
	}
}

// powerOfTwo draws two distinct positions of a list sorted best first and
// returns the better (lower) one: each node's choice is good but not the
// same as every other node's, so nodes acting on the same snapshot spread
// their load instead of herding onto one region.
func powerOfTwo(r *rng, n int) int {
	i := int(r.Uint64() % uint64(n))
	j := int(r.Uint64() % uint64(n-1))
	if j >= i {
		j++
	}
	return min(i, j)
}

// weightedDraw returns a position with probability proportional to its score.
func weightedDraw(r *rng, c []Candidate) int {
	total := 0.0
	for i := range c {
		total += c[i].Score
	}
	if total <= 0 {
		return 0
	}
	x := unitFloat(r) * total
	for i := range c {
		if x < c[i].Score {
			return i
		}
		x -= c[i].Score
	}
	return len(c) - 1
}

// unitFloat returns a uniform float64 in [0,1).
func unitFloat(r *rng) float64 { return float64(r.Uint64()>>11) / (1 << 53) }

// rng is the plan's random source: Input.Rand, or else SplitMix64 seeded by
// Input.Seed. A concrete type, so that it lives on the stack: Route does not
// allocate.
type rng struct {
	src   Rand
	state uint64
}

func newRNG(in *Input) rng { return rng{src: in.Rand, state: in.Seed} }

// ok reports whether there is any randomness; without it, plans are
// deterministic and always take the best candidate.
func (r *rng) ok() bool { return r.src != nil || r.state != 0 }

func (r *rng) Uint64() uint64 {
	if r.src != nil {
		return r.src.Uint64()
	}
	r.state += 0x9e3779b97f4a7c15
	return splitmix(r.state)
}
