package topology

import (
	"slices"
	"strings"
	"testing"
)

// TestCapabilities: a deployment's capabilities are its own list, or its
// backend type's defaults; an unknown name and an api on a non-mock
// backend are refused naming the field and the fix.
func TestCapabilities(t *testing.T) {
	t.Parallel()
	good := strings.Replace(base, "    backend: { type: mock }\n", "    backend: { type: mock, api: bedrock }\n    capabilities: [tools, vision]\n", 1)
	c, err := Parse([]byte(good), "caps.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Deployments[1].EffectiveCapabilities(); !slices.Equal(got, []string{"tools", "vision"}) {
		t.Errorf("listed capabilities = %v", got)
	}
	if got := c.Deployments[0].EffectiveCapabilities(); !slices.Contains(got, CapabilityN) || slices.Contains(got, CapabilityEmbeddings) {
		t.Errorf("openai defaults = %v, want n and no embeddings", got)
	}
	for _, tc := range []struct {
		caps []string
		want bool
	}{
		{nil, true}, {[]string{}, true}, {[]string{"tools"}, true}, {[]string{"embeddings"}, false},
		{[]string{"embeddings", "chat"}, true}, {DefaultCapabilities(BackendMock), true}, {DefaultCapabilities(BackendOpenAI), true},
	} {
		if got := Generates(tc.caps); got != tc.want {
			t.Errorf("Generates(%v) = %v, want %v", tc.caps, got, tc.want)
		}
	}
	if got := DefaultCapabilities(BackendBedrock); slices.Contains(got, CapabilityN) || slices.Contains(got, CapabilityLogprobs) {
		t.Errorf("bedrock defaults = %v, want neither n nor logprobs", got)
	}
	for _, tc := range []struct{ mutate, field, hint string }{
		{"    backend: { type: mock }\n    capabilities: [tools, telepathy]\n", "deployments[1].capabilities[1]", "use one of chat, documents, embeddings"},
		{"    backend: { type: mock }\n    capabilities: [embeddings, tools]\n", "deployments[1].capabilities[1]", "add chat to the list if this model also generates text, or remove tools"},
		{"    backend: { type: mock, api: grpc }\n", "deployments[1].backend.api", "use openai or bedrock"},
	} {
		_, err := Parse([]byte(strings.Replace(base, "    backend: { type: mock }\n", tc.mutate, 1)), "caps.yaml")
		if err == nil || !strings.Contains(err.Error(), "caps.yaml") || !strings.Contains(err.Error(), tc.field) || !strings.Contains(err.Error(), tc.hint) {
			t.Errorf("%s: error = %v, want the file, field %s and hint %q", tc.field, err, tc.field, tc.hint)
		}
	}
}
