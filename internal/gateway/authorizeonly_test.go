package gateway

import (
	"slices"
	"testing"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// TestInvocable: Invocable answers what a call would be allowed, with
// either invoke action, and records nothing: every destination for an
// unrestricted principal and for one allowed only the streaming action,
// the allowed destination alone for a principal allowed one region of the
// profile, none for a profile outside a principal's policy, a bare model
// reachable only through a profile, a principal that may invoke nothing
// and one the topology does not know.
func TestInvocable(t *testing.T) {
	t.Parallel()
	cfg, err := topology.Parse([]byte(`account: "111122223333"
geographies: { eu: { name: EU } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 1, lon: 1 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" }
  - { id: eu-central-1, geography: eu, location: { lat: 2, lon: 2 }, listen: "127.0.0.1:3", link: "127.0.0.1:4" }
models: [ { id: m }, { id: n } ]
deployments:
  - { model: m, region: eu-west-1, backend: { type: mock } }
  - { model: m, region: eu-central-1, backend: { type: mock } }
  - { model: n, region: eu-west-1, backend: { type: mock } }
principals:
  - { id: all, policies: [all] }
  - { id: stream, policies: [stream] }
  - { id: west-m, policies: [west-m] }
  - { id: list, policies: [list] }
policies:
  all: { Version: "2012-10-17", Statement: [ { Effect: Allow, Action: "bedrock:*", Resource: "*" } ] }
  stream: { Version: "2012-10-17", Statement: [ { Effect: Allow, Action: "bedrock:InvokeModelWithResponseStream", Resource: "*" } ] }
  west-m:
    Version: "2012-10-17"
    Statement:
      - { Effect: Allow, Action: bedrock:InvokeModel, Resource: "arn:aws:bedrock:*:111122223333:inference-profile/eu.m" }
      - Effect: Allow
        Action: bedrock:InvokeModel
        Resource: "arn:aws:bedrock:eu-west-1::foundation-model/m"
        Condition: { "Null": { "bedrock:InferenceProfileArn": "false" } }
  list: { Version: "2012-10-17", Statement: [ { Effect: Allow, Action: "bedrock:ListInferenceProfiles", Resource: "*" } ] }
`), "invocable.yaml")
	if err != nil {
		t.Fatal(err)
	}
	authz, err := NewPolicyAuthorizer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := &fakeRecorder{}
	b := &fakeBackend{}
	g, err := New(Options{Region: "eu-west-1", Config: cfg, Authorizer: authz, Backends: map[string]Backend{"m": b, "n": b}, Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	principals, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	both := []string{"eu-central-1", "eu-west-1"}
	for _, tc := range []struct {
		principal, id string
		want          []string
	}{
		{"all", "eu.m", both},
		{"all", "m", []string{"eu-west-1"}},
		{"stream", "eu.m", both},
		{"west-m", "eu.m", []string{"eu-west-1"}},
		{"west-m", "eu.n", nil},
		{"west-m", "m", nil}, // the bare model: no profile, so the condition fails
		{"list", "eu.m", nil},
		{"stranger", "eu.m", nil},
	} {
		p, ok := principals.Principal(tc.principal)
		if !ok {
			p = auth.Principal{ID: tc.principal}
		}
		res, err := g.Catalog().Resolve("eu-west-1", tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if got := g.Invocable(&Call{Principal: p}, res); !slices.Equal(got, tc.want) {
			t.Errorf("Invocable(%s, %s) = %v, want %v", tc.principal, tc.id, got, tc.want)
		}
	}
	if len(rec.recs) != 0 {
		t.Errorf("Invocable recorded %d requests, want none", len(rec.recs))
	}
}
