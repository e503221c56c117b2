package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestRoundOrder checks the balance the interleaved phases rely on: over
// one period every round is a permutation, every scenario runs once in each
// position per n rounds, and every scenario runs directly after each other
// one equally often, so no scenario always follows the same one.
func TestRoundOrder(t *testing.T) {
	for n := 1; n <= 7; n++ {
		period := n
		if n%2 == 1 {
			period = 2 * n
		}
		position := make([][]int, n) // position[scenario][pos]
		for i := range position {
			position[i] = make([]int, n)
		}
		after := map[[2]int]int{} // {prev, next}: rounds in which next ran right after prev
		for r := range period {
			o := roundOrder(n, r)
			if got := slices.Sorted(slices.Values(o)); !slices.Equal(got, seq(n)) {
				t.Fatalf("roundOrder(%d, %d) = %v, want a permutation of 0..%d", n, r, o, n-1)
			}
			for pos, sc := range o {
				position[sc][pos]++
				if pos > 0 {
					after[[2]int{o[pos-1], sc}]++
				}
			}
			if again := roundOrder(n, r+period); !slices.Equal(again, o) {
				t.Errorf("roundOrder(%d, %d) = %v, want round %d's %v (the period is %d)", n, r+period, again, r, o, period)
			}
		}
		for sc, ps := range position {
			for pos, c := range ps {
				if c != period/n {
					t.Errorf("n=%d: scenario %d ran %d times in position %d over %d rounds, want %d", n, sc, c, pos, period, period/n)
				}
			}
		}
		for a := range n {
			for b := range n {
				if a == b {
					continue
				}
				if c := after[[2]int{a, b}]; c != period/n {
					t.Errorf("n=%d: scenario %d ran right after %d in %d of %d rounds, want %d", n, b, a, c, period, period/n)
				}
			}
		}
	}
	if o := roundOrder(0, 3); len(o) != 0 {
		t.Errorf("roundOrder(0, 3) = %v, want empty", o)
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func TestSpreadOf(t *testing.T) {
	tests := []struct {
		name   string
		values []float64 // NaN: the round reports no value
		want   Spread
	}{
		{"odd count: the middle value", []float64{1.4, 1.1, 1.2},
			Spread{Median: 1.2, Min: 1.1, Max: 1.4, Low: 1.1, High: 1.4, Confidence: 0.75, Rounds: []float64{1.4, 1.1, 1.2}}},
		{"even count: the mean of the middle two", []float64{2, 1, 4, 3, 10, 0.5},
			Spread{Median: 2.5, Min: 0.5, Max: 10, Low: 0.5, High: 10, Confidence: 0.96875, Rounds: []float64{2, 1, 4, 3, 10, 0.5}}},
		{"one outlier moves the median little", []float64{0.45, 0.46, 0.9, 0.44, 0.45, 0.47},
			Spread{Median: 0.455, Min: 0.44, Max: 0.9, Low: 0.44, High: 0.9, Confidence: 0.96875, Rounds: []float64{0.45, 0.46, 0.9, 0.44, 0.45, 0.47}}},
		{"negative values count", []float64{-0.2, 0.1, 0.3},
			Spread{Median: 0.1, Min: -0.2, Max: 0.3, Low: -0.2, High: 0.3, Confidence: 0.75, Rounds: []float64{-0.2, 0.1, 0.3}}},
		// Ten rounds: the interval leaves out the lowest and the highest.
		{"ten rounds", []float64{1.6, 0.5, 1.5, 1.4, 1.45, 6, 1.55, 1.5, 1.35, 1.6},
			Spread{Median: 1.5, Min: 0.5, Max: 6, Low: 1.35, High: 1.6, Confidence: 1 - 22.0/1024, Rounds: []float64{1.6, 0.5, 1.5, 1.4, 1.45, 6, 1.55, 1.5, 1.35, 1.6}}},
		// A round without a value could be anywhere: the interval widens
		// by one rank on each side.
		{"ten rounds, one without a value", []float64{1.6, 0.5, 1.5, 1.4, 1.45, math.NaN(), 1.55, 1.5, 1.35, 1.6},
			Spread{Median: 1.5, Min: 0.5, Max: 1.6, Low: 0.5, High: 1.6, Confidence: 1 - 22.0/1024, Rounds: []float64{1.6, 0.5, 1.5, 1.4, 1.45, 1.55, 1.5, 1.35, 1.6}, Undefined: 1}},
		{"six rounds, one without a value: no interval", []float64{1, math.NaN(), 3, 2, 2, 2},
			Spread{Median: 2, Min: 1, Max: 3, Rounds: []float64{1, 3, 2, 2, 2}, Undefined: 1}},
		// A round in which the path under test failed scores +Inf: it
		// ranks above every value, and is counted apart from Rounds.
		{"ten rounds, one failed", []float64{1.6, 0.5, 1.5, 1.4, 1.45, math.Inf(1), 1.55, 1.5, 1.35, 1.6},
			Spread{Median: 1.5, Min: 0.5, Max: math.Inf(1), Low: 1.35, High: 1.6, Confidence: 1 - 22.0/1024, Rounds: []float64{1.6, 0.5, 1.5, 1.4, 1.45, 1.55, 1.5, 1.35, 1.6}, Failed: 1}},
		{"ten rounds, two failed", []float64{1.6, 0.5, 1.5, 1.4, math.Inf(1), math.Inf(1), 1.55, 1.5, 1.35, 1.6},
			Spread{Median: 1.525, Min: 0.5, Max: math.Inf(1), Low: 1.35, High: math.Inf(1), Confidence: 1 - 22.0/1024, Rounds: []float64{1.6, 0.5, 1.5, 1.4, 1.55, 1.5, 1.35, 1.6}, Failed: 2}},
		{"six rounds, four failed", []float64{1.2, math.Inf(1), math.Inf(1), 1.1, math.Inf(1), math.Inf(1)},
			Spread{Median: math.Inf(1), Min: 1.1, Max: math.Inf(1), Low: 1.1, High: math.Inf(1), Confidence: 0.96875, Rounds: []float64{1.2, 1.1}, Failed: 4}},
		{"one round: no interval", []float64{1.2}, Spread{Median: 1.2, Min: 1.2, Max: 1.2, Low: 1.2, High: 1.2, Rounds: []float64{1.2}}},
		{"no round with a value", []float64{math.NaN(), math.NaN()}, Spread{Undefined: 2}},
		{"no round", nil, Spread{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := spreadOf(len(tc.values), func(r int) (float64, bool) { return tc.values[r], !math.IsNaN(tc.values[r]) })
			if d := cmp.Diff(tc.want, got, cmpopts.EquateApprox(0, 1e-12)); d != "" {
				t.Errorf("spreadOf(%v) mismatch (-want +got):\n%s", tc.values, d)
			}
		})
	}
}

func TestMedianRank(t *testing.T) {
	tests := []struct {
		n        int
		k        int
		coverage float64
	}{
		{1, 1, 0},
		{5, 1, 1 - 2.0/32}, // no interval reaches 95%: the whole range
		{6, 1, 1 - 2.0/64},
		{8, 1, 1 - 2.0/256},
		{9, 2, 1 - 2*10.0/512},
		{10, 2, 1 - 2*11.0/1024},
		{11, 2, 1 - 2*12.0/2048},
		{12, 3, 1 - 2*79.0/4096},
		{20, 6, 1 - 2*21700.0/1048576}, // P(X <= 5) = 21700/2^20
	}
	for _, tc := range tests {
		k, c := medianRank(tc.n)
		if k != tc.k || math.Abs(c-tc.coverage) > 1e-12 {
			t.Errorf("medianRank(%d) = %d, %.6f; want %d, %.6f", tc.n, k, c, tc.k, tc.coverage)
		}
	}
}

func TestRoundRatio(t *testing.T) {
	tests := []struct {
		num, den float64
		want     float64
		ok       bool
	}{
		{0.3, 0.1, 3, true},
		{-0.1, 0.1, -1, true}, // cheaper than direct in that round: a value, kept
		{0, 0.1, 0, true},
		{0.3, 0, 0, false},     // the bare proxy cost nothing more than direct: no ratio
		{0.3, -0.05, 0, false}, // nor when it cost less
	}
	for _, tc := range tests {
		got, ok := roundRatio(tc.num, tc.den)
		if ok != tc.ok || math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("roundRatio(%g, %g) = %g, %v; want %g, %v", tc.num, tc.den, got, ok, tc.want, tc.ok)
		}
	}
}

func TestJudge(t *testing.T) {
	atMost2 := bound{limit: 2}
	atLeastHalf := bound{limit: 0.5, atLeast: true}
	spread := func(rounds ...float64) Spread {
		return spreadOf(len(rounds), func(r int) (float64, bool) { return rounds[r], !math.IsNaN(rounds[r]) })
	}
	tests := []struct {
		name    string
		s       Spread
		b       bound
		met     bool
		verdict Verdict
	}{
		{"every round within", spread(1.2, 1.5, 1.9, 1.4, 1.3, 2), atMost2, true, Met},
		{"every round past", spread(2.1, 2.5, 3, 2.2, 2.4, 2.01), atMost2, false, Missed},
		{"straddling, median within", spread(1.5, 1.6, 1.7, 1.8, 1.9, 2.6), atMost2, true, Unsettled},
		{"straddling, median past", spread(1.9, 2.1, 2.2, 2.3, 2.4, 2.6), atMost2, false, Unsettled},
		{"ten rounds: one failed round does not unsettle", spread(1.2, 1.5, 1.9, 1.4, 1.3, math.Inf(1), 1.1, 1.6, 0.2, 1.8), atMost2, true, Met},
		{"ten rounds: two failed rounds do", spread(1.2, 1.5, 1.9, 1.4, math.Inf(1), math.Inf(1), 1.1, 1.6, 0.2, 1.8), atMost2, true, Unsettled},
		{"ten rounds: six failed, the median fails", spread(1.2, math.Inf(1), math.Inf(1), 1.4, math.Inf(1), math.Inf(1), 1.1, math.Inf(1), 0.2, math.Inf(1)), atMost2, false, Unsettled},
		{"ten rounds: nine failed", spread(1.2, math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1)), atMost2, false, Missed},
		{"six rounds: all within but one round without a value", spread(1.2, 1.3, math.NaN(), 1.4, 1.5, 1.6), atMost2, true, Unsettled},
		{"six rounds: all past but one round without a value", spread(2.2, 2.3, math.NaN(), 2.4, 2.5, 2.6), atMost2, false, Unsettled},
		{"ten rounds: one round past at each end does not unsettle", spread(1.2, 1.5, 1.9, 1.4, 1.3, 2.6, 1.1, 1.6, 0.2, 1.8), atMost2, true, Met},
		{"ten rounds: two rounds past do", spread(1.2, 1.5, 1.9, 1.4, 1.3, 2.6, 1.1, 1.6, 2.2, 1.8), atMost2, true, Unsettled},
		{"ten rounds: all past but the lowest", spread(2.2, 2.5, 2.9, 2.4, 2.3, 2.6, 2.1, 2.6, 0.2, 2.8), atMost2, false, Missed},
		{"ten rounds: one within but one without a value", spread(2.2, 2.5, 2.9, 2.4, math.NaN(), 2.6, 2.1, 2.6, 0.2, 2.8), atMost2, false, Unsettled},
		{"ten rounds: all past, one without a value", spread(2.2, 2.5, 2.9, 2.4, math.NaN(), 2.6, 2.1, 2.6, 2.05, 2.8), atMost2, false, Missed},
		{"one round", spread(1.2), atMost2, true, Unsettled},
		{"no round", spread(), atMost2, false, Unsettled},
		{"no round with a value", spread(math.NaN(), math.NaN()), atMost2, false, Unsettled},
		{"at least: every round at or above", spread(0.5, 0.6, 0.55, 0.7, 0.52, 0.8), atLeastHalf, true, Met},
		{"at least: every round below", spread(0.35, 0.42, 0.49, 0.3, 0.44, 0.4), atLeastHalf, false, Missed},
		{"at least: straddling", spread(0.35, 0.53, 0.6, 0.7, 0.52, 0.8), atLeastHalf, true, Unsettled},
		// Fewer than 6 rounds (--sequential 5): even the whole range covers
		// the median with less than 95%, too little to settle.
		{"five rounds, all within: below 95%", spread(1.2, 1.5, 1.9, 1.4, 1.3), atMost2, true, Unsettled},
		{"three rounds, all past: below 95%", spread(2.2, 2.5, 3), atMost2, false, Unsettled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			met, v := judge(tc.s, tc.b)
			if met != tc.met || v != tc.verdict {
				t.Errorf("judge(%+v, %+v) = %v, %v; want %v, %v", tc.s, tc.b, met, v, tc.met, tc.verdict)
			}
		})
	}
}

func TestVerdictJSON(t *testing.T) {
	for _, v := range []Verdict{Met, Missed, Unsettled} {
		b, err := json.Marshal(Goal{Verdict: v})
		if err != nil {
			t.Fatalf("marshal %v: %v", v, err)
		}
		var back Goal
		if err := json.Unmarshal(b, &back); err != nil || back.Verdict != v {
			t.Errorf("round trip of %v through %s = %v, %v; want %v", v, b, back.Verdict, err, v)
		}
	}
	if _, err := json.Marshal(Goal{Verdict: Verdict(7)}); err == nil {
		t.Error("marshal of Verdict(7) succeeded, want an error")
	}
	var g Goal
	if err := json.Unmarshal([]byte(`{"verdict":"maybe"}`), &g); err == nil {
		t.Error(`unmarshal of verdict "maybe" succeeded, want an error`)
	}
}

// TestLevelDeriveRounds checks the closed loop's ratios: each round's
// scenario against the bare proxy (and direct) of the same round, then the
// median. The bare proxy here drifts from 12,000/s to 7,000/s between
// rounds, as it did between two runs on the shared host; the ratio within
// each round does not move, so neither does the median, while a pooled
// ratio would depend on how the drift fell on each scenario's rounds.
func TestLevelDeriveRounds(t *testing.T) {
	rounds := func(figs ...[2]float64) []RoundFigures { // {throughput, CPU s/1k}
		var rs []RoundFigures
		for _, f := range figs {
			rs = append(rs, RoundFigures{Requests: 100, Throughput: f[0], CPUSecondsPer1k: f[1]})
		}
		return rs
	}
	l := LevelReport{InFlight: 32, Scenarios: []LevelScenario{
		{Name: Direct, Requests: 600, CPUSecondsPer1k: 0.1, Rounds: rounds(
			[2]float64{20000, 0.1}, [2]float64{20000, 0.1}, [2]float64{14000, 0.2}, [2]float64{14000, 0.2}, [2]float64{20000, 0.1}, [2]float64{20000, 0.1})},
		{Name: BareProxy, Requests: 600, CPUSecondsPer1k: 0.2, Rounds: rounds(
			[2]float64{12000, 0.2}, [2]float64{12000, 0.2}, [2]float64{7000, 0.4}, [2]float64{7000, 0.4}, [2]float64{12000, 0.2},
			[2]float64{12000, 0.1}, // the bare proxy's added CPU lost in this round's noise
		)},
		{Name: MeridianForwarded, Requests: 600, CPUSecondsPer1k: 0.5, Rounds: rounds(
			[2]float64{5400, 0.4}, [2]float64{5400, 0.4}, [2]float64{3150, 0.8}, [2]float64{3150, 0.8}, [2]float64{5400, 0.4},
			[2]float64{10800, 0.4}, // a round the bare proxy shared with a burst
		)},
	}}
	l.derive()
	f := l.scenario(MeridianForwarded)
	wantThroughput := Spread{Median: 0.45, Min: 0.45, Max: 0.9, Low: 0.45, High: 0.9, Confidence: 0.96875, Rounds: []float64{0.45, 0.45, 0.45, 0.45, 0.45, 0.9}}
	// CPU: (0.4-0.1)/(0.2-0.1) = 3 in the fast rounds, (0.8-0.2)/(0.4-0.2)
	// = 3 in the slow ones; none in the last round, which leaves 6 rounds
	// without an interval.
	wantCPU := Spread{Median: 3, Min: 3, Max: 3, Rounds: []float64{3, 3, 3, 3, 3}, Undefined: 1}
	approx := cmpopts.EquateApprox(0, 1e-9)
	if d := cmp.Diff(wantThroughput, f.ThroughputSpread, approx); d != "" {
		t.Errorf("throughput ratio rounds mismatch (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantCPU, f.CPUSpread, approx); d != "" {
		t.Errorf("CPU ratio rounds mismatch (-want +got):\n%s", d)
	}
	if math.Abs(f.ThroughputRatio-0.45) > 1e-9 || math.Abs(f.CPURatio-3) > 1e-9 {
		t.Errorf("ratios = %g throughput, %g CPU; want the medians 0.45, 3", f.ThroughputRatio, f.CPURatio)
	}
	if math.Abs(f.AddedCPUPer1k-0.4) > 1e-9 {
		t.Errorf("added CPU = %g, want the pooled 0.5 - 0.1 = 0.4", f.AddedCPUPer1k)
	}
	if b := l.scenario(BareProxy); b.ThroughputRatio != 1 || b.ThroughputSpread.Min != 1 || b.ThroughputSpread.Max != 1 {
		t.Errorf("bare proxy's own throughput ratio = %g (%g to %g), want 1", b.ThroughputRatio, b.ThroughputSpread.Min, b.ThroughputSpread.Max)
	}
	if met, v := judge(f.CPUSpread, bound{limit: 3.5}); !met || v != Unsettled {
		t.Errorf("forwarded CPU at 3x against <= 3.5x, with a round without a value: %v, %v; want met, unsettled", met, v)
	}
}

// TestLevelDeriveMissingRounds: a round the bare proxy completed nothing
// in has no ratio; without a bare proxy in the run there is nothing to
// divide by and no spread at all.
func TestLevelDeriveMissingRounds(t *testing.T) {
	fig := func(n int, rate float64) RoundFigures {
		return RoundFigures{Requests: n, Throughput: rate, CPUSecondsPer1k: 0.2}
	}
	l := LevelReport{InFlight: 1, Scenarios: []LevelScenario{
		{Name: BareProxy, Requests: 10, Rounds: []RoundFigures{fig(10, 100), fig(0, 0)}},
		{Name: MeridianLocal, Requests: 20, Rounds: []RoundFigures{fig(10, 80), fig(10, 80)}},
	}}
	l.derive()
	want := Spread{Median: 0.8, Min: 0.8, Max: 0.8, Rounds: []float64{0.8}, Undefined: 1}
	if d := cmp.Diff(want, l.scenario(MeridianLocal).ThroughputSpread); d != "" {
		t.Errorf("throughput ratio rounds mismatch (-want +got):\n%s", d)
	}
	alone := LevelReport{InFlight: 1, Scenarios: []LevelScenario{{Name: MeridianLocal, Requests: 10, Rounds: []RoundFigures{fig(10, 80)}}}}
	alone.derive()
	if s := alone.Scenarios[0]; s.ThroughputRatio != 0 || s.ThroughputSpread.Undefined != 0 || len(s.ThroughputSpread.Rounds) != 0 {
		t.Errorf("a level without the bare proxy: ratio %g, spread %+v; want none", s.ThroughputRatio, s.ThroughputSpread)
	}
}

// TestModeDeriveSequentialRounds checks the sequential ratio: in each
// round, the scenario's p50 minus direct's over the bare proxy's minus
// direct's, all of that round; then the median.
func TestModeDeriveSequentialRounds(t *testing.T) {
	sc := func(name string, p50 ...float64) ScenarioReport {
		return ScenarioReport{Name: name, Sequential: Summary{Requests: 40, Latency: Latency{P50: p50[0]}}, SequentialRoundsP50: p50}
	}
	m := ModeReport{Mode: "non-streaming", Scenarios: []ScenarioReport{
		sc(Direct, 0.10, 0.20, 0.10, 0.10),
		sc(BareProxy, 0.20, 0.40, 0.10, 0.20), // round 3: no added latency to divide by
		sc(MeridianLocal, 0.23, 0.50, 0.15, 0.22),
		sc(MeridianForwarded, 0.40, 0.80, 0.30, 0),
	}}
	m.derive()
	approx := cmpopts.EquateApprox(0, 1e-9)
	// Local: 0.13/0.1, 0.3/0.2, -, 0.12/0.1.
	if d := cmp.Diff(Spread{Median: 1.3, Min: 1.2, Max: 1.5, Rounds: []float64{1.3, 1.5, 1.2}, Undefined: 1},
		m.scenario(MeridianLocal).SequentialSpread, approx); d != "" {
		t.Errorf("local sequential ratio rounds mismatch (-want +got):\n%s", d)
	}
	if got := m.scenario(MeridianLocal).SequentialRatio; math.Abs(got-1.3) > 1e-9 {
		t.Errorf("local sequential ratio = %g, want the median 1.3", got)
	}
	// Forwarded had no successful request in round 4: that round counts
	// as failed (above every value), not as one without a value.
	if d := cmp.Diff(Spread{Median: 3, Min: 3, Max: math.Inf(1), Rounds: []float64{3, 3}, Failed: 1, Undefined: 1},
		m.scenario(MeridianForwarded).SequentialSpread, approx); d != "" {
		t.Errorf("forwarded sequential ratio rounds mismatch (-want +got):\n%s", d)
	}
	// Forwarded beyond local, per round, in the targets.
	var beyond *Goal
	for _, g := range evaluateMode(&m) {
		if g.Name == "non-streaming: forwarded over the link, sequential p50 beyond local" {
			beyond = &g
		}
	}
	if beyond == nil || beyond.Rounds == nil {
		t.Fatalf("no per-round goal for forwarded beyond local in %+v", evaluateMode(&m))
	}
	if d := cmp.Diff(&Spread{Median: 0.235, Min: 0.15, Max: math.Inf(1), Low: 0.15, High: math.Inf(1), Confidence: 0.875, Rounds: []float64{0.17, 0.3, 0.15}, Failed: 1}, beyond.Rounds, approx); d != "" {
		t.Errorf("forwarded beyond local rounds mismatch (-want +got):\n%s", d)
	}
	if beyond.Met || !beyond.MedianMeets || beyond.Verdict != Unsettled {
		t.Errorf("forwarded beyond local: met %v, median meets %v, verdict %v; want not met, the median meets (235µs <= 500µs), unsettled (4 rounds: no 95%% interval)",
			beyond.Met, beyond.MedianMeets, beyond.Verdict)
	}
}

// TestLevelDeriveFailedRounds: a round in which the scenario under test
// completed no request successfully scores on the failing side (its
// throughput ratio 0, its CPU ratio +Inf), so the remaining rounds cannot
// meet a target alone; a round in which the bare proxy or direct failed
// has no value. CPU per request counts successful requests only, so that
// fast failures do not look cheap.
func TestLevelDeriveFailedRounds(t *testing.T) {
	fig := func(n, errs int, rate, cpu float64) RoundFigures {
		return RoundFigures{Requests: n, Errors: errs, Throughput: rate, CPUSecondsPer1k: cpu}
	}
	ok := fig(100, 0, 1000, 0.2)
	l := LevelReport{InFlight: 32, Scenarios: []LevelScenario{
		{Name: Direct, Requests: 600, Rounds: []RoundFigures{fig(100, 0, 2000, 0.1), fig(100, 0, 2000, 0.1), fig(100, 0, 2000, 0.1), fig(100, 0, 2000, 0.1), fig(100, 0, 2000, 0.1), fig(100, 0, 2000, 0.1)}},
		{Name: BareProxy, Requests: 600, Rounds: []RoundFigures{ok, ok, ok, ok, fig(100, 100, 0, 0), ok}},
		{Name: MeridianLocal, Requests: 600, Rounds: []RoundFigures{fig(100, 0, 900, 0.25), fig(300, 300, 0, 0), fig(100, 0, 900, 0.25), fig(100, 0, 900, 0.25), fig(100, 0, 900, 0.25), fig(100, 0, 900, 0.25)}},
	}}
	l.derive()
	s := l.scenario(MeridianLocal)
	approx := cmpopts.EquateApprox(0, 1e-9)
	if d := cmp.Diff(Spread{Median: 0.9, Min: 0, Max: 0.9, Rounds: []float64{0.9, 0, 0.9, 0.9, 0.9}, Undefined: 1}, s.ThroughputSpread, approx); d != "" {
		t.Errorf("throughput ratio rounds mismatch (-want +got):\n%s", d)
	}
	if d := cmp.Diff(Spread{Median: 1.5, Min: 1.5, Max: math.Inf(1), Rounds: []float64{1.5, 1.5, 1.5, 1.5}, Failed: 1, Undefined: 1}, s.CPUSpread, approx); d != "" {
		t.Errorf("CPU ratio rounds mismatch (-want +got):\n%s", d)
	}
}

// TestStepReportCPUPerSuccess: CPU per 1,000 requests divides by the
// successful ones; a step without one has no CPU figure.
func TestStepReportCPUPerSuccess(t *testing.T) {
	fail := sample{err: errors.New("503")}
	tests := []struct {
		name    string
		samples []sample
		want    float64
	}{
		{"all succeed", []sample{{latency: time.Millisecond}, {latency: time.Millisecond}}, 500},
		{"half fail fast", []sample{{latency: time.Millisecond}, fail}, 1000},
		{"all fail", []sample{fail, fail}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := stepReport(step{samples: tc.samples, cpu: time.Second, elapsed: time.Second}, false, time.Second)
			if math.Abs(r.CPUSecondsPer1k-tc.want) > 1e-9 {
				t.Errorf("CPU s/1k = %g, want %g", r.CPUSecondsPer1k, tc.want)
			}
		})
	}
}

// TestSpreadJSON: a median or an end of the interval that a failed round
// holds is +Inf, which JSON cannot carry: it is written as null.
func TestSpreadJSON(t *testing.T) {
	s := spreadOf(6, func(r int) (float64, bool) {
		return []float64{1.2, math.Inf(1), math.Inf(1), 1.1, math.Inf(1), math.Inf(1)}[r], true
	})
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"median":null,"min":1.1,"max":null,"low":1.1,"high":null,"confidence":0.96875,"rounds":[1.2,1.1],"failed":4}`
	if string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
}

// TestScheduleBalance checks the order the phases actually run in, rounds
// back to back: over the concatenated sequence of the round counts used,
// every scenario runs directly after each other one equally often, give
// or take one, so that the leftover work of a slot lands on every
// scenario alike (the bare proxy must not follow a Meridian path more
// often than the forwarded path does); every round runs every scenario
// once, and every scenario runs equally often in each position.
func TestScheduleBalance(t *testing.T) {
	for n := 2; n <= 8; n++ {
		counts := []int{sequentialRoundsFor(n), concurrencyRoundsFor(n), compareRoundsFor(n)}
		// --sequential below the full count caps the rounds; from 6 on
		// they are a whole number of periods where one fits.
		for q := minConcurrencyRounds; q < sequentialRoundsFor(n); q++ {
			if r := (&Options{Sequential: q}).sequentialRounds(n); r%roundPeriod(n) == 0 && !slices.Contains(counts, r) {
				counts = append(counts, r)
			}
		}
		for _, rounds := range counts {
			s := schedule(n, rounds)
			if len(s) != rounds {
				t.Fatalf("schedule(%d, %d) has %d rounds", n, rounds, len(s))
			}
			var flat []int
			position := make([][]int, n) // position[scenario][pos]
			for i := range position {
				position[i] = make([]int, n)
			}
			for r, o := range s {
				if got := slices.Sorted(slices.Values(o)); !slices.Equal(got, seq(n)) {
					t.Fatalf("schedule(%d, %d) round %d = %v, want a permutation of 0..%d", n, rounds, r, o, n-1)
				}
				for pos, sc := range o {
					position[sc][pos]++
				}
				flat = append(flat, o...)
			}
			after := map[[2]int]int{} // {prev, next}
			for i := 1; i < len(flat); i++ {
				if flat[i-1] != flat[i] { // a scenario after itself biases no ratio
					after[[2]int{flat[i-1], flat[i]}]++
				}
			}
			lo, hi := math.MaxInt, 0
			for a := range n {
				for b := range n {
					if a != b {
						lo, hi = min(lo, after[[2]int{a, b}]), max(hi, after[[2]int{a, b}])
					}
				}
			}
			if hi-lo > 1 {
				t.Errorf("n=%d, %d rounds: a scenario runs directly after another one from %d to %d times, want within 1 (sequence %v)", n, rounds, lo, hi, flat)
			}
			for sc, ps := range position {
				if slices.Min(ps) != slices.Max(ps) {
					t.Errorf("n=%d, %d rounds: scenario %d ran %v times in each position, want equally often", n, rounds, sc, ps)
				}
			}
		}
	}
}

// TestSettleSlotDoesNotCollect: the settle only pauses. A collection there
// would reset the heap goal before every slot, so that each slot paid
// only for the whole cycles inside it and the garbage it left at its end
// were collected by the next settle, charged to nobody: the path that
// allocates more would look cheaper than it is. (Automatic collection is
// off during the test, so any cycle counted is a forced one.)
func TestSettleSlotDoesNotCollect(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	settleSlot()
	runtime.ReadMemStats(&after)
	if n := after.NumGC - before.NumGC; n != 0 {
		t.Errorf("settleSlot ran %d collections, want none", n)
	}
}

// TestRoundCounts: every phase runs a whole number of periods of the
// rounds' orders: the comparison at one rate the fewest at or above 3,
// and a sequential phase capped by --sequential the most that fit in it,
// when that is at least 6 (below, one round per request).
func TestRoundCounts(t *testing.T) {
	for n := 1; n <= 8; n++ {
		p := roundPeriod(n)
		if c := compareRoundsFor(n); c%p != 0 || c < 3 || c-p >= 3 {
			t.Errorf("n=%d: %d comparison rounds, want the least multiple of %d at or above 3", n, c, p)
		}
		for q := 1; q <= sequentialRoundsFor(n)+3; q++ {
			got := (&Options{Sequential: q}).sequentialRounds(n)
			want := min(q, sequentialRoundsFor(n))
			if whole := q / p * p; q < sequentialRoundsFor(n) && whole >= minConcurrencyRounds {
				want = whole
			}
			if got != want {
				t.Errorf("n=%d, --sequential %d: %d rounds, want %d", n, q, got, want)
			}
		}
	}
}

// TestInterleaveSettlesEachSlot: every measured slot of an interleaved
// phase follows a settle, so that the previous slot's garbage and
// leftover work are not charged to it.
func TestInterleaveSettlesEachSlot(t *testing.T) {
	var got []string
	interleave([][]int{{0, 1, 2}, {2, 0, 1}}, func() { got = append(got, "settle") }, func(r, i int) {
		got = append(got, fmt.Sprintf("%d:%d", r, i))
	})
	want := []string{"settle", "0:0", "settle", "0:1", "settle", "0:2", "settle", "1:2", "settle", "1:0", "settle", "1:1"}
	if !slices.Equal(got, want) {
		t.Errorf("interleave ran %v, want %v", got, want)
	}
}

// TestReportJSONMostlyFailed: when half or more of a spread's rounds
// failed its median is +Inf; the ratio copied from it is written as null
// like the spread's own median, and the report still encodes.
func TestReportJSONMostlyFailed(t *testing.T) {
	m := modeFixture(0.34, 600, 0.25, 0.15)
	fwd := m.scenario(MeridianForwarded)
	for r := range fwd.SequentialRoundsP50 {
		if r%4 != 0 {
			fwd.SequentialRoundsP50[r] = 0 // the forwarded path failed this round
		}
	}
	lf := m.Concurrency[0].scenario(MeridianForwarded)
	for r := range lf.Rounds {
		if r%4 != 0 {
			lf.Rounds[r].Errors = lf.Rounds[r].Requests
		}
	}
	m.derive()
	m.Concurrency[0].derive()
	if !math.IsInf(fwd.SequentialRatio, 1) || !math.IsInf(lf.CPURatio, 1) {
		t.Fatalf("ratios = %g sequential, %g CPU; want +Inf, the medians of mostly failed rounds", fwd.SequentialRatio, lf.CPURatio)
	}
	var b bytes.Buffer
	if err := (&Report{Modes: []ModeReport{m}}).WriteJSON(&b); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	var back struct {
		Modes []struct {
			Scenarios   []map[string]json.RawMessage `json:"scenarios"`
			Concurrency []struct {
				Scenarios []map[string]json.RawMessage `json:"scenarios"`
			} `json:"concurrency"`
		} `json:"modes"`
	}
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		obj  map[string]json.RawMessage
		key  string
		want float64 // NaN: null
	}{
		{"forwarded sequential ratio", back.Modes[0].Scenarios[3], "sequential_ratio", math.NaN()},
		{"local sequential ratio", back.Modes[0].Scenarios[2], "sequential_ratio", 1.2},
		{"forwarded CPU ratio", back.Modes[0].Concurrency[0].Scenarios[3], "cpu_ratio", math.NaN()},
		{"local CPU ratio", back.Modes[0].Concurrency[0].Scenarios[2], "cpu_ratio", 1.5},
	}
	for _, tc := range tests {
		raw := string(tc.obj[tc.key])
		var got float64
		switch err := json.Unmarshal(tc.obj[tc.key], &got); {
		case math.IsNaN(tc.want) && raw != "null":
			t.Errorf("%s: %s = %s, want null", tc.name, tc.key, raw)
		case !math.IsNaN(tc.want) && (err != nil || math.Abs(got-tc.want) > 1e-9):
			t.Errorf("%s: %s = %s, want %g", tc.name, tc.key, raw, tc.want)
		}
	}
}

// TestDeriveBaselineErrors: a round in which direct or the bare proxy had
// any error has no CPU ratio (the baseline's CPU per success rose with
// its failures), nor, for the bare proxy's errors, a throughput ratio;
// the single-figure fallback at the comparison rate likewise.
func TestDeriveBaselineErrors(t *testing.T) {
	fig := func(errs int, rate, cpu float64) RoundFigures {
		return RoundFigures{Requests: 100, Errors: errs, Throughput: rate, CPUSecondsPer1k: cpu}
	}
	rounds := func(f RoundFigures, at int, g RoundFigures) []RoundFigures {
		rs := slices.Repeat([]RoundFigures{f}, 6)
		rs[at] = g
		return rs
	}
	l := LevelReport{InFlight: 32, Scenarios: []LevelScenario{
		{Name: Direct, Requests: 600, CPUSecondsPer1k: 0.1, Rounds: rounds(fig(0, 2000, 0.1), 1, fig(10, 1800, 0.12))},
		{Name: BareProxy, Requests: 600, CPUSecondsPer1k: 0.2, Rounds: rounds(fig(0, 1000, 0.2), 2, fig(50, 500, 0.4))},
		{Name: MeridianLocal, Requests: 600, CPUSecondsPer1k: 0.25, Rounds: slices.Repeat([]RoundFigures{fig(0, 900, 0.25)}, 6)},
	}}
	l.derive()
	s := l.scenario(MeridianLocal)
	approx := cmpopts.EquateApprox(0, 1e-9)
	tests := []struct {
		name      string
		got, want Spread
	}{
		{"throughput", s.ThroughputSpread, Spread{Median: 0.9, Min: 0.9, Max: 0.9, Rounds: []float64{0.9, 0.9, 0.9, 0.9, 0.9}, Undefined: 1}},
		{"CPU", s.CPUSpread, Spread{Median: 1.5, Min: 1.5, Max: 1.5, Rounds: []float64{1.5, 1.5, 1.5, 1.5}, Undefined: 2}},
	}
	for _, tc := range tests {
		if d := cmp.Diff(tc.want, tc.got, approx); d != "" {
			t.Errorf("%s ratio rounds mismatch (-want +got):\n%s", tc.name, d)
		}
	}
	for _, errs := range []struct{ direct, bare int }{{1, 0}, {0, 1}} {
		m := modeFixture(0.34, 600, 0.25, 0.15)
		at := func(name string, errs int, cpu float64) {
			m.scenario(name).AtRate = StepReport{Summary: Summary{Requests: 100, Errors: errs}, CPUSecondsPer1k: cpu}
		}
		at(Direct, errs.direct, 0.1)
		at(BareProxy, errs.bare, 0.2)
		at(MeridianLocal, 0, 0.25)
		m.derive()
		if got := m.scenario(MeridianLocal).CPURatio; got != 0 {
			t.Errorf("direct %d, bare proxy %d errors at the rate: CPU ratio %g, want none (0)", errs.direct, errs.bare, got)
		}
	}
}

// TestAddedCPUWithoutSuccess: a path with no successful request has no
// CPU per request, so no added CPU either (not 0 minus direct's).
func TestAddedCPUWithoutSuccess(t *testing.T) {
	l := LevelReport{InFlight: 32, Scenarios: []LevelScenario{
		{Name: Direct, Requests: 100, CPUSecondsPer1k: 0.1},
		{Name: MeridianLocal, Requests: 100, Errors: 100},
		{Name: MeridianForwarded, Requests: 100, CPUSecondsPer1k: 0.4},
	}}
	l.derive()
	m := modeFixture(0.34, 600, 0.25, 0.15)
	m.scenario(Direct).AtRate = StepReport{Summary: Summary{Requests: 100}, CPUSecondsPer1k: 0.1}
	m.scenario(MeridianLocal).AtRate = StepReport{Summary: Summary{Requests: 100, Errors: 100}}
	m.scenario(MeridianForwarded).AtRate = StepReport{Summary: Summary{Requests: 100}, CPUSecondsPer1k: 0.4}
	m.derive()
	tests := []struct {
		name string
		got  float64
		want float64 // NaN: none
	}{
		{"level, failing path", l.scenario(MeridianLocal).AddedCPUPer1k, math.NaN()},
		{"level, direct itself", l.scenario(Direct).AddedCPUPer1k, 0},
		{"level, succeeding path", l.scenario(MeridianForwarded).AddedCPUPer1k, 0.3},
		{"at rate, failing path", m.scenario(MeridianLocal).AddedCPUPer1k, math.NaN()},
		{"at rate, succeeding path", m.scenario(MeridianForwarded).AddedCPUPer1k, 0.3},
	}
	for _, tc := range tests {
		if math.IsNaN(tc.want) != math.IsNaN(tc.got) || !math.IsNaN(tc.want) && math.Abs(tc.got-tc.want) > 1e-9 {
			t.Errorf("%s: added CPU = %g, want %g", tc.name, tc.got, tc.want)
		}
	}
	b, err := json.Marshal(l.scenario(MeridianLocal))
	if err != nil || !bytes.Contains(b, []byte(`"added_cpu_seconds_per_1k":null`)) {
		t.Errorf("JSON = %s, %v; want added_cpu_seconds_per_1k null", b, err)
	}
	if b, err = json.Marshal(m.scenario(MeridianLocal)); err != nil || !bytes.Contains(b, []byte(`"added_cpu_seconds_per_1k":null`)) {
		t.Errorf("JSON = %s, %v; want added_cpu_seconds_per_1k null", b, err)
	}
}

// TestRatioFormat: a median ratio of exactly 0 (every round failed, for
// a throughput) prints as 0.00x; only a spread with no round has none.
func TestRatioFormat(t *testing.T) {
	tests := []struct {
		name string
		s    Spread
		want string
	}{
		{"no round", Spread{}, "-"},
		{"median 0", Spread{Median: 0, Min: 0, Max: 0, Rounds: []float64{0, 0, 0}}, "0.00x"},
		{"median 1.5", Spread{Median: 1.5, Rounds: []float64{1.5}}, "1.50x"},
		{"mostly failed", Spread{Median: math.Inf(1), Rounds: []float64{1}, Failed: 2}, "∞"},
	}
	for _, tc := range tests {
		if got := xm(tc.s); got != tc.want {
			t.Errorf("%s: xm = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestSweepsSettle: each target's rate sweep starts after a settle, like
// every interleaved slot, so that the previous phase's leftover work does
// not land in its first step; with a fixed --rate there is no sweep.
func TestSweepsSettle(t *testing.T) {
	tests := []struct {
		name string
		rate float64
		want []string
	}{
		{"sweep", 0, []string{"settle", "sweep 0", "settle", "sweep 1", "settle", "sweep 2"}},
		{"fixed rate", 500, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			sweepEach(3, tc.rate, func() { got = append(got, "settle") }, func(i int) { got = append(got, fmt.Sprintf("sweep %d", i)) })
			if !slices.Equal(got, tc.want) {
				t.Errorf("ran %v, want %v", got, tc.want)
			}
		})
	}
}
