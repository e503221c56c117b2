package gateway

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestReasoningEffortNoneRouting: reasoning_effort "none" needs the
// reasoning capability only toward a deployment that passes a Chat body
// through (an OpenAI-compatible one: an OpenAI model without reasoning
// refuses the parameter whatever its value); a Bedrock deployment without
// reasoning (Mistral, Nova 1, Llama) takes it, since the translation to
// Converse sends nothing for it. A model whose deployments are all of the
// first kind without reasoning refuses it with a 400 naming the field.
func TestReasoningEffortNoneRouting(t *testing.T) {
	t.Parallel()
	const (
		mistral   = "backend: { type: mock, api: bedrock, model: mistral.mistral-large-2402-v1:0 }"
		openaiNo  = "backend: { type: mock }, capabilities: [chat, tools]"
		openaiYes = "backend: { type: mock }, capabilities: [chat, reasoning]"
	)
	none := func() *inference.Request {
		body := `{"model":"eu.m","reasoning_effort":"none","messages":[{"role":"user","content":"hi"}]}`
		r, err := inference.Peek(inference.DialectOpenAIChat, "eu.m", []byte(body), false)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tc := range []struct {
		name                 string
		west, central, north string
		serve                []string // empty: refused naming reasoning_effort
	}{
		{"bedrock without reasoning takes none", mistral, mistral, mistral, []string{"eu-west-1", "eu-central-1", "eu-north-1"}},
		{"openai without reasoning does not", mistral, openaiNo, openaiNo, []string{"eu-west-1"}},
		{"openai with reasoning does", openaiYes, openaiNo, openaiNo, []string{"eu-west-1"}},
		{"none anywhere", openaiNo, openaiNo, openaiNo, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			topo := engineTopology
			for _, r := range []struct{ region, backend string }{{"eu-west-1", tc.west}, {"eu-central-1", tc.central}, {"eu-north-1", tc.north}} {
				old := "{ model: m, region: " + r.region + ", backend: { type: mock } }"
				if !strings.Contains(topo, old) {
					t.Fatalf("engineTopology has no %q", old)
				}
				topo = strings.Replace(topo, old, "{ model: m, region: "+r.region+", "+r.backend+" }", 1)
			}
			e := newEngineWith(t, topo, "")
			for i := range 6 {
				out, err := e.g.Invoke(t.Context(), &Call{RequestID: "r", Operation: OpChatCompletions, Principal: e.principal, Request: none()})
				if len(tc.serve) == 0 {
					var ie *inference.Error
					if !errors.As(err, &ie) || ie.Kind != inference.KindInvalidRequest || ie.Param != "reasoning_effort" || !strings.Contains(ie.Message, "uses reasoning") {
						t.Fatalf("Invoke = %v, want a 400 on reasoning_effort", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("request %d: Invoke = %v, want served in one of %v", i, err, tc.serve)
				}
				if !slices.Contains(tc.serve, out.Route.InferenceRegion) {
					t.Fatalf("request %d served in %s, want one of %v", i, out.Route.InferenceRegion, tc.serve)
				}
			}
		})
	}
}
