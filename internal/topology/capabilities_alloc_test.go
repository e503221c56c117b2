//go:build !race

package topology

import "testing"

// TestGeneratesDoesNotAllocate: asked for every chat request, Generates
// builds no capability list (not parallel: AllocsPerRun needs the process; not under the race
// detector, which counts allocations of its own).
func TestGeneratesDoesNotAllocate(t *testing.T) {
	for _, d := range []Deployment{
		{Model: "m", Backend: Backend{Type: BackendOpenAI}},
		{Model: "m", Backend: Backend{Type: BackendBedrock, Model: "amazon.titan-embed-text-v2:0"}},
		{Model: "m", Backend: Backend{Type: BackendMock, API: BackendBedrock}},
		{Model: "m", Capabilities: []string{CapabilityEmbeddings}, Backend: Backend{Type: BackendMock}},
	} {
		if n := testing.AllocsPerRun(10, func() { d.Generates() }); n != 0 {
			t.Errorf("Generates(%+v) allocates %v times", d.Backend, n)
		}
	}
}
