package telemetry

import (
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/topology"
)

const labelTopology = `
account: "111122223333"
geographies: {eu: {name: EU}}
regions:
  - {id: eu-west-1, geography: eu, listen: "127.0.0.1:1", link: "127.0.0.1:2"}
models: [{id: m}]
deployments:
  - {model: m, region: eu-west-1, backend: {type: mock}}
`

// TestProfileLabelIsBounded: application profiles created through the API
// must not become metric label values.
func TestProfileLabelIsBounded(t *testing.T) {
	t.Parallel()
	cfg, err := topology.Parse([]byte(labelTopology), "label.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := profile.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []profile.Profile{{ID: "app-123", CopyFrom: "eu.m"}, {ID: "app-model", CopyFrom: "m"}} {
		p.HomeRegion, p.CreatedAt = "eu-west-1", time.Unix(1, 0)
		if cat, _, err = cat.WithApplication(p); err != nil {
			t.Fatal(err)
		}
	}
	for id, want := range map[string]string{"eu.m": "eu.m", "m": "m", "app-123": "application:eu.m", "app-model": "application:m",
		"deleted-app": "other", "": ""} {
		if got := ProfileLabel(cat, id); got != want {
			t.Errorf("ProfileLabel(%q) = %q, want %q", id, got, want)
		}
	}
	for reason, want := range map[string]string{"failover:throttled:eu-central-1": "failover", "headroom": "headroom", "": ""} {
		if got := RouteLabel(reason); got != want {
			t.Errorf("RouteLabel(%q) = %q, want %q", reason, got, want)
		}
	}
}
