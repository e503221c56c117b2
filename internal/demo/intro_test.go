package demo

import (
	"testing"

	"github.com/meridian-gateway/meridian/internal/topology"
)

// TestDeploymentLabel: the intro's table shows a deployment without
// max_concurrency as unlimited, not as "0 conc.".
func TestDeploymentLabel(t *testing.T) {
	eight, zero := 8, 0
	for _, tc := range []struct {
		conc *int
		want string
	}{
		{&eight, "demo.chat-small (8 conc.)"},
		{nil, "demo.chat-small (unlimited conc.)"},
		{&zero, "demo.chat-small (unlimited conc.)"},
	} {
		dep := topology.Deployment{Model: "demo.chat-small", Capacity: topology.Capacity{MaxConcurrency: tc.conc}}
		if got := deploymentLabel(dep); got != tc.want {
			t.Errorf("deploymentLabel(max_concurrency %v) = %q, want %q", tc.conc, got, tc.want)
		}
	}
}

// TestDemoTopologyEmbedUnlimited: the demo's embedding deployment has no
// concurrency limit, the case the label is for.
func TestDemoTopologyEmbedUnlimited(t *testing.T) {
	_, cfg, err := Topology(TopologyOptions{BasePort: 30000, DataDir: t.TempDir(), KeyHash: "sha256:" + "0000000000000000000000000000000000000000000000000000000000000000", AccessKeyID: "AKIAMERIDIANEXAMPLE"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range cfg.Deployments {
		if d.Model == "demo.embed" {
			found = true
			if got := deploymentLabel(d); got != "demo.embed (unlimited conc.)" {
				t.Errorf("label %q", got)
			}
		}
	}
	if !found {
		t.Fatal("the demo deploys no demo.embed")
	}
}
