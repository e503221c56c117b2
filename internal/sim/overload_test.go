package sim_test

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/sim"
)

// TestOverloadTargets pins the routing targets on every shipped scenario
// (bursts, outages, sustained overload of a whole geography, overload plus a
// node loss, overlapping incidents), with each scenario's own seed: the
// default strategy's p99 TTFT is within 1.2x of the oracle's, it throttles
// at most one point more and fails at most half a point more than the
// oracle, and never serves a request outside the profile. A queue that
// makes callers wait and then serves no more than the oracle did (a 2x
// tail under sustained overload) fails the first target.
func TestOverloadTargets(t *testing.T) {
	t.Parallel()
	if raceEnabled {
		t.Skip("the full scenarios take 10x longer under the race detector; TestResidency covers them shortened")
	}
	files, err := filepath.Glob(filepath.Join(scenarioDir, "*.yaml"))
	if err != nil || len(files) < 8 {
		t.Fatalf("found scenarios %v (%v), want at least 8", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			sc := load(t, filepath.Base(f))
			rep, err := sim.Compare(t.Context(), sc, []string{"locality-first", sim.Oracle}, 0)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			_ = sim.Write(&buf, rep, sim.Table)
			t.Logf("\n%s", buf.String())
			r := byStrategy(rep)
			def, oracle := r["locality-first"], r[sim.Oracle]
			if limit := time.Duration(1.2 * float64(oracle.TTFT.P99)); def.TTFT.P99 > limit {
				t.Errorf("p99 TTFT %v, want at most 1.2x the oracle's %v (%v)", def.TTFT.P99, oracle.TTFT.P99, limit)
			}
			if def.ThrottledPct > oracle.ThrottledPct+1 {
				t.Errorf("throttled %.2f%%, want at most the oracle's %.2f%% + 1 point", def.ThrottledPct, oracle.ThrottledPct)
			}
			if def.FailedPct > oracle.FailedPct+0.5 {
				t.Errorf("failed %.2f%%, want at most the oracle's %.2f%% + 0.5 point", def.FailedPct, oracle.FailedPct)
			}
			if def.ResidencyViolations != 0 {
				t.Errorf("%d residency violations, want 0", def.ResidencyViolations)
			}
			if def.Queued > 0 && def.QueueWait.P99 > sc.Routing.Options(sc.Profile.ID).QueueMaxWait {
				t.Errorf("queue wait p99 %v, above the wait budget %v", def.QueueWait.P99, sc.Routing.Options(sc.Profile.ID).QueueMaxWait)
			}
		})
	}
}
