package topology

import (
	"slices"
	"testing"

	"github.com/meridian-gateway/meridian/internal/translate"
)

// TestReasoningByBedrockFamily: a Bedrock chat deployment (and a simulated
// one with api: bedrock) has reasoning by default only when its model's
// family has a reasoning control that the translator sends (Claude,
// Amazon Nova 2 Lite, OpenAI gpt-oss), so a request with reasoning is routed only where it can
// be honoured; a listed capability list is kept as written.
func TestReasoningByBedrockFamily(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    Deployment
		want bool
	}{
		{Deployment{Model: "m", Backend: Backend{Type: BackendBedrock, Model: "anthropic.claude-3-7-sonnet-20250219-v1:0"}}, true},
		{Deployment{Model: "m", Backend: Backend{Type: BackendBedrock, Model: "eu.amazon.nova-2-lite-v1:0"}}, true},
		{Deployment{Model: "m", Backend: Backend{Type: BackendBedrock, Model: "amazon.nova-lite-v1:0"}}, false},
		{Deployment{Model: "m", Backend: Backend{Type: BackendBedrock, Model: "mistral.mistral-large-2402-v1:0"}}, false},
		{Deployment{Model: "m", Backend: Backend{Type: BackendBedrock, Model: "eu.meta.llama3-2-1b-instruct-v1:0"}}, false},
		{Deployment{Model: "m", Backend: Backend{Type: BackendBedrock, Model: "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/x"}}, true},
		{Deployment{Model: "amazon.nova-lite-v1:0", Backend: Backend{Type: BackendMock, API: BackendBedrock}}, false},
		{Deployment{Model: "m", Backend: Backend{Type: BackendMock, API: BackendBedrock, Model: "mistral.mistral-large-2402-v1:0"}}, false},
		{Deployment{Model: "demo.chat", Backend: Backend{Type: BackendMock, API: BackendBedrock}}, true},
		{Deployment{Model: "m", Backend: Backend{Type: BackendBedrock, Model: "amazon.nova-lite-v1:0"}, Capabilities: []string{CapabilityReasoning}}, true},
		{Deployment{Model: "m", Backend: Backend{Type: BackendOpenAI, Model: "mistral.mistral-large"}}, true},
		// Nova Premier's reasoning is not documented; gpt-oss takes
		// reasoning_effort; providers unknown to the classifier have none.
		{Deployment{Model: "m", Backend: Backend{Type: BackendBedrock, Model: "us.amazon.nova-premier-v1:0"}}, false},
		{Deployment{Model: "m", Backend: Backend{Type: BackendBedrock, Model: "us.amazon.nova-2-pro-preview-20251202-v1:0"}}, false},
		{Deployment{Model: "m", Backend: Backend{Type: BackendBedrock, Model: "openai.gpt-oss-120b-1:0"}}, true},
		{Deployment{Model: "m", Backend: Backend{Type: BackendMock, API: BackendBedrock, Model: "openai.gpt-oss-20b-1:0"}}, true},
		{Deployment{Model: "m", Backend: Backend{Type: BackendBedrock, Model: "zai.glm-4.7"}}, false},
		{Deployment{Model: "m", Backend: Backend{Type: BackendBedrock, Model: "moonshotai.kimi-k2.5"}}, false},
		{Deployment{Model: "m", Backend: Backend{Type: BackendBedrock, Model: "arn:aws:bedrock:us-east-1::foundation-model/mistral.mistral-large-2402-v1:0"}}, false},
		{Deployment{Model: "m", Backend: Backend{Type: BackendBedrock, Model: "acme.claude-lookalike-v1:0"}}, false},
	} {
		caps := tc.d.EffectiveCapabilities()
		if got := slices.Contains(caps, CapabilityReasoning); got != tc.want {
			t.Errorf("%s %s: reasoning = %v (%v), want %v", tc.d.Backend.Type, tc.d.Backend.Model+tc.d.Model, got, caps, tc.want)
		}
		if !slices.Contains(caps, CapabilityTools) && tc.d.Capabilities == nil {
			t.Errorf("%s: defaults lost tools: %v", tc.d.Backend.Model, caps)
		}
	}
}

// TestBedrockReasonsAgreesWithTranslator: routing's default and the
// translator's family agree on every kind of model id, so a request is
// never routed to a deployment whose translation would refuse it.
func TestBedrockReasonsAgreesWithTranslator(t *testing.T) {
	t.Parallel()
	for _, m := range []string{"anthropic.claude-3-haiku-20240307-v1:0", "eu.amazon.nova-2-lite-v1:0", "amazon.nova-pro-v1:0", "us.amazon.nova-premier-v1:0", "amazon.nova-micro-v1:0",
		"mistral.mistral-large-2402-v1:0", "meta.llama3-1-70b-instruct-v1:0", "amazon.titan-text-express-v1", "us.deepseek.r1-v1:0",
		"cohere.command-r-v1:0", "ai21.jamba-1-5-large-v1:0", "demo.chat", "", "openai.gpt-oss-20b-1:0", "zai.glm-4.7", "moonshotai.kimi-k2.5",
		"luma.ray-v2:0", "us.amazon.nova-2-pro-preview-20251202-v1:0", "acme.claude-lookalike-v1:0", "arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-1-8b-instruct-v1:0"} {
		if got, want := BedrockReasons(m), translate.BedrockFamily(m).Reasons(); got != want {
			t.Errorf("%q: BedrockReasons = %v, translator's family %v reasons = %v", m, got, translate.BedrockFamily(m), want)
		}
	}
}
