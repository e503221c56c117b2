package sim_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/routing"
	"github.com/meridian-gateway/meridian/internal/sim"
)

const scenarioDir = "../../scenarios"

func load(t testing.TB, name string) *sim.Scenario {
	t.Helper()
	path := filepath.Join(scenarioDir, name)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc, err := sim.ParseScenario(f, path)
	if err != nil {
		t.Fatalf("ParseScenario(%s): %v", path, err)
	}
	return sc
}

func byStrategy(rep *sim.Report) map[string]*sim.Result {
	m := map[string]*sim.Result{}
	for _, r := range rep.Results {
		m[r.Strategy] = r
	}
	return m
}

// TestEUBurstTargets checks the routing targets on the shipped EU burst.
func TestEUBurstTargets(t *testing.T) {
	t.Parallel()
	sc := load(t, "eu-burst.yaml")
	rep, err := sim.Compare(t.Context(), sc, []string{"locality-first", "least-loaded", sim.InRegionOnly, sim.Oracle}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_ = sim.Write(&buf, rep, sim.Table)
	t.Logf("\n%s", buf.String())
	r := byStrategy(rep)
	def, iro, oracle, ll := r["locality-first"], r[sim.InRegionOnly], r[sim.Oracle], r["least-loaded"]

	if iro.Throttled == 0 {
		t.Fatalf("in-region-only throttled nothing: the scenario does not exceed one region")
	}
	if def.Throttled*10 > iro.Throttled {
		t.Errorf("locality-first throttled %d requests, want at most a tenth of in-region-only's %d", def.Throttled, iro.Throttled)
	}
	if limit := time.Duration(1.2 * float64(oracle.TTFT.P99)); def.TTFT.P99 > limit {
		t.Errorf("locality-first p99 TTFT %v, want within 1.2x of oracle's %v (%v)", def.TTFT.P99, oracle.TTFT.P99, limit)
	}
	// "No more traffic cross-region than needed": reported next to
	// least-loaded's, and far below it.
	t.Logf("cross-region share: locality-first %.1f%%, least-loaded %.1f%%, oracle %.1f%%",
		100*def.CrossRegionShare, 100*ll.CrossRegionShare, 100*oracle.CrossRegionShare)
	if def.CrossRegionShare >= ll.CrossRegionShare {
		t.Errorf("locality-first cross-region share %.3f, want below least-loaded's %.3f", def.CrossRegionShare, ll.CrossRegionShare)
	}
}

// TestResidency: no Meridian strategy ever serves a request outside the
// profile's destination set, on any shipped scenario.
func TestResidency(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(scenarioDir, "*.yaml"))
	if err != nil || len(files) < 4 {
		t.Fatalf("found scenarios %v (%v), want at least 4", files, err)
	}
	var meridian []string
	for _, s := range sim.Strategies() {
		if sim.Meridian(s) {
			meridian = append(meridian, s)
		}
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			sc := load(t, filepath.Base(f))
			if testing.Short() || raceEnabled {
				// Keep the test quick: a few minutes still cover bursts,
				// outages and part of the diurnal cycle.
				sc.Duration = min(sc.Duration, 8*60*1e9)
			}
			rep, err := sim.Compare(t.Context(), sc, meridian, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rep.Results {
				if r.ResidencyViolations != 0 {
					t.Errorf("%s: %s served %d requests outside the profile", sc.Name, r.Strategy, r.ResidencyViolations)
				}
				if r.Completed == 0 {
					t.Errorf("%s: %s completed nothing", sc.Name, r.Strategy)
				}
			}
		})
	}
}

// TestResidencyCounted proves the counter works: in-region-only serves a
// source region that is not a destination.
func TestResidencyCounted(t *testing.T) {
	t.Parallel()
	sc := load(t, "eu-burst.yaml")
	sc.Duration = 30 * 1e9
	sc.Traffic[0].Source = "us-east-1"
	r, err := sim.Run(t.Context(), sc, sim.InRegionOnly, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.ResidencyViolations == 0 {
		t.Errorf("in-region-only from us-east-1 on an EU profile: 0 violations, want > 0")
	}
	r, _ = sim.Run(t.Context(), sc, "locality-first", 1)
	if r.ResidencyViolations != 0 {
		t.Errorf("locality-first from us-east-1 on an EU profile: %d violations, want 0", r.ResidencyViolations)
	}
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	sc := load(t, "us-outage.yaml")
	sc.Duration = 4 * 60 * 1e9
	out := func(seed uint64) string {
		rep, err := sim.Compare(t.Context(), sc, sim.Strategies(), seed)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := sim.Write(&b, rep, sim.JSON); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	a, b := out(7), out(7)
	if a != b {
		t.Errorf("seed 7 gave two different reports:\n%s\n%s", a, b)
	}
	if c := out(8); c == a {
		t.Errorf("seeds 7 and 8 gave the same report")
	}
}

func TestWriteFormats(t *testing.T) {
	t.Parallel()
	sc := load(t, "token-heavy.yaml")
	sc.Duration = 60 * 1e9
	rep, err := sim.Compare(t.Context(), sc, []string{"locality-first", sim.Oracle}, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []sim.Format{sim.Table, sim.CSV, sim.JSON} {
		var b bytes.Buffer
		if err := sim.Write(&b, rep, f); err != nil {
			t.Fatalf("Write(%s): %v", f, err)
		}
		if !strings.Contains(b.String(), "locality-first") || !strings.Contains(b.String(), "oracle") {
			t.Errorf("Write(%s) = %q, want both strategies", f, b.String())
		}
	}
	if err := sim.Write(&bytes.Buffer{}, rep, "xml"); err == nil {
		t.Error("Write(xml) = nil, want an error")
	}
}

func TestParseScenarioErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown field", "name: x\nduraton: 1m\n", []string{"field duraton not found"}},
		{"empty", "name: x\n", []string{"duration: must be positive", "regions: at least one", "profile.id: is empty", "traffic: at least one"}},
		{"undefined regions", `
duration: 1m
profile: { id: p, destinations: [mars-1] }
regions: [{ id: eu-west-1 }]
deployments: [{ region: venus-1 }]
traffic: [{ source: eu-west-1, rate: 1, prompt_tokens: { fixed: 1 }, output_tokens: {} }]
events: [{ at: 1s, region: eu-west-1, kind: explode }]
`, []string{`profile.destinations[0]: "mars-1" is not a defined region`, `deployments[0].region: "venus-1"`,
			"traffic[0].output_tokens: set fixed", `events[0].kind: "explode"`}},
		{"bad routing", "duration: 1m\nrouting: { strategy: fastest }\n", []string{`unknown strategy "fastest"`}},
		{"unknown tier", "duration: 1m\nregions: [{ id: r }]\ntraffic: [{ source: r, tier: gold, prompt_tokens: { fixed: 1 }, output_tokens: { fixed: 1 } }]\n",
			[]string{`traffic[0].tier: "gold" is not a service tier`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := sim.ParseScenario(strings.NewReader(tc.yaml), "test.yaml")
			if err == nil {
				t.Fatalf("ParseScenario(%q) = nil error, want %q", tc.yaml, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("ParseScenario error %q, want it to contain %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "test.yaml: ") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	if _, err := sim.Run(t.Context(), load(t, "eu-burst.yaml"), "fastest", 1); err == nil {
		t.Error("Run(unknown strategy) = nil error")
	}
}

// cpuTime returns the user plus system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMillion simulates about a million requests of the follow-the-sun
// scenario (six regions, global profile) under the default strategy.
func BenchmarkMillion(b *testing.B) {
	sc := load(b, "follow-the-sun.yaml")
	sc.Duration = 264 * 60 * 1e9 // 11 simulated days: ~1.0M requests
	for _, s := range []string{"locality-first", sim.Oracle} {
		b.Run(s, func(b *testing.B) {
			var n int
			cpu := cpuTime()
			for b.Loop() {
				r, err := sim.Run(b.Context(), sc, s, 1)
				if err != nil {
					b.Fatal(err)
				}
				n += r.Requests
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "requests/s")
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/run")
			// CPU time is steadier than wall time on a shared machine.
			b.ReportMetric((cpuTime()-cpu).Seconds()/float64(b.N), "cpu-s/run")
		})
	}
}

// TestOutageRecovery: after us-east-1 recovers, a probe closes its circuit
// and traffic ramps back to it.
func TestOutageRecovery(t *testing.T) {
	t.Parallel()
	sc := load(t, "us-outage.yaml")
	served := func(d time.Duration) int {
		sc := *sc
		sc.Duration = routingDuration(d)
		r, err := sim.Run(t.Context(), &sc, "locality-first", 1)
		if err != nil {
			t.Fatal(err)
		}
		return r.ServedByRegion["us-east-1"]
	}
	atRecovery, later := served(6*time.Minute), served(9*time.Minute)
	// us-east-1's own clients alone send 14 requests/s: most of three
	// minutes' worth must come back home.
	if got := later - atRecovery; got < 2000 {
		t.Errorf("us-east-1 served %d requests in the 3 minutes after recovery, want at least 2000", got)
	}
	during := served(3*time.Minute+30*time.Second) - served(3*time.Minute+10*time.Second)
	if during > 30 {
		t.Errorf("us-east-1 served %d requests 10-30s into its outage, want almost none", during)
	}
}

func FuzzParseScenario(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(scenarioDir, "*.yaml"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(string(b))
		}
	}
	f.Add("duration: 1m\nregions: [{id: a}]\nprofile: {id: p, destinations: [a]}\n")
	f.Fuzz(func(t *testing.T, data string) {
		sc, err := sim.ParseScenario(strings.NewReader(data), "fuzz.yaml")
		if err != nil {
			return
		}
		// A valid scenario must run without panicking; keep it short.
		sc.Duration = min(sc.Duration, routingDuration(2*time.Second))
		for i := range sc.Traffic {
			sc.Traffic[i].Rate = min(sc.Traffic[i].Rate, 50)
			sc.Traffic[i].Bursts = nil
		}
		if _, err := sim.Run(t.Context(), sc, "locality-first", 1); err != nil {
			t.Fatalf("Run of a valid scenario: %v", err)
		}
	})
}

func routingDuration(d time.Duration) routing.Duration { return routing.Duration(d) }

// TestTopologyScenario: a scenario can simulate a Meridian topology file as
// written; the profile catalog gives the destination set.
func TestTopologyScenario(t *testing.T) {
	t.Parallel()
	sc := load(t, "example-topology.yaml")
	if got, want := strings.Join(sc.Profile.Destinations, ","), "eu-central-1,eu-west-1"; got != want {
		t.Errorf("claims-eu destinations = %s, want %s", got, want)
	}
	if sc.Model != "demo.chat-small" || len(sc.Regions) != 4 || len(sc.Deployments) != 4 {
		t.Errorf("model %q, %d regions, %d deployments; want demo.chat-small, 4, 4", sc.Model, len(sc.Regions), len(sc.Deployments))
	}
	for _, d := range sc.Deployments {
		if d.Capacity.MaxConcurrency == 0 || d.TokensPerSecond != 60 {
			t.Errorf("deployment %s = %+v, want the topology's capacity and the defaults' latency model", d.Region, d)
		}
	}
	bad := "name: x\ntopology_file: topology/config.example.yaml\nduration: 1m\nprofile: { id: apac.demo.chat-small }\n"
	_, err := sim.ParseScenario(strings.NewReader(bad), filepath.Join(scenarioDir, "bad.yaml"))
	if err == nil || !strings.Contains(err.Error(), `"apac.demo.chat-small" is not a profile of the topology`) {
		t.Errorf("unknown profile: error %v", err)
	}
}

func TestCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := sim.Compare(ctx, load(t, "eu-burst.yaml"), sim.Strategies(), 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Compare with a canceled context = %v, want context.Canceled", err)
	}
}

// TestPerSourceDestinations: a profile's per-source sets (as a topology's
// profiles.system.<id>.sources gives them) bound where each source's
// requests run, even when the profile's union is wider.
func TestPerSourceDestinations(t *testing.T) {
	t.Parallel()
	sc := load(t, "eu-burst.yaml")
	sc.Profile.Sources = map[string][]string{}
	for _, src := range []string{"eu-west-1", "eu-central-1", "eu-west-3", "eu-north-1"} {
		sc.Profile.Sources[src] = []string{"eu-central-1", "eu-north-1"}
	}
	res, err := sim.Run(t.Context(), sc, "locality-first", 1)
	if err != nil {
		t.Fatal(err)
	}
	if res.ResidencyViolations != 0 {
		t.Errorf("residency violations = %d, want 0", res.ResidencyViolations)
	}
	for _, r := range []string{"eu-west-1", "eu-west-3"} {
		if n := res.ServedByRegion[r]; n != 0 {
			t.Errorf("%d requests served in %s, which no source may reach", n, r)
		}
	}
	if res.ServedByRegion["eu-central-1"] == 0 {
		t.Error("nothing served in eu-central-1")
	}
}

// TestPerSourceValidation: a per-source destination must be one of the
// profile's destinations.
func TestPerSourceValidation(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(scenarioDir, "eu-burst.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	in := strings.Replace(string(b), "  destinations: [eu-west-1, eu-central-1, eu-west-3, eu-north-1]\n",
		"  destinations: [eu-west-1, eu-central-1, eu-west-3, eu-north-1]\n  sources: { eu-west-1: [us-east-1] }\n", 1)
	_, err = sim.ParseScenario(strings.NewReader(in), filepath.Join(scenarioDir, "bad.yaml"))
	if err == nil || !strings.Contains(err.Error(), "profile.sources.eu-west-1[0]") {
		t.Errorf("per-source destination outside the set: error %v", err)
	}
}
