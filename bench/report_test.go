package bench

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/report/*/table.txt from the fixtures")

// TestWriteTableGolden pins the printed report, columns and targets, for a
// fixed run: a full one, one restricted to the forwarded path, and one
// whose rounds straddle targets.
func TestWriteTableGolden(t *testing.T) {
	full := modeFixture(0.34, 600, 0.25, 0.15)
	full.CompareRate = 500
	for i := range full.Scenarios {
		full.Scenarios[i].MaxRate = 500 * float64(4-i)
	}
	full.derive()
	// A run restricted to the forwarded path: nothing to subtract or
	// divide by.
	one := ModeReport{Mode: "streaming", CompareRate: 200, Scenarios: []ScenarioReport{{Name: MeridianForwarded,
		Sequential: Summary{Requests: 100, Latency: Latency{P50: 0.9, P90: 1.1, P99: 1.5, P999: 2}}, MaxRate: 200,
		AtRate: StepReport{Rate: 200, Throughput: 199, Summary: Summary{Requests: 200, Latency: Latency{P50: 1, P90: 2, P99: 3, P999: 4}}, CPUSecondsPer1k: 1.2}}},
		Concurrency: []LevelReport{{InFlight: 32, Scenarios: []LevelScenario{{Name: MeridianForwarded, Requests: 500, Throughput: 250,
			Latency: Latency{P50: 80, P99: 200}, CPUSecondsPer1k: 1.3}}}},
		SequentialRounds: sequentialRoundsFor(1), ConcurrencyRounds: concurrencyRoundsFor(1)}
	one.derive()
	one.Concurrency[0].derive()
	// Rounds that disagree: the forwarded path's CPU and throughput
	// straddle their targets, the local path's CPU has a round in which
	// the bare proxy cost no more than direct, and the sequential rounds
	// of local straddle 1.3x.
	split := modeFixture(0.34, 600, 0.25, 0.15)
	lvl := &split.Concurrency[0]
	for r := range concurrencyRoundsFor(4) {
		lvl.scenario(MeridianForwarded).Rounds[r].CPUSecondsPer1k = 0.1 + []float64{0.25, 0.28, 0.31, 0.33, 0.27, 0.29, 0.26, 0.30}[r]
		lvl.scenario(MeridianForwarded).Rounds[r].Throughput = []float64{600, 450, 520, 480, 560, 490, 530, 470}[r]
	}
	lvl.scenario(BareProxy).Rounds[5].CPUSecondsPer1k = 0.1
	for r, p50 := range []float64{0.22, 0.24, 0.23, 0.205, 0.22, 0.25, 0.22, 0.24, 0.22, 0.22, 0.23, 0.21} {
		split.scenario(MeridianLocal).SequentialRoundsP50[r] = p50
	}
	// The forwarded path failed every sequential request of the last
	// round: that round scores on the failing side.
	split.scenario(MeridianForwarded).SequentialRoundsP50[len(split.scenario(MeridianForwarded).SequentialRoundsP50)-1] = 0
	split.derive()
	lvl.derive()
	machine := Machine{CPUs: 8, GOMAXPROCS: 8, CPUModel: "Test CPU", GoVersion: "go1.x", OS: "linux", Arch: "amd64"}
	settings := Settings{SequentialRounds: sequentialRoundsFor(4), ConcurrencyRounds: concurrencyRoundsFor(4)}
	tests := []struct {
		name string
		rep  Report
	}{
		{"full", Report{Machine: machine, Settings: settings, Modes: []ModeReport{full}, Streams: &StreamsReport{Streams: 1000, Open: 1000, RSSBytes: 200 << 20,
			DirectRSSBytes: 100 << 20, BaselineRSSBytes: 20 << 20, HeapBytes: 90 << 20, BaselineGoroutines: 22, Goroutines: 9022, DirectGoroutines: 5022, GoroutinesAfter: 22,
			Forwarded: &Wave{Open: 1000, OpenSeconds: 0.8, RSSBytes: 260 << 20, HeapBytes: 150 << 20, Goroutines: 13022, GoroutinesAfter: 40}}}},
		// The goroutine stacks and heap objects of each wave, next to RSS.
		{"streams-memory", Report{Machine: machine, Streams: &StreamsReport{Streams: 1000, Open: 1000, RSSBytes: 200 << 20,
			DirectRSSBytes: 100 << 20, BaselineRSSBytes: 20 << 20, HeapBytes: 90 << 20, BaselineGoroutines: 22, Goroutines: 9022, DirectGoroutines: 5022, GoroutinesAfter: 22,
			BaselineStackBytes: 1 << 20, BaselineHeapObjectBytes: 8 << 20, DirectStackBytes: 40 << 20, DirectHeapObjectBytes: 30 << 20,
			StackBytes: 70 << 20, HeapObjectBytes: 80 << 20,
			Forwarded: &Wave{Open: 1000, OpenSeconds: 0.8, RSSBytes: 240 << 20, HeapBytes: 120 << 20, Goroutines: 12022, GoroutinesAfter: 40,
				StackBytes: 85 << 20, HeapObjectBytes: 110 << 20}}}},
		{"forwarded-only", Report{Machine: machine, Modes: []ModeReport{one},
			Settings: Settings{Scenarios: []string{MeridianForwarded}, SequentialRounds: sequentialRoundsFor(1), ConcurrencyRounds: concurrencyRoundsFor(1)}}},
		{"unsettled", Report{Machine: machine, Settings: settings, Modes: []ModeReport{split}}},
		// The bare proxy and the nodes in a process of their own: the
		// table says so, and the streams' figures are that process's.
		{"gateway-process", Report{Machine: machine, Settings: Settings{GatewayProcess: true}, Streams: &StreamsReport{Streams: 1000, Open: 1000, GatewayProcess: true,
			RSSBytes: 90 << 20, DirectRSSBytes: 20 << 20, BaselineRSSBytes: 20 << 20, HeapBytes: 60 << 20, BaselineGoroutines: 15, Goroutines: 4015, DirectGoroutines: 15, GoroutinesAfter: 15,
			Forwarded: &Wave{Open: 1000, OpenSeconds: 0.8, RSSBytes: 150 << 20, HeapBytes: 110 << 20, Goroutines: 8015, GoroutinesAfter: 30}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.rep.Targets = evaluate(&tc.rep)
			var got bytes.Buffer
			if err := tc.rep.WriteTable(&got); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "report", tc.name, "table.txt")
			if *update {
				os.MkdirAll(filepath.Dir(path), 0o755)
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("table differs from %s (run with -update after checking):\n%s", path, got.String())
			}
		})
	}
}

// TestMemClasses checks that the runtime reports both memory classes the
// streams report reads: a renamed metric would read as zero and hide the
// breakdown.
func TestMemClasses(t *testing.T) {
	stacks, objects := memClasses()
	if stacks <= 0 || objects <= 0 {
		t.Errorf("memClasses() = %d stack bytes, %d heap object bytes; want both > 0", stacks, objects)
	}
}
