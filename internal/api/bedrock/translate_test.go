package bedrock

import (
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/profilestore"
	"github.com/meridian-gateway/meridian/internal/topology"
)

func TestExceptionFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in         *inference.Error
		wantType   string
		wantStatus int
		wantStream string
	}{
		{&inference.Error{Kind: inference.KindInvalidRequest}, ExcValidation, 400, "validationException"},
		{&inference.Error{Kind: inference.KindPayloadTooLarge}, ExcValidation, 413, "validationException"},
		{&inference.Error{Kind: inference.KindUnauthenticated}, ExcUnrecognizedClient, 401, "internalServerException"},
		{&inference.Error{Kind: inference.KindUnauthenticated, Code: ExcAccessDenied}, ExcAccessDenied, 401, "internalServerException"},
		{&inference.Error{Kind: inference.KindPermissionDenied}, ExcAccessDenied, 403, "internalServerException"},
		{&inference.Error{Kind: inference.KindNotFound}, ExcResourceNotFound, 404, "internalServerException"},
		{&inference.Error{Kind: inference.KindTimeout}, ExcModelTimeout, 408, "modelStreamErrorException"},
		{&inference.Error{Kind: inference.KindThrottled}, ExcThrottling, 429, "throttlingException"},
		{&inference.Error{Kind: inference.KindUnavailable}, ExcServiceUnavailable, 503, "serviceUnavailableException"},
		{&inference.Error{Kind: inference.KindUpstream}, ExcModelError, 502, "modelStreamErrorException"},
		{&inference.Error{Kind: inference.KindInternal}, ExcInternalServer, 500, "internalServerException"},
		{&inference.Error{Kind: inference.KindInvalidRequest, Code: ExcConflict}, ExcConflict, 409, "validationException"},
	}
	for _, tc := range tests {
		x := exceptionFor(tc.in)
		if x.Type != tc.wantType || x.Status != tc.wantStatus {
			t.Errorf("exceptionFor(%s, code %q) = %s %d, want %s %d", tc.in.Kind, tc.in.Code, x.Type, x.Status, tc.wantType, tc.wantStatus)
		}
		if got := streamException(tc.in, false); got != tc.wantStream {
			t.Errorf("streamException(%s) = %s, want %s", tc.in.Kind, got, tc.wantStream)
		}
	}
	if got := streamException(&inference.Error{Kind: inference.KindTimeout}, true); got != "modelTimeoutException" {
		t.Errorf("streamException(timeout, invoke) = %s, want modelTimeoutException", got)
	}
}

// TestMergeDistributesProfiles: a profile created in one region's handler
// and its deletion reach another region's catalog through Records/Merge,
// the exchange the inter-region link carries.
func TestMergeDistributesProfiles(t *testing.T) {
	t.Parallel()
	cfg, err := topology.Parse([]byte(`account: "111122223333"
geographies: {eu: {name: EU}}
regions:
  - {id: eu-west-1, geography: eu, location: {lat: 53, lon: -6}, listen: "127.0.0.1:1", link: "127.0.0.1:2"}
  - {id: eu-central-1, geography: eu, location: {lat: 50, lon: 8}, listen: "127.0.0.1:3", link: "127.0.0.1:4"}
models: [{id: demo.chat-small}]
deployments:
  - {model: demo.chat-small, region: eu-west-1, backend: {type: mock}}
  - {model: demo.chat-small, region: eu-central-1, backend: {type: mock}}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	clk := clock.NewManual(now)
	handler := func(region string) *Handler {
		g, err := gateway.New(gateway.Options{Region: region, Config: cfg, Authorizer: gateway.AllowAll{}})
		if err != nil {
			t.Fatal(err)
		}
		return New(g, Options{DataDir: t.TempDir(), Clock: clk})
	}
	a, b := handler("eu-west-1"), handler("eu-central-1")
	rec := profilestore.Record{ID: "abc123def456", Name: "team-a", CopyFrom: "eu.demo.chat-small", HomeRegion: "eu-west-1", CreatedAt: now, UpdatedAt: now}
	if _, created, err := a.create(rec); err != nil || !created {
		t.Fatalf("create = %v, %v", created, err)
	}
	// The records travel inside a node's published state document, which
	// the node decodes once and merges into its registry (package node).
	if changed, err := b.Merge(a.Records()); err != nil || !changed {
		t.Fatalf("Merge(%+v) = %v, %v; want changed", a.Records(), changed, err)
	}
	res, err := b.g.Catalog().Resolve("eu-central-1", "abc123def456")
	if err != nil || len(res.Destinations) != 2 {
		t.Fatalf("Resolve in eu-central-1 after merge = %+v, %v", res, err)
	}
	if changed, _ := b.Merge(a.Records()); changed {
		t.Errorf("Merge of the same records changed the catalog again")
	}
	clk.Advance(time.Second)
	if _, err := a.delete("abc123def456"); err != nil {
		t.Fatal(err)
	}
	if changed, err := b.Merge(a.Records()); err != nil || !changed {
		t.Fatalf("Merge(tombstone) = %v, %v", changed, err)
	}
	if _, err := b.g.Catalog().Resolve("eu-central-1", "abc123def456"); err == nil {
		t.Errorf("deleted profile still resolves in eu-central-1")
	}
}
