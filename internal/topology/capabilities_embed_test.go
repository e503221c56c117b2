package topology

import (
	"slices"
	"testing"
)

// TestMockBedrockEmbeddingCapabilities: a mock deployment reached through
// the Bedrock adapter has the embeddings capability, and only it, when the
// model id the simulator serves (backend.model, else the deployment's
// model) is a Titan or Cohere embedding model; with any other id it has
// a bedrock deployment's defaults (chat, no embeddings, n or logprobs). A
// bedrock deployment of such a model has embeddings only too. A list
// always wins.
func TestMockBedrockEmbeddingCapabilities(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		dep  Deployment
		want []string // nil: a bedrock deployment's defaults
	}{
		{"titan backend model", Deployment{Model: "demo.embed", Backend: Backend{Type: BackendMock, API: BackendBedrock, Model: "amazon.titan-embed-text-v2:0"}},
			[]string{CapabilityEmbeddings}},
		{"cohere backend model", Deployment{Model: "demo.embed", Backend: Backend{Type: BackendMock, API: BackendBedrock, Model: "cohere.embed-english-v3"}},
			[]string{CapabilityEmbeddings}},
		{"cohere v4 profile id", Deployment{Model: "demo.embed", Backend: Backend{Type: BackendMock, API: BackendBedrock, Model: "eu.cohere.embed-v4:0"}},
			[]string{CapabilityEmbeddings}},
		{"titan deployment model", Deployment{Model: "amazon.titan-embed-text-v2:0", Backend: Backend{Type: BackendMock, API: BackendBedrock}},
			[]string{CapabilityEmbeddings}},
		{"chat model", Deployment{Model: "demo.br", Backend: Backend{Type: BackendMock, API: BackendBedrock}}, nil},
		{"chat backend model over an embedding-like name", Deployment{Model: "amazon.titan-embed-text-v2:0", Backend: Backend{Type: BackendMock, API: BackendBedrock, Model: "anthropic.claude-3-haiku"}}, nil},
		{"bedrock titan", Deployment{Model: "embed", Backend: Backend{Type: BackendBedrock, Model: "amazon.titan-embed-text-v2:0"}},
			[]string{CapabilityEmbeddings}},
		{"bedrock chat model", Deployment{Model: "chat", Backend: Backend{Type: BackendBedrock, Model: "anthropic.claude-3-haiku"}},
			DefaultCapabilities(BackendBedrock)},
		{"listed", Deployment{Model: "demo.embed", Capabilities: []string{CapabilityTools}, Backend: Backend{Type: BackendMock, API: BackendBedrock, Model: "amazon.titan-embed-text-v2:0"}},
			[]string{CapabilityTools}},
	}
	chat := DefaultCapabilities(BackendBedrock)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want := tc.want
			if want == nil {
				want = chat
			}
			if got := tc.dep.EffectiveCapabilities(); !slices.Equal(got, want) {
				t.Errorf("EffectiveCapabilities(%+v) = %v, want %v", tc.dep.Backend, got, want)
			}
			// Generates decides without building the list, as the list
			// would.
			if got, want := tc.dep.Generates(), Generates(want); got != want {
				t.Errorf("Generates(%+v) = %v, want %v", tc.dep.Backend, got, want)
			}

		})
	}
	// A mock reached through the OpenAI adapter serves every feature,
	// whatever its model is called.
	d := Deployment{Model: "demo.e", Backend: Backend{Type: BackendMock, Model: "amazon.titan-embed-text-v2:0"}}
	if got := d.EffectiveCapabilities(); !slices.Equal(got, KnownCapabilities) {
		t.Errorf("openai-speaking mock = %v, want every capability", got)
	}
}
