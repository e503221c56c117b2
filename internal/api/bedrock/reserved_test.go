package bedrock

import (
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/profilestore"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// TestLookalikeApplicationProfileIDs: an application profile whose id
// starts with a geography or global prefix ("eu.evil" copying a global
// profile) would read as a system profile while serving anywhere. The API
// never creates one, and one arriving from a peer or the shared store is
// neither stored nor served.
func TestLookalikeApplicationProfileIDs(t *testing.T) {
	t.Parallel()
	cfg, err := topology.Parse([]byte(`account: "111122223333"
geographies: {eu: {name: EU}, us: {name: US}}
regions:
  - {id: eu-west-1, geography: eu, location: {lat: 53, lon: -6}, listen: "127.0.0.1:1", link: "127.0.0.1:2"}
  - {id: us-east-1, geography: us, location: {lat: 38, lon: -77}, listen: "127.0.0.1:3", link: "127.0.0.1:4"}
models: [{id: demo.chat-small}]
deployments:
  - {model: demo.chat-small, region: eu-west-1, backend: {type: mock}}
  - {model: demo.chat-small, region: us-east-1, backend: {type: mock}}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(gateway.Options{Region: "us-east-1", Config: cfg, Authorizer: gateway.AllowAll{}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	h := New(g, Options{DataDir: t.TempDir(), Clock: clock.NewManual(now)})

	evil := profilestore.Record{ID: "eu.evil", Name: "evil", CopyFrom: "global.demo.chat-small", HomeRegion: "eu-west-1", CreatedAt: now, UpdatedAt: now}
	if changed, err := h.Merge([]profilestore.Record{evil}); err != nil || changed {
		t.Errorf("Merge(eu.evil) = %v, %v; want unchanged", changed, err)
	}
	if len(h.Records()) != 0 {
		t.Errorf("Records() = %+v, want none stored", h.Records())
	}
	if _, err := g.Catalog().Resolve("us-east-1", "eu.evil"); err == nil {
		t.Errorf("eu.evil resolves in us-east-1; a lookalike must not be served")
	}

	// CreateInferenceProfile: the name is the only id-like field a caller
	// chooses; a lookalike is a ValidationException naming it.
	err = validateCreate(&createRequest{InferenceProfileName: "eu.evil", ModelSource: &struct {
		CopyFrom string `json:"copyFrom"`
	}{"global.demo.chat-small"}})
	if e := inference.AsError(err); e == nil || e.Kind != inference.KindInvalidRequest || !strings.Contains(e.Message, "inferenceProfileName") {
		t.Errorf("validateCreate(eu.evil) = %v, want a validation error naming inferenceProfileName", err)
	}
}
