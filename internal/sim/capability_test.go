package sim_test

import (
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/sim"
)

// TestCapabilityRouting: traffic that uses tools is served away from the
// nearest deployment, which lacks them; plain traffic stays there. Plain
// traffic is text generation, served away from an embeddings-only
// deployment, which embeddings traffic uses.
func TestCapabilityRouting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		west, uses string
		want       string
	}{
		{"[json_schema]", "[]", "eu-west-1"}, {"[json_schema]", "[tools]", "eu-central-1"},
		{"[embeddings]", "[]", "eu-central-1"}, {"[embeddings]", "[embeddings]", "eu-west-1"},
	} {
		sc, err := sim.ParseScenario(strings.NewReader(`name: capabilities
duration: 1m
seed: 1
profile: { id: eu.m, destinations: [eu-west-1, eu-central-1] }
routing: { strategy: locality-first }
regions:
  - { id: eu-west-1,    geography: eu, location: { lat: 53.3, lon: -6.3 } }
  - { id: eu-central-1, geography: eu, location: { lat: 50.1, lon: 8.7 } }
deployments:
  - { region: eu-west-1, capabilities: `+tc.west+`, ttft: { base: 100ms } }
  - { region: eu-central-1, ttft: { base: 100ms } }
traffic:
  - { source: eu-west-1, rate: 2, uses: `+tc.uses+`, prompt_tokens: { mean: 100 }, output_tokens: { mean: 50 } }
`), "capabilities.yaml")
		if err != nil {
			t.Fatal(err)
		}
		res, err := sim.Run(t.Context(), sc, "locality-first", 1)
		if err != nil {
			t.Fatal(err)
		}
		if res.Completed == 0 || res.ServedByRegion[tc.want] != res.Completed {
			t.Errorf("west %s, uses %s: served by region %v of %d, want all in %s", tc.west, tc.uses, res.ServedByRegion, res.Completed, tc.want)
		}
	}
}
