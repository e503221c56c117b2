package routing_test

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/routing"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// healthy returns a fresh state with plenty of headroom.
func healthy(region string) routing.State {
	return routing.State{
		Region: region, Model: "m",
		MaxConcurrency: 10, RPMLimit: 600, RPMRemaining: 600, TPMLimit: 100000, TPMRemaining: 100000,
		TTFT: 200 * time.Millisecond, ObservedAt: t0,
	}
}

func all(string) bool { return true }

type rtts map[string]time.Duration

func (r rtts) RTT(from, to string) time.Duration {
	if d, ok := r[to]; ok {
		return d
	}
	return routing.UnknownRTT
}

func baseInput(strategy routing.Strategy, states ...routing.State) *routing.Input {
	in := &routing.Input{
		SourceRegion: "eu-west-1",
		Authorized:   all,
		RTT:          rtts{"eu-west-1": 0, "eu-central-1": 20 * time.Millisecond, "eu-north-1": 40 * time.Millisecond, "us-east-1": 80 * time.Millisecond},
		Options:      routing.Options{Strategy: strategy},
		Now:          t0,
	}
	for _, s := range states {
		in.Destinations = append(in.Destinations, s.Region)
		in.States = append(in.States, s)
	}
	return in
}

func regions(cs []routing.Candidate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Region)
	}
	return out
}

func plan(t *testing.T, in *routing.Input) *routing.Plan {
	t.Helper()
	var p routing.Plan
	if err := routing.Route(&p, in); err != nil && !errors.Is(err, routing.ErrNoCandidate) {
		t.Fatalf("Route: %v", err)
	}
	return &p
}

func mod(s routing.State, f func(*routing.State)) routing.State { f(&s); return s }

func TestRouteRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       func() *routing.Input
		want     []string // candidate order
		reasons  []routing.Reason
		excluded map[string]routing.Exclusion
	}{
		{
			name: "local-first stays local with headroom",
			in: func() *routing.Input {
				return baseInput(routing.LocalityFirst, healthy("eu-central-1"), healthy("eu-west-1"))
			},
			want:    []string{"eu-west-1", "eu-central-1"},
			reasons: []routing.Reason{routing.ReasonLocal, routing.ReasonHeadroom},
		},
		{
			name: "local-first leaves a busy source region",
			in: func() *routing.Input {
				return baseInput(routing.LocalityFirst,
					mod(healthy("eu-west-1"), func(s *routing.State) { s.InFlight = 8; s.QueueDepth = 2 }),
					healthy("eu-central-1"))
			},
			want:    []string{"eu-central-1", "eu-west-1"},
			reasons: []routing.Reason{routing.ReasonHeadroom, routing.ReasonHeadroom},
		},
		{
			name: "local reserve: below 10% headroom is not enough",
			in: func() *routing.Input {
				return baseInput(routing.LocalityFirst,
					mod(healthy("eu-west-1"), func(s *routing.State) { s.RPMRemaining = 30 }),
					healthy("eu-central-1"))
			},
			want: []string{"eu-central-1", "eu-west-1"},
		},
		{
			name: "never outside the destination set",
			in: func() *routing.Input {
				in := baseInput(routing.LeastLoaded, healthy("eu-west-1"))
				in.States = append(in.States, healthy("us-east-1")) // a state, but not a destination
				return in
			},
			want:     []string{"eu-west-1"},
			excluded: map[string]routing.Exclusion{"us-east-1": routing.ExcludedNotDestination},
		},
		{
			name: "unauthorized excluded",
			in: func() *routing.Input {
				in := baseInput(routing.LocalityFirst, healthy("eu-west-1"), healthy("eu-central-1"))
				in.Authorized = func(r string) bool { return r == "eu-central-1" }
				return in
			},
			want:     []string{"eu-central-1"},
			excluded: map[string]routing.Exclusion{"eu-west-1": routing.ExcludedUnauthorized},
		},
		{
			name: "nil Authorized authorizes nothing",
			in: func() *routing.Input {
				in := baseInput(routing.LocalityFirst, healthy("eu-west-1"))
				in.Authorized = nil
				return in
			},
			excluded: map[string]routing.Exclusion{"eu-west-1": routing.ExcludedUnauthorized},
		},
		{
			name: "cooldown excluded",
			in: func() *routing.Input {
				return baseInput(routing.LocalityFirst,
					mod(healthy("eu-west-1"), func(s *routing.State) { s.CooldownUntil = t0.Add(time.Second) }),
					healthy("eu-central-1"))
			},
			want:     []string{"eu-central-1"},
			excluded: map[string]routing.Exclusion{"eu-west-1": routing.ExcludedCooldown},
		},
		{
			name: "cooldown over",
			in: func() *routing.Input {
				return baseInput(routing.LocalityFirst,
					mod(healthy("eu-west-1"), func(s *routing.State) { s.CooldownUntil = t0 }))
			},
			want: []string{"eu-west-1"},
		},
		{
			name: "open circuit excluded",
			in: func() *routing.Input {
				return baseInput(routing.LocalityFirst,
					mod(healthy("eu-west-1"), func(s *routing.State) { s.Circuit = routing.CircuitOpen; s.CooldownUntil = t0.Add(time.Second) }),
					healthy("eu-central-1"))
			},
			want:     []string{"eu-central-1"},
			excluded: map[string]routing.Exclusion{"eu-west-1": routing.ExcludedCircuitOpen},
		},
		{
			name: "open circuit after cooldown is a probe",
			in: func() *routing.Input {
				return baseInput(routing.LocalityFirst,
					mod(healthy("eu-west-1"), func(s *routing.State) { s.Circuit = routing.CircuitOpen; s.CooldownUntil = t0.Add(-time.Second) }),
					healthy("eu-central-1"))
			},
			want:    []string{"eu-west-1", "eu-central-1"},
			reasons: []routing.Reason{routing.ReasonProbe, routing.ReasonHeadroom},
		},
		{
			name: "half-open with probe in flight excluded",
			in: func() *routing.Input {
				return baseInput(routing.LocalityFirst,
					mod(healthy("eu-west-1"), func(s *routing.State) { s.Circuit = routing.CircuitHalfOpen; s.ProbeInFlight = true }),
					healthy("eu-central-1"))
			},
			want:     []string{"eu-central-1"},
			excluded: map[string]routing.Exclusion{"eu-west-1": routing.ExcludedProbeInFlight},
		},
		{
			name: "stale ranked below fresh",
			in: func() *routing.Input {
				return baseInput(routing.LeastLoaded,
					mod(healthy("eu-west-1"), func(s *routing.State) { s.ObservedAt = t0.Add(-4 * time.Second) }),
					mod(healthy("eu-central-1"), func(s *routing.State) { s.InFlight = 8 }))
			},
			want:    []string{"eu-central-1", "eu-west-1"},
			reasons: []routing.Reason{routing.ReasonLeastLoaded, routing.ReasonStale},
		},
		{
			name: "staleness bound is configurable",
			in: func() *routing.Input {
				in := baseInput(routing.LeastLoaded,
					mod(healthy("eu-west-1"), func(s *routing.State) { s.ObservedAt = t0.Add(-4 * time.Second) }),
					mod(healthy("eu-central-1"), func(s *routing.State) { s.InFlight = 8 }))
				in.Options.Staleness = 5 * time.Second
				return in
			},
			want: []string{"eu-west-1", "eu-central-1"},
		},
		{
			name: "missing state is unknown and ranked stale",
			in: func() *routing.Input {
				in := baseInput(routing.LocalityFirst, healthy("eu-central-1"))
				in.Destinations = append(in.Destinations, "eu-west-1")
				return in
			},
			want:    []string{"eu-central-1", "eu-west-1"},
			reasons: []routing.Reason{routing.ReasonHeadroom, routing.ReasonStale},
		},
		{
			name: "token-aware: not enough TPM left",
			in: func() *routing.Input {
				in := baseInput(routing.LocalityFirst,
					mod(healthy("eu-west-1"), func(s *routing.State) { s.TPMRemaining = 20000 }),
					healthy("eu-central-1"))
				in.EstimatedTokens = 30000
				return in
			},
			want:     []string{"eu-central-1"},
			excluded: map[string]routing.Exclusion{"eu-west-1": routing.ExcludedTPM},
		},
		{
			name: "token check ignores stale numbers",
			in: func() *routing.Input {
				in := baseInput(routing.LocalityFirst,
					mod(healthy("eu-west-1"), func(s *routing.State) { s.TPMRemaining = 0; s.ObservedAt = t0.Add(-time.Minute) }))
				in.EstimatedTokens = 30000
				return in
			},
			want:    []string{"eu-west-1"},
			reasons: []routing.Reason{routing.ReasonStale},
		},
		{
			name: "stale state still counts this node's own attempts",
			in: func() *routing.Input {
				return baseInput(routing.LocalityFirst,
					mod(healthy("eu-west-1"), func(s *routing.State) { s.InFlight, s.OwnInFlight, s.ObservedAt = 0, 10, t0.Add(-time.Minute) }),
					mod(healthy("eu-central-1"), func(s *routing.State) { s.InFlight, s.OwnInFlight, s.ObservedAt = 0, 9, t0.Add(-time.Minute) }))
			},
			want:     []string{"eu-central-1"},
			excluded: map[string]routing.Exclusion{"eu-west-1": routing.ExcludedSaturated},
		},
		{
			name: "saturated concurrency excluded",
			in: func() *routing.Input {
				return baseInput(routing.LocalityFirst,
					mod(healthy("eu-west-1"), func(s *routing.State) { s.InFlight = 10 }),
					mod(healthy("eu-central-1"), func(s *routing.State) { s.InFlight = 9; s.QueueDepth = 5 }))
			},
			want:     []string{"eu-central-1"},
			excluded: map[string]routing.Exclusion{"eu-west-1": routing.ExcludedSaturated},
		},
		{
			name: "RPM exhausted",
			in: func() *routing.Input {
				return baseInput(routing.LocalityFirst,
					mod(healthy("eu-west-1"), func(s *routing.State) { s.RPMRemaining = 0 }),
					healthy("eu-central-1"))
			},
			want:     []string{"eu-central-1"},
			excluded: map[string]routing.Exclusion{"eu-west-1": routing.ExcludedRPM},
		},
		{
			name: "least-loaded orders by headroom",
			in: func() *routing.Input {
				return baseInput(routing.LeastLoaded,
					mod(healthy("eu-west-1"), func(s *routing.State) { s.InFlight = 5 }),
					mod(healthy("eu-central-1"), func(s *routing.State) { s.InFlight = 2 }),
					mod(healthy("eu-north-1"), func(s *routing.State) { s.InFlight = 7 }))
			},
			want: []string{"eu-central-1", "eu-west-1", "eu-north-1"},
		},
		{
			name: "latency orders by TTFT EWMA plus RTT",
			in: func() *routing.Input {
				return baseInput(routing.Latency,
					mod(healthy("eu-west-1"), func(s *routing.State) { s.TTFT = 400 * time.Millisecond }),
					mod(healthy("eu-central-1"), func(s *routing.State) { s.TTFT = 300 * time.Millisecond }),
					mod(healthy("eu-north-1"), func(s *routing.State) { s.TTFT = 150 * time.Millisecond }))
			},
			want:    []string{"eu-north-1", "eu-central-1", "eu-west-1"},
			reasons: []routing.Reason{routing.ReasonLatency, routing.ReasonLatency, routing.ReasonLatency},
		},
		{
			name: "latency puts saturated last",
			in: func() *routing.Input {
				return baseInput(routing.Latency,
					mod(healthy("eu-west-1"), func(s *routing.State) { s.InFlight = 5; s.QueueDepth = 5 }),
					mod(healthy("eu-central-1"), func(s *routing.State) { s.TTFT = time.Second }))
			},
			want: []string{"eu-central-1", "eu-west-1"},
		},
		{
			name: "weighted excludes zero weight",
			in: func() *routing.Input {
				in := baseInput(routing.Weighted, healthy("eu-west-1"), healthy("eu-central-1"), healthy("eu-north-1"))
				in.Options.Weights = map[string]float64{"eu-west-1": 1, "eu-central-1": 3}
				return in
			},
			want:     []string{"eu-central-1", "eu-west-1"},
			reasons:  []routing.Reason{routing.ReasonWeighted, routing.ReasonWeighted},
			excluded: map[string]routing.Exclusion{"eu-north-1": routing.ExcludedZeroWeight},
		},
		{
			name: "duplicate destinations are listed once",
			in: func() *routing.Input {
				in := baseInput(routing.LocalityFirst, healthy("eu-west-1"))
				in.Destinations = append(in.Destinations, "eu-west-1")
				return in
			},
			want: []string{"eu-west-1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := tc.in()
			p := plan(t, in)
			got := regions(p.Candidates())
			if !equal(got, tc.want) {
				t.Fatalf("Route candidates = %v, want %v (excluded %v)", got, tc.want, p.Excluded())
			}
			for i, r := range tc.reasons {
				if got := p.Candidates()[i].Reason; got != r {
					t.Errorf("candidate %d (%s) reason = %s, want %s", i, tc.want[i], got, r)
				}
			}
			for region, want := range tc.excluded {
				if got := p.WhyExcluded(region); got != want {
					t.Errorf("WhyExcluded(%q) = %q, want %q", region, got, want)
				}
			}
			for _, c := range p.Candidates() {
				if p.WhyExcluded(c.Region) != routing.Included {
					t.Errorf("WhyExcluded(%q) = %q for a candidate", c.Region, p.WhyExcluded(c.Region))
				}
				if !contains(in.Destinations, c.Region) {
					t.Errorf("candidate %q outside destinations %v", c.Region, in.Destinations)
				}
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

func TestRouteNoCandidateRetryAfter(t *testing.T) {
	t.Parallel()
	in := baseInput(routing.LocalityFirst,
		mod(healthy("eu-west-1"), func(s *routing.State) { s.CooldownUntil = t0.Add(5 * time.Second) }),
		mod(healthy("eu-central-1"), func(s *routing.State) { s.Circuit = routing.CircuitOpen; s.CooldownUntil = t0.Add(3 * time.Second) }),
		mod(healthy("eu-north-1"), func(s *routing.State) { s.RPMRemaining = 0 }))
	var p routing.Plan
	err := routing.Route(&p, in)
	if !errors.Is(err, routing.ErrNoCandidate) {
		t.Fatalf("Route = %v, want ErrNoCandidate", err)
	}
	if !p.Empty() || len(p.Excluded()) != 3 {
		t.Fatalf("plan = %v / %v, want 0 candidates and 3 exclusions", p.Candidates(), p.Excluded())
	}
	// eu-north-1's RPM window frees one request per 60s/600 = 100ms: floored to 1s.
	if got, want := p.RetryAfter(), time.Second; got != want {
		t.Errorf("RetryAfter = %v, want %v", got, want)
	}

	in.States[2].RPMRemaining = 600
	in.Authorized = func(r string) bool { return r != "eu-north-1" }
	_ = routing.Route(&p, in)
	if got, want := p.RetryAfter(), 3*time.Second; got != want {
		t.Errorf("RetryAfter with cooldowns = %v, want %v", got, want)
	}

	in.Authorized = func(string) bool { return false }
	_ = routing.Route(&p, in)
	if got := p.RetryAfter(); got != 0 {
		t.Errorf("RetryAfter when nothing is authorized = %v, want 0", got)
	}
}

// TestPowerOfTwoChoices checks that locality-first spreads the first choice
// over the better candidates and never picks the worst first.
func TestPowerOfTwoChoices(t *testing.T) {
	t.Parallel()
	in := baseInput(routing.LocalityFirst,
		mod(healthy("eu-west-1"), func(s *routing.State) { s.InFlight = 9; s.QueueDepth = 1 }), // source busy
		mod(healthy("eu-central-1"), func(s *routing.State) { s.InFlight = 1 }),
		mod(healthy("eu-north-1"), func(s *routing.State) { s.InFlight = 4 }),
	)
	in.Rand = rand.NewPCG(1, 2)
	counts := map[string]int{}
	var p routing.Plan
	for range 3000 {
		if err := routing.Route(&p, in); err != nil {
			t.Fatal(err)
		}
		counts[p.Candidates()[0].Region]++
	}
	if counts["eu-west-1"] != 0 {
		t.Errorf("worst candidate picked first %d times, want 0", counts["eu-west-1"])
	}
	// Best wins 2 of 3 pairs, second best 1 of 3.
	if c := counts["eu-central-1"]; c < 1800 || c > 2200 {
		t.Errorf("best picked first %d/3000 times, want about 2000", c)
	}
}

func TestWeightedDraw(t *testing.T) {
	t.Parallel()
	in := baseInput(routing.Weighted, healthy("eu-west-1"), healthy("eu-central-1"))
	in.Options.Weights = map[string]float64{"eu-west-1": 1, "eu-central-1": 3}
	in.Rand = rand.NewPCG(3, 4)
	counts := map[string]int{}
	var p routing.Plan
	for range 4000 {
		_ = routing.Route(&p, in)
		counts[p.Candidates()[0].Region]++
	}
	if c := counts["eu-central-1"]; c < 2800 || c > 3200 {
		t.Errorf("weight-3 region first %d/4000 times, want about 3000", c)
	}
}

func TestRampSharesLocal(t *testing.T) {
	t.Parallel()
	in := baseInput(routing.LocalityFirst,
		mod(healthy("eu-west-1"), func(s *routing.State) { s.Ramp = 0.25 }),
		healthy("eu-central-1"))
	in.Rand = rand.NewPCG(5, 6)
	local := 0
	var p routing.Plan
	for range 4000 {
		_ = routing.Route(&p, in)
		if p.Candidates()[0].Reason == routing.ReasonLocal {
			local++
		}
	}
	if local < 800 || local > 1200 {
		t.Errorf("local first %d/4000 times at ramp 0.25, want about 1000", local)
	}
}

func TestRouteDeterministic(t *testing.T) {
	t.Parallel()
	in := benchInput(20)
	var a, b routing.Plan
	in.Rand = rand.NewPCG(9, 9)
	_ = routing.Route(&a, in)
	in.Rand = rand.NewPCG(9, 9)
	_ = routing.Route(&b, in)
	if !equal(regions(a.Candidates()), regions(b.Candidates())) {
		t.Errorf("same seed gave %v and %v", regions(a.Candidates()), regions(b.Candidates()))
	}
}

func TestSeedRandomizes(t *testing.T) {
	t.Parallel()
	in := baseInput(routing.LocalityFirst,
		mod(healthy("eu-west-1"), func(s *routing.State) { s.InFlight = 9; s.QueueDepth = 1 }),
		mod(healthy("eu-central-1"), func(s *routing.State) { s.InFlight = 1 }),
		mod(healthy("eu-north-1"), func(s *routing.State) { s.InFlight = 4 }))
	counts := map[string]int{}
	var p routing.Plan
	for i := range 3000 {
		in.Seed = uint64(i + 1)
		_ = routing.Route(&p, in)
		counts[p.Candidates()[0].Region]++
	}
	if c := counts["eu-central-1"]; c < 1800 || c > 2200 {
		t.Errorf("best picked first %d/3000 times with per-request seeds, want about 2000", c)
	}
}
