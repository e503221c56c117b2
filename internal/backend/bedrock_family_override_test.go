package backend

import (
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/schema/bedrockmodel"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// anthropicThinking is an InvokeModel Anthropic body asking for thinking.
const anthropicThinking = `{"anthropic_version":"bedrock-2023-05-31","max_tokens":2048,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"hi"}]}`

func newFamilyBedrock(t *testing.T, model, family string) *Bedrock {
	t.Helper()
	b, err := NewBedrock(t.Context(), BedrockConfig{Region: "eu-west-1", Model: model, Family: family, Endpoint: "http://127.0.0.1:1",
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestBedrockFamilyOverride: a bedrock deployment chained to another
// Meridian node's Bedrock front end names a model no provider token
// classifies ("eu.demo.chat-small", family other), so an Anthropic body
// asking for thinking is translated and refused; backend.family: claude
// makes it pass through to InvokeModel as it did before families, and
// another family overrides an anthropic id the other way.
func TestBedrockFamilyOverride(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		model, family, op string
		ok                bool
	}{
		{"eu.demo.chat-small", "", "converse", false},
		{"eu.demo.chat-small", "claude", "invoke", true},
		{"eu.demo.chat-small", "other", "converse", false},
		{"eu.demo.chat-small", "nova-reasoning", "converse", true},
		{"anthropic.claude-3-haiku-20240307-v1:0", "", "invoke", true},
		{"anthropic.claude-3-haiku-20240307-v1:0", "nova", "converse", false},
	} {
		b := newFamilyBedrock(t, tc.model, tc.family)
		req, err := inference.PeekInvoke(tc.model, []byte(anthropicThinking), false)
		if err != nil {
			t.Fatal(err)
		}
		op, _, _, err := b.plan(req, false)
		if op != tc.op || (err == nil) != tc.ok {
			t.Errorf("%s family %q: op %q, err %v; want op %q, ok %v", tc.model, tc.family, op, err, tc.op, tc.ok)
		}
	}
	if _, err := NewBedrock(t.Context(), BedrockConfig{Region: "eu-west-1", Model: "m", Family: "anthropic", Endpoint: "http://127.0.0.1:1",
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")}); err == nil {
		t.Error("NewBedrock with family \"anthropic\" succeeded, want an error naming the families")
	}
}

// TestBedrockCapabilitiesAgreeWithPlan: for every family, set or read
// from a model id, a bedrock deployment has the reasoning capability by
// default exactly when the adapter's own plan (pass-through or translation
// to Converse) accepts a request asking for reasoning, in each dialect
// that can ask for it, so routing never picks a deployment whose
// translation refuses what routing matched it for, nor excludes one that
// would serve it.
func TestBedrockCapabilitiesAgreeWithPlan(t *testing.T) {
	t.Parallel()
	models := []string{"anthropic.claude-3-haiku-20240307-v1:0", "eu.amazon.nova-2-lite-v1:0", "amazon.nova-pro-v1:0", "openai.gpt-oss-20b-1:0",
		"mistral.mistral-large-2402-v1:0", "meta.llama3-1-70b-instruct-v1:0", "eu.demo.chat-small", "zai.glm-4.7",
		"arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/a1b2c3"}
	bodies := []struct {
		name string
		peek func(model string) (*inference.Request, error)
	}{
		{"openai reasoning_effort", func(m string) (*inference.Request, error) {
			return inference.Peek(inference.DialectOpenAIChat, m, []byte(`{"model":"m","reasoning_effort":"high","messages":[{"role":"user","content":"hi"}]}`), false)
		}},
		{"anthropic thinking", func(m string) (*inference.Request, error) {
			return inference.PeekInvoke(m, []byte(anthropicThinking), false)
		}},
	}
	for _, family := range append([]string{""}, bedrockmodel.FamilyNames()...) {
		for _, model := range models {
			d := topology.Deployment{Model: "m", Backend: topology.Backend{Type: topology.BackendBedrock, Model: model, Family: family}}
			reasons := slices.Contains(d.EffectiveCapabilities(), topology.CapabilityReasoning)
			b := newFamilyBedrock(t, model, family)
			for _, body := range bodies {
				req, err := body.peek(model)
				if err != nil {
					t.Fatal(err)
				}
				if _, _, _, err := b.plan(req, false); (err == nil) != reasons {
					t.Errorf("%s family %q, %s: reasoning capability %v, plan error %v", model, family, body.name, reasons, err)
				}
			}
		}
	}
}
