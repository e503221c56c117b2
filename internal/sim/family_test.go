package sim_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/schema/bedrockmodel"
	"github.com/meridian-gateway/meridian/internal/sim"
)

// TestSimulatedBedrockFamily: a topology's simulated Bedrock deployment
// (mock, api: bedrock) is simulated with the capabilities of the family
// internal/schema/bedrockmodel's SimulatorFamily gives its model, the
// classifier the mock backend translates by (internal/backend's
// TestMockBedrockTranslatesAsItsFamily): a topology's own name
// ("demo.chat", no digit) reasons as Claude, a named Nova 1 model does
// not, so reasoning traffic is simulated where the node would serve it.
func TestSimulatedBedrockFamily(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ west, central, want string }{
		{"", "amazon.nova-lite-v1:0", "eu-west-1"},                           // demo.chat itself: Claude
		{"amazon.nova-lite-v1:0", "", "eu-central-1"},                        // demo.chat in the other region
		{"amazon.nova-lite-v1:0", "amazon.nova-2-lite-v1:0", "eu-central-1"}, // Nova 2 Lite reasons
		{"acme.model", "meta.llama3-2-1b-instruct-v1:0", "eu-west-1"},        // no digit: the topology's own
	} {
		dir := t.TempDir()
		backend := func(model string) string {
			if model == "" {
				return `{ type: mock, api: bedrock }`
			}
			return `{ type: mock, api: bedrock, model: "` + model + `" }`
		}
		topo := `partition: aws
account: "111122223333"
geographies:
  eu: { name: European Union }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53.3, lon: -6.3 }, listen: 127.0.0.1:8083, link: 127.0.0.1:9083 }
  - { id: eu-central-1, geography: eu, location: { lat: 50.1, lon: 8.7 }, listen: 127.0.0.1:8084, link: 127.0.0.1:9084 }
models:
  - { id: demo.chat }
deployments:
  - { model: demo.chat, region: eu-west-1, backend: ` + backend(tc.west) + `, capacity: { max_concurrency: 8 } }
  - { model: demo.chat, region: eu-central-1, backend: ` + backend(tc.central) + `, capacity: { max_concurrency: 8 } }
`
		if err := os.WriteFile(filepath.Join(dir, "topology.yaml"), []byte(topo), 0o600); err != nil {
			t.Fatal(err)
		}
		sc, err := sim.ParseScenario(strings.NewReader(`name: family
topology_file: topology.yaml
duration: 1m
seed: 1
profile: { id: eu.demo.chat }
routing: { strategy: locality-first }
deployment_defaults: { ttft: { base: 100ms }, tokens_per_second: 60 }
traffic:
  - { source: eu-west-1, rate: 2, uses: [reasoning], prompt_tokens: { mean: 100 }, output_tokens: { mean: 50 } }
`), filepath.Join(dir, "scenario.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range sc.Deployments {
			model := map[string]string{"eu-west-1": tc.west, "eu-central-1": tc.central}[d.Region]
			if model == "" {
				model = "demo.chat"
			}
			if got, want := slices.Contains(d.Capabilities, "reasoning"), bedrockmodel.SimulatorFamily(model).Reasons(); got != want {
				t.Errorf("%s (%s): reasoning capability %v, want %v as SimulatorFamily (%v) says", d.Region, model, got, want, bedrockmodel.SimulatorFamily(model))
			}
		}
		res, err := sim.Run(t.Context(), sc, "locality-first", 1)
		if err != nil {
			t.Fatal(err)
		}
		if res.Completed == 0 || res.ServedByRegion[tc.want] != res.Completed {
			t.Errorf("west %q, central %q: reasoning traffic served by region %v of %d, want all in %s", tc.west, tc.central, res.ServedByRegion, res.Completed, tc.want)
		}
	}
}
