package openai

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
	oa "github.com/openai/openai-go/v3"
	oaoption "github.com/openai/openai-go/v3/option"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// Keys of the principals of newPolicyModelsServer.
const (
	keyAll        = "sk-models-all"         // bedrock:* on *
	keyEUM        = "sk-models-eu-m"        // invokes eu.m only, in eu-west-1 only
	keyStreamOnly = "sk-models-stream-only" // bedrock:InvokeModelWithResponseStream on *
	keyListOnly   = "sk-models-list-only"   // bedrock:ListInferenceProfiles on *: invokes nothing
)

// newPolicyModelsServer serves eu-west-1 of an EU with eu-central-1, with
// policies. Model m is deployed in both regions with different
// capabilities (eu-west-1: tools, vision; eu-central-1: documents,
// reasoning, json_schema); n and o (gpt-oss through Bedrock's API, which
// cannot turn thinking off) in eu-west-1 only.
func newPolicyModelsServer(t testing.TB) (*httptest.Server, *recordLog) {
	t.Helper()
	cfg, err := topology.Parse(fmt.Appendf(nil, `account: "111122223333"
geographies: { eu: { name: EU } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 1, lon: 1 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" }
  - { id: eu-central-1, geography: eu, location: { lat: 2, lon: 2 }, listen: "127.0.0.1:3", link: "127.0.0.1:4" }
models: [ { id: m, context_window: 8192 }, { id: n }, { id: o } ]
deployments:
  - { model: m, region: eu-west-1, backend: { type: mock }, capabilities: [tools, vision] }
  - { model: m, region: eu-central-1, backend: { type: mock }, capabilities: [documents, reasoning, json_schema] }
  - { model: n, region: eu-west-1, backend: { type: mock } }
  - { model: o, region: eu-west-1, backend: { type: mock, api: bedrock, model: "openai.gpt-oss-20b-1:0" } }
principals:
  - { id: all, api_keys: [%q], policies: [all] }
  - { id: eu-m, api_keys: [%q], policies: [eu-m] }
  - { id: stream-only, api_keys: [%q], policies: [stream-only] }
  - { id: list-only, api_keys: [%q], policies: [list-only] }
policies:
  all: { Version: "2012-10-17", Statement: [ { Effect: Allow, Action: "bedrock:*", Resource: "*" } ] }
  eu-m:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Action: [bedrock:InvokeModel, bedrock:InvokeModelWithResponseStream]
        Resource: "arn:aws:bedrock:*:111122223333:inference-profile/eu.m"
      - Effect: Allow
        Action: [bedrock:InvokeModel, bedrock:InvokeModelWithResponseStream]
        Resource: "arn:aws:bedrock:eu-west-1::foundation-model/m"
        Condition: { StringLike: { "bedrock:InferenceProfileArn": "arn:aws:bedrock:*:111122223333:inference-profile/eu.m" } }
  stream-only: { Version: "2012-10-17", Statement: [ { Effect: Allow, Action: "bedrock:InvokeModelWithResponseStream", Resource: "*" } ] }
  list-only: { Version: "2012-10-17", Statement: [ { Effect: Allow, Action: "bedrock:ListInferenceProfiles", Resource: "*" } ] }
`, auth.HashKey(keyAll), auth.HashKey(keyEUM), auth.HashKey(keyStreamOnly), auth.HashKey(keyListOnly)), "models-policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	authz, err := gateway.NewPolicyAuthorizer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	recs := &recordLog{}
	b := &fakeBackend{}
	g, err := gateway.New(gateway.Options{Region: "eu-west-1", Config: cfg, Authorizer: authz,
		Backends: map[string]gateway.Backend{"m": b, "n": b, "o": b}, Recorder: recs})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	New(g, Options{}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, recs
}

// everything is what a key that may invoke everything lists from
// eu-west-1: every profile callable from there, then the models deployed
// there.
var everything = []string{"eu.m", "eu.n", "eu.o", "global.m", "global.n", "global.o", "m", "n", "o"}

// TestModelsListFollowsPolicies: GET /v1/models lists, in both shapes and
// through both official clients (openai-go's Models.List and
// Models.ListAutoPaging, anthropic-sdk-go's Models.ListAutoPaging one
// entry a page), only the entries the key may invoke: everything for an
// unrestricted key and for one allowed only the streaming action, eu.m
// alone for a key restricted to it, nothing (an empty list, not a
// refusal) for a key that may invoke nothing. A get of an entry the key
// may not invoke is the 404 of an unknown id, in each shape; every list
// and get is recorded once.
func TestModelsListFollowsPolicies(t *testing.T) {
	t.Parallel()
	srv, recs := newPolicyModelsServer(t)
	for _, tc := range []struct {
		name, key string
		want      []string
	}{
		{"unrestricted", keyAll, everything},
		{"stream only", keyStreamOnly, everything},
		{"eu.m only", keyEUM, []string{"eu.m"}},
		{"invokes nothing", keyListOnly, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oc := oa.NewClient(oaoption.WithBaseURL(srv.URL+"/v1"), oaoption.WithAPIKey(tc.key), oaoption.WithMaxRetries(0),
				oaoption.WithHTTPClient(srv.Client()))
			page, err := oc.Models.List(t.Context())
			if err != nil {
				t.Fatalf("openai Models.List: %v", err)
			}
			var got []string
			for _, m := range page.Data {
				got = append(got, m.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("openai Models.List = %v, want %v", got, tc.want)
			}
			got = walk(t, oc.Models.ListAutoPaging(t.Context()), func(m oa.Model) string { return m.ID })
			if !slices.Equal(got, tc.want) {
				t.Errorf("openai Models.ListAutoPaging = %v, want %v", got, tc.want)
			}
			ac := anthropicClient(srv, option.WithAPIKey(tc.key))
			got = walk(t, ac.Models.ListAutoPaging(t.Context(), anthropic.ModelListParams{Limit: anthropic.Int(1)}), func(m anthropic.ModelInfo) string { return m.ID })
			if !slices.Equal(got, tc.want) {
				t.Errorf("anthropic Models.ListAutoPaging, limit 1 = %v, want %v", got, tc.want)
			}
			recs.take()

			for _, id := range everything {
				visible := slices.Contains(tc.want, id)
				m, err := oc.Models.Get(t.Context(), id)
				var oe *oa.Error
				switch {
				case visible && (err != nil || m.ID != id):
					t.Errorf("openai Models.Get(%s) = %+v, %v; want the entry", id, m, err)
				case !visible && (!errors.As(err, &oe) || oe.StatusCode != 404 || oe.Code != "model_not_found"):
					t.Errorf("openai Models.Get(%s) = %v; want the 404 model_not_found of an unknown id", id, err)
				}
				am, err := ac.Models.Get(t.Context(), id, anthropic.ModelGetParams{})
				var ae *anthropic.Error
				switch {
				case visible && (err != nil || am.ID != id):
					t.Errorf("anthropic Models.Get(%s) = %+v, %v; want the entry", id, am, err)
				case !visible && (!errors.As(err, &ae) || ae.StatusCode != 404 || ae.Type() != "not_found_error"):
					t.Errorf("anthropic Models.Get(%s) = %v; want the 404 not_found_error of an unknown id", id, err)
				}
				if n := len(recs.take()); n != 2 {
					t.Errorf("two gets of %s made %d records, want 2", id, n)
				}
			}
		})
	}
}

// TestModelsAnthropicCapabilities: an Anthropic-shape entry carries the
// capabilities object, every key of it present (as Anthropic sends it,
// for every model), answered from the capabilities of the model's
// deployments in the destinations the key may use: eu.m, reachable in
// eu-west-1 (tools, vision) and eu-central-1 (documents, reasoning,
// json_schema), takes images, PDFs, structured outputs and thinking for
// an unrestricted key, but images only for a key allowed eu-west-1 alone;
// gpt-oss through Bedrock's API cannot turn thinking off; what the gateway
// never serves (batch, citations, server tools, context management,
// adaptive thinking, effort max) is false.
func TestModelsAnthropicCapabilities(t *testing.T) {
	t.Parallel()
	srv, _ := newPolicyModelsServer(t)
	type caps struct {
		image, pdf, structured, thinking, thinkingOff bool
	}
	for _, tc := range []struct {
		key, id string
		want    caps
	}{
		{keyAll, "eu.m", caps{image: true, pdf: true, structured: true, thinking: true, thinkingOff: true}},
		{keyEUM, "eu.m", caps{image: true, thinkingOff: true}},
		{keyAll, "m", caps{image: true, thinkingOff: true}}, // a bare model runs here only
		{keyAll, "n", caps{image: true, pdf: true, structured: true, thinking: true, thinkingOff: true}},
		{keyAll, "o", caps{image: true, pdf: true, structured: true, thinking: true}},
	} {
		t.Run(tc.key+"/"+tc.id, func(t *testing.T) {
			client := anthropicClient(srv, option.WithAPIKey(tc.key))
			m, err := client.Models.Get(t.Context(), tc.id, anthropic.ModelGetParams{})
			if err != nil {
				t.Fatal(err)
			}
			c := m.Capabilities
			got := caps{c.ImageInput.Supported, c.PDFInput.Supported, c.StructuredOutputs.Supported, c.Thinking.Supported, c.Thinking.Types.Disabled.Supported}
			if got != tc.want {
				t.Errorf("capabilities %+v, want %+v: %s", got, tc.want, c.RawJSON())
			}
			if c.Thinking.Types.Enabled.Supported != tc.want.thinking || c.Effort.Supported != tc.want.thinking ||
				c.Effort.High.Supported != tc.want.thinking || c.Effort.Max.Supported || c.Thinking.Types.Adaptive.Supported ||
				c.Batch.Supported || c.Citations.Supported || c.ServerTools.Supported || c.ContextManagement.Supported {
				t.Errorf("capabilities %s: thinking.types.enabled and effort (low to high) should follow thinking, the rest be false", c.RawJSON())
			}
			for name, f := range map[string]interface{ Valid() bool }{
				"capabilities": m.JSON.Capabilities, "batch": c.JSON.Batch, "citations": c.JSON.Citations,
				"code_execution": c.JSON.CodeExecution, "context_management": c.JSON.ContextManagement, "effort": c.JSON.Effort,
				"image_input": c.JSON.ImageInput, "pdf_input": c.JSON.PDFInput, "server_tools": c.JSON.ServerTools,
				"structured_outputs": c.JSON.StructuredOutputs, "thinking": c.JSON.Thinking,
				"thinking.types.between_tools": c.Thinking.Types.JSON.BetweenTools, "effort.xhigh": c.Effort.JSON.Xhigh,
				"context_management.compact_20260112": c.ContextManagement.JSON.Compact20260112,
				"server_tools.web_search":             c.ServerTools.JSON.WebSearch,
			} {
				if !f.Valid() {
					t.Errorf("entry %s lacks %s: %s", tc.id, name, m.RawJSON())
				}
			}
		})
	}
}
