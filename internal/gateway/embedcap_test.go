package gateway

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestEmbeddingsOnBedrockChatModel: a Bedrock deployment (here a simulated
// one, api: bedrock) embeds only with a Titan or Cohere embedding model,
// the only ones its adapter calls (internal/backend/embeddings.go). One
// that declares embeddings for a chat model's id is known unfit from its
// configuration: routing excludes it for embeddings requests, as it
// excludes a deployment without the capability, and a request that no
// destination can embed gets the 400 naming input at once, no deployment
// tried. An OpenAI-compatible deployment that declares embeddings is
// taken at its word: its upstream's answer is the answer.
func TestEmbeddingsOnBedrockChatModel(t *testing.T) {
	t.Parallel()
	const (
		novaEmbeds  = `backend: { type: mock, api: bedrock, model: "amazon.nova-pro-v1:0" }, capabilities: [embeddings, chat]`
		titan       = `backend: { type: mock, api: bedrock, model: "amazon.titan-embed-text-v2:0" }`
		openaiEmbed = `backend: { type: mock }, capabilities: [embeddings, chat]`
		none        = `backend: { type: mock }, capabilities: [chat]`
	)
	embed := func() *inference.Request {
		r := &inference.Request{Model: "eu.m", Dialect: inference.DialectOpenAIEmbeddings, Body: []byte(`{"model":"eu.m","input":"x"}`)}
		r.Use(inference.FeatureEmbeddings, "input")
		return r
	}
	for _, tc := range []struct {
		name                 string
		west, central, north string
		serve                []string // empty: refused naming input
	}{
		{"the embedding model serves", novaEmbeds, titan, none, []string{"eu-central-1"}},
		{"an openai deployment declaring embeddings serves", novaEmbeds, none, openaiEmbed, []string{"eu-north-1"}},
		{"no deployment embeds", novaEmbeds, none, none, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			topo := engineTopology
			for _, r := range []struct{ region, line string }{{"eu-west-1", tc.west}, {"eu-central-1", tc.central}, {"eu-north-1", tc.north}} {
				old := "{ model: m, region: " + r.region + ", backend: { type: mock } }"
				if !strings.Contains(topo, old) {
					t.Fatalf("engineTopology has no %s", old)
				}
				topo = strings.Replace(topo, old, "{ model: m, region: "+r.region+", "+r.line+" }", 1)
			}
			e := newEngineWith(t, topo, "")
			for i := range 4 {
				out, err := e.g.Invoke(t.Context(), &Call{RequestID: "r", Operation: "Embeddings", Principal: e.principal, Request: embed()})
				if len(tc.serve) == 0 {
					var ie *inference.Error
					if !errors.As(err, &ie) || ie.Kind != inference.KindInvalidRequest || ie.Param != "input" || ie.Unfit {
						t.Fatalf("Invoke = %v, want the 400 on input at once", err)
					}
					if tried := e.b.tried(); len(tried) != 0 {
						t.Fatalf("tried %v, want no destination", tried)
					}
					return
				}
				if err != nil {
					t.Fatalf("request %d: Invoke = %v, want served in %v", i, err, tc.serve)
				}
				if !slices.Contains(tc.serve, out.Route.InferenceRegion) {
					t.Fatalf("request %d served in %s, want %v", i, out.Route.InferenceRegion, tc.serve)
				}
			}
			for _, r := range e.b.tried() {
				if !slices.Contains(tc.serve, r) {
					t.Errorf("tried %s, which cannot embed (want only %v)", r, tc.serve)
				}
			}
		})
	}
}
