package topology

import (
	"slices"
	"testing"
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
		// backend.family overrides the id, both ways: another Meridian
		// node's model served as Claude, an application inference
		// profile of a model without reasoning. Whether the adapter's
		// plan agrees is internal/backend's TestBedrockCapabilitiesAgreeWithPlan.
		{Deployment{Model: "m", Backend: Backend{Type: BackendBedrock, Model: "eu.demo.chat-small"}}, false},
		{Deployment{Model: "m", Backend: Backend{Type: BackendBedrock, Model: "eu.demo.chat-small", Family: "claude"}}, true},
		{Deployment{Model: "m", Backend: Backend{Type: BackendBedrock, Model: "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/x", Family: "nova"}}, false},
		{Deployment{Model: "m", Backend: Backend{Type: BackendBedrock, Model: "meta.llama3-1-70b-instruct-v1:0", Family: "gpt-oss"}}, true},
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
