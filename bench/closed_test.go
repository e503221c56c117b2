package bench

import (
	"testing"
	"time"
)

// TestBusyElapsed checks the closed loop's throughput denominator: each
// worker's completions over its own busy time, summed, so that the drain
// at the end of a round (fewer requests in flight) does not count.
func TestBusyElapsed(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		name string
		ok   []int
		busy []time.Duration
		want time.Duration
	}{
		{"workers busy alike", []int{10, 10}, []time.Duration{ms(1000), ms(1000)}, ms(1000)},
		{"one slower worker", []int{10, 5}, []time.Duration{ms(1000), ms(1000)}, ms(1000)},
		// The second worker's last request ended 100ms after the first's:
		// 10/s + 9.09/s, so 20 requests over 20/19.09 s, not over the
		// 1.1s to the last completion.
		{"a drain of 100ms", []int{10, 10}, []time.Duration{ms(1000), ms(1100)}, 1047619048 * time.Nanosecond},
		{"a worker without a completion does not count", []int{10, 0}, []time.Duration{ms(500), ms(2000)}, ms(500)},
		{"no completion", []int{0, 0}, []time.Duration{ms(500), ms(500)}, 0},
		{"no worker", nil, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := busyElapsed(tc.ok, tc.busy)
			if d := got - tc.want; d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("busyElapsed(%v, %v) = %v, want %v", tc.ok, tc.busy, got, tc.want)
			}
		})
	}
}

// TestLevelDeriveAddedCPUWithoutBare: a run without the bare proxy
// (--scenario direct,local) still reports each scenario's CPU above
// direct's; only the ratios need the bare proxy.
func TestLevelDeriveAddedCPUWithoutBare(t *testing.T) {
	l := LevelReport{InFlight: 32, Scenarios: []LevelScenario{
		{Name: Direct, Requests: 600, CPUSecondsPer1k: 0.1, Rounds: []RoundFigures{{Requests: 600, Throughput: 2000, CPUSecondsPer1k: 0.1}}},
		{Name: MeridianLocal, Requests: 600, CPUSecondsPer1k: 0.35, Rounds: []RoundFigures{{Requests: 600, Throughput: 900, CPUSecondsPer1k: 0.35}}},
	}}
	l.derive()
	s := l.scenario(MeridianLocal)
	if d := s.AddedCPUPer1k - 0.25; d < -1e-9 || d > 1e-9 {
		t.Errorf("local's added CPU without the bare proxy = %g, want 0.35 - 0.1 = 0.25", s.AddedCPUPer1k)
	}
	if s.CPURatio != 0 || s.ThroughputRatio != 0 || len(s.CPUSpread.Rounds) != 0 {
		t.Errorf("ratios without the bare proxy: CPU %g, throughput %g, CPU rounds %v; want none", s.CPURatio, s.ThroughputRatio, s.CPUSpread.Rounds)
	}
}
