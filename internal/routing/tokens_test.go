package routing_test

import (
	"math"
	"testing"

	"github.com/meridian-gateway/meridian/internal/routing"
)

// TestTrackerTokenSumsSaturate: absurd token counts (a caller's max_tokens
// that got past a front end) fill the TPM window; they never wrap it to a
// negative sum that would read as spare capacity.
func TestTrackerTokenSumsSaturate(t *testing.T) {
	t.Parallel()
	for _, k := range []routing.Key{kLocal, kRemote} {
		tr, clk := newTracker(t, "eu-west-1")
		if k == kRemote {
			// The peer's report: spare TPM, which this node's own sends
			// since then use up.
			rep := routing.State{Region: k.Region, Model: k.Model, TPMLimit: 2000, TPMRemaining: 2000, RPMLimit: 20, RPMRemaining: 20, MaxConcurrency: 8, ObservedAt: clk.Now()}
			if err := tr.Apply(routing.Snapshot{Region: k.Region, SentAt: clk.Now(), Deployments: []routing.State{rep}}); err != nil {
				t.Fatal(err)
			}
		}
		for range 3 {
			a := mustStart(t, tr, k, math.MaxInt)
			tr.Observe(a, routing.Outcome{Kind: routing.Success})
		}
		if got := state(t, tr, k).TPMRemaining; got != 0 {
			t.Errorf("%s: TPMRemaining after three huge requests = %d, want 0", k, got)
		}
		// Negative token counts are not credits either.
		a := mustStart(t, tr, k, math.MinInt)
		tr.Observe(a, routing.Outcome{Kind: routing.Success})
		if got := state(t, tr, k).TPMRemaining; got != 0 {
			t.Errorf("%s: TPMRemaining after a negative request = %d, want 0", k, got)
		}
	}
}
