package bench

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// modeFixture is a non-streaming mode whose sequential p50s are, in ms,
// direct 0.1, bare proxy 0.2 (0.1 added), local 0.22, forwarded as given;
// at 32 in flight the bare proxy serves 1000/s at 0.2 CPU s/1k (0.1 added
// over direct). Every round measured the same as the pool.
func modeFixture(fwdP50, fwdRate, fwdCPU, localCPU float64) ModeReport {
	seq := func(name string, p50 float64) ScenarioReport {
		return ScenarioReport{Name: name, Sequential: Summary{Requests: 10, Latency: Latency{P50: p50}},
			SequentialRoundsP50: slices.Repeat([]float64{p50}, sequentialRoundsFor(4))}
	}
	lvl := func(name string, rate, cpu float64) LevelScenario {
		return LevelScenario{Name: name, Requests: 100, Throughput: rate, CPUSecondsPer1k: cpu,
			Rounds: slices.Repeat([]RoundFigures{{Requests: 100 / concurrencyRoundsFor(4), Throughput: rate, CPUSecondsPer1k: cpu}}, concurrencyRoundsFor(4))}
	}
	m := ModeReport{Mode: "non-streaming", Scenarios: []ScenarioReport{
		seq(Direct, 0.1), seq(BareProxy, 0.2), seq(MeridianLocal, 0.22), seq(MeridianForwarded, fwdP50),
	}, Concurrency: []LevelReport{{InFlight: 32, Scenarios: []LevelScenario{
		lvl(Direct, 2000, 0.1), lvl(BareProxy, 1000, 0.2), lvl(MeridianLocal, 900, 0.1+localCPU), lvl(MeridianForwarded, fwdRate, 0.1+fwdCPU),
	}}}, SequentialRounds: sequentialRoundsFor(4), ConcurrencyRounds: concurrencyRoundsFor(4)}
	m.derive()
	m.Concurrency[0].derive()
	return m
}

// TestEvaluate checks each ratio target on both sides of its bound: the
// targets are pure functions of one run's report.
func TestEvaluate(t *testing.T) {
	tests := []struct {
		name string
		mode ModeReport
		goal string // a substring of the goal's name; with a trailing $, its end
		met  bool   // and settled so: every round measured the same
	}{
		{"local sequential within 1.3x of bare", modeFixture(0.34, 600, 0.25, 0.15), "sequential added latency p50, meridian-local", true},
		{"forwarded beyond local within 500µs", modeFixture(0.34, 600, 0.25, 0.15), "sequential p50 beyond local$", true},
		{"forwarded beyond local past 500µs", modeFixture(0.73, 600, 0.25, 0.15), "sequential p50 beyond local$", false},
		{"forwarded beyond local within 1.3x of bare", modeFixture(0.34, 600, 0.25, 0.15), "beyond local, vs the bare proxy", true},
		{"forwarded beyond local past 1.3x of bare", modeFixture(0.36, 600, 0.25, 0.15), "beyond local, vs the bare proxy", false},
		{"forwarded CPU within 3x", modeFixture(0.3, 600, 0.29, 0.15), "meridian-forwarded CPU", true},
		{"forwarded CPU past 3x", modeFixture(0.3, 600, 0.31, 0.15), "meridian-forwarded CPU", false},
		{"local CPU within 2x", modeFixture(0.3, 600, 0.25, 0.19), "meridian-local CPU", true},
		{"local CPU past 2x", modeFixture(0.3, 600, 0.25, 0.21), "meridian-local CPU", false},
		{"forwarded throughput at half", modeFixture(0.3, 500, 0.25, 0.15), "throughput at 32", true},
		{"forwarded throughput below half", modeFixture(0.3, 499, 0.25, 0.15), "throughput at 32", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gs := evaluate(&Report{Modes: []ModeReport{tc.mode}})
			var found []Goal
			for _, g := range gs {
				if strings.Contains(g.Name, tc.goal) || strings.HasSuffix(tc.goal, "$") && strings.HasSuffix(g.Name, strings.TrimSuffix(tc.goal, "$")) {
					found = append(found, g)
				}
			}
			if len(found) != 1 {
				t.Fatalf("%d goals named %q in %+v, want 1", len(found), tc.goal, gs)
			}
			if found[0].Met != tc.met || found[0].Verdict != single(tc.met) {
				t.Errorf("%s: %s (want %s): met = %v, verdict %v; want %v, %v", found[0].Name, found[0].Value, found[0].Want,
					found[0].Met, found[0].Verdict, tc.met, single(tc.met))
			}
		})
	}
}

// TestEvaluateLeavesOutMissingScenarios: a run restricted to one scenario
// (to profile it) lists no target it cannot compute.
func TestEvaluateLeavesOutMissingScenarios(t *testing.T) {
	m := modeFixture(0.3, 600, 0.25, 0.15)
	m.Scenarios = m.Scenarios[3:] // meridian-forwarded only
	m.Concurrency[0].Scenarios = m.Concurrency[0].Scenarios[3:]
	if gs := evaluate(&Report{Modes: []ModeReport{m}}); len(gs) != 0 {
		t.Errorf("goals of a forwarded-only run = %+v, want none", gs)
	}
}

func TestEvaluateForwardedStreams(t *testing.T) {
	base := StreamsReport{Streams: 1000, RSSBytes: 200 << 20, DirectRSSBytes: 100 << 20, GoroutinesAfter: 22, BaselineGoroutines: 22}
	tests := []struct {
		name string
		f    Wave
		met  bool
	}{
		{"under 150MB, all open", Wave{Open: 1000, RSSBytes: 240 << 20, GoroutinesAfter: 30}, true},
		{"over 150MB", Wave{Open: 1000, RSSBytes: 260 << 20, GoroutinesAfter: 30}, false},
		{"not all open at once", Wave{Open: 600, RSSBytes: 200 << 20, GoroutinesAfter: 30}, false},
		{"errors", Wave{Open: 1000, Errors: 1, RSSBytes: 200 << 20, GoroutinesAfter: 30}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			s.Forwarded = &tc.f
			for _, g := range evaluate(&Report{Streams: &s}) {
				if strings.Contains(g.Name, "forwarded streams: the two nodes' RSS") {
					if g.Met != tc.met {
						t.Errorf("%s: %s: met = %v, want %v", g.Name, g.Value, g.Met, tc.met)
					}
					return
				}
			}
			t.Error("no forwarded streams RSS goal")
		})
	}
}

func TestParseConcurrency(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		ok   bool
	}{
		{"1,32,256", []int{1, 32, 256}, true},
		{" 8 , 8 ", []int{8}, true},
		{"none", []int{}, true},
		{"0", nil, false},
		{"1,x", nil, false},
		{"5000", nil, false},
		{"", nil, false},
	}
	for _, tc := range tests {
		got, err := ParseConcurrency(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseConcurrency(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && (len(got) != len(tc.want) || got == nil || !slices.Equal(got, tc.want)) {
			t.Errorf("ParseConcurrency(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

// TestGoalJSONMet: consumers of the JSON read met as the verdict, so met
// is true only when the run settles the target as met; median_meets tells
// the median's side.
func TestGoalJSONMet(t *testing.T) {
	spread := func(rounds ...float64) Spread {
		return spreadOf(len(rounds), func(r int) (float64, bool) { return rounds[r], true })
	}
	tests := []struct {
		name string
		s    Spread
		want string
	}{
		{"met", spread(1.1, 1.2, 1.15, 1.25, 1.2, 1.1), `"met":true,"median_meets":true,"verdict":"met"`},
		{"unsettled, median within", spread(1.1, 1.2, 1.15, 1.25, 1.2, 1.4), `"met":false,"median_meets":true,"verdict":"unsettled"`},
		{"unsettled, median past", spread(1.1, 1.35, 1.4, 1.45, 1.4, 1.5), `"met":false,"median_meets":false,"verdict":"unsettled"`},
		{"missed", spread(1.31, 1.35, 1.4, 1.45, 1.4, 1.5), `"met":false,"median_meets":false,"verdict":"missed"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := perRoundGoal("g", "pooled", tc.s, xSigned, bound{limit: 1.3}, "<= 1.30x")
			g.Rounds = nil
			b, err := json.Marshal(g)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), tc.want) {
				t.Errorf("goal JSON = %s, want it to contain %s", b, tc.want)
			}
		})
	}
	// A target computed from one figure: met and median_meets agree.
	gs := evaluate(&Report{Streams: &StreamsReport{Streams: 10, RSSBytes: 200 << 20, DirectRSSBytes: 100 << 20}})
	if len(gs) == 0 || !gs[0].Met || !gs[0].MedianMeets || gs[0].Verdict != Met {
		t.Errorf("single-figure goal %+v: want met, median_meets, verdict met", gs)
	}
}

// TestEvaluateCPUFallbackBaselineErrors: without the closed-loop level the
// CPU targets read the comparison at one rate; when a baseline had errors
// there, it has no ratio and the target is unsettled, not missed.
func TestEvaluateCPUFallbackBaselineErrors(t *testing.T) {
	tests := []struct {
		name         string
		direct, bare int // errors at the rate
		want         Verdict
	}{
		{"clean baselines", 0, 0, Met},
		{"direct errors", 3, 0, Unsettled},
		{"bare proxy errors", 0, 3, Unsettled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := modeFixture(0.34, 600, 0.25, 0.15)
			m.Concurrency = nil
			at := func(name string, errs int, cpu float64) {
				m.scenario(name).AtRate = StepReport{Summary: Summary{Requests: 100, Errors: errs}, CPUSecondsPer1k: cpu}
			}
			at(Direct, tc.direct, 0.1)
			at(BareProxy, tc.bare, 0.2)
			at(MeridianLocal, 0, 0.25)
			at(MeridianForwarded, 0, 0.3)
			m.derive()
			for _, g := range evaluate(&Report{Modes: []ModeReport{m}}) {
				if strings.Contains(g.Name, "meridian-local CPU") && g.Verdict != tc.want {
					t.Errorf("%s: %v (%s), want %v", g.Name, g.Verdict, g.Value, tc.want)
				}
			}
		})
	}
}
