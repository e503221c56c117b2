package sim_test

import (
	"testing"

	"github.com/meridian-gateway/meridian/internal/sim"
)

// TestTierTargets pins what the tiers-priority scenario shows: under
// Meridian's default strategy priority requests keep their p99 time to first
// token (at most 1.1x the oracle's over all requests, and below default
// traffic's) and are throttled at most a quarter as often as default ones,
// while the baselines, which know no tiers, throttle both alike.
func TestTierTargets(t *testing.T) {
	t.Parallel()
	if raceEnabled {
		t.Skip("the full scenario takes 10x longer under the race detector")
	}
	sc := load(t, "tiers-priority.yaml")
	rep, err := sim.Compare(t.Context(), sc, []string{"locality-first", sim.Oracle}, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := byStrategy(rep)
	tiers := func(res *sim.Result) map[string]sim.TierResult {
		m := map[string]sim.TierResult{}
		for _, x := range res.Tiers {
			m[x.Tier] = x
		}
		return m
	}
	def, oracle := tiers(r["locality-first"]), tiers(r[sim.Oracle])
	prio, std := def["priority"], def["default"]
	if prio.Requests == 0 || std.Requests == 0 {
		t.Fatalf("tiers %+v, want priority and default traffic", r["locality-first"].Tiers)
	}
	if limit := r[sim.Oracle].TTFT.P99 * 11 / 10; prio.TTFT.P99 > limit {
		t.Errorf("priority p99 TTFT %v, want at most 1.1x the oracle's %v", prio.TTFT.P99, r[sim.Oracle].TTFT.P99)
	}
	if prio.TTFT.P99 > std.TTFT.P99 {
		t.Errorf("priority p99 TTFT %v above default's %v", prio.TTFT.P99, std.TTFT.P99)
	}
	if prio.ThrottledPct > std.ThrottledPct/4 {
		t.Errorf("priority throttled %.2f%%, want at most a quarter of default's %.2f%%", prio.ThrottledPct, std.ThrottledPct)
	}
	if o := oracle["priority"]; o.ThrottledPct < oracle["default"].ThrottledPct/2 {
		t.Errorf("oracle (no tiers) throttled priority %.2f%% and default %.2f%%: the scenario no longer saturates", o.ThrottledPct, oracle["default"].ThrottledPct)
	}
}
