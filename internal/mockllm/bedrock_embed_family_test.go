package mockllm

import (
	"testing"

	"github.com/meridian-gateway/meridian/internal/topology"
)

// TestEmbedFamilyAgreesWithTopology: the simulator tells a model id's
// embedding body apart on its own (the package imports only the standard
// library and models Bedrock, not the gateway), and must agree with the
// gateway's one decision (topology.BedrockEmbeddingFamily), which picks the
// body the Bedrock adapter sends; else a mock deployment would refuse, or
// accept, a body Bedrock would not.
func TestEmbedFamilyAgreesWithTopology(t *testing.T) {
	t.Parallel()
	want := map[embedFamily]topology.EmbeddingFamily{
		notEmbedding: topology.EmbeddingNone,
		titanV1:      topology.EmbeddingTitanTextV1,
		titanV2:      topology.EmbeddingTitanTextV2,
		titanImage:   topology.EmbeddingTitanMultimodal,
		cohereV3:     topology.EmbeddingCohereV3,
		cohereV4:     topology.EmbeddingCohereV4,
	}
	for _, model := range []string{
		"amazon.titan-embed-text-v1", "amazon.titan-embed-g1-text-02", "amazon.titan-embed-text-v2:0", "eu.amazon.titan-embed-text-v2:0",
		"amazon.titan-embed-image-v1", "us.amazon.titan-embed-image-v1:0",
		"arn:aws:bedrock:eu-west-1::foundation-model/amazon.titan-embed-image-v1",
		"cohere.embed-english-v3", "cohere.embed-multilingual-v3", "cohere.embed-v4:0", "eu.cohere.embed-v4:0",
		"anthropic.claude-3-haiku-20240307-v1:0", "amazon.titan-text-express-v1", "meta.llama3-8b-instruct-v1:0", "",
	} {
		if sim, gw := bedrockEmbedFamily(model), topology.BedrockEmbeddingFamily(model); want[sim] != gw {
			t.Errorf("%q: the simulator's family %d is %v, the gateway's is %v", model, sim, want[sim], gw)
		}
	}
}
