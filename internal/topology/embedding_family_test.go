package topology

import "testing"

// TestBedrockEmbeddingFamily: the model id decides the body, for
// foundation model ids, inference profile ids and ARNs alike; a chat
// model is no embedding model.
func TestBedrockEmbeddingFamily(t *testing.T) {
	t.Parallel()
	for model, want := range map[string]EmbeddingFamily{
		"amazon.titan-embed-text-v1":                                              EmbeddingTitanTextV1,
		"amazon.titan-embed-g1-text-02":                                           EmbeddingTitanTextV1,
		"amazon.titan-embed-text-v2:0":                                            EmbeddingTitanTextV2,
		"eu.amazon.titan-embed-text-v2:0":                                         EmbeddingTitanTextV2,
		"amazon.titan-embed-image-v1":                                             EmbeddingTitanMultimodal,
		"us.amazon.titan-embed-image-v1:0":                                        EmbeddingTitanMultimodal,
		"arn:aws:bedrock:eu-west-1::foundation-model/amazon.titan-embed-image-v1": EmbeddingTitanMultimodal,
		"cohere.embed-english-v3":                                                 EmbeddingCohereV3,
		"cohere.embed-multilingual-v3":                                            EmbeddingCohereV3,
		"cohere.embed-v4:0":                                                       EmbeddingCohereV4,
		"eu.cohere.embed-v4:0":                                                    EmbeddingCohereV4,
		"anthropic.claude-3-haiku-20240307-v1:0":                                  EmbeddingNone,
		"amazon.titan-text-express-v1":                                            EmbeddingNone,
		"":                                                                        EmbeddingNone,
	} {
		if got := BedrockEmbeddingFamily(model); got != want {
			t.Errorf("BedrockEmbeddingFamily(%q) = %v, want %v", model, got, want)
		}
		if got := bedrockEmbeddingModel(model); got != (want != EmbeddingNone) {
			t.Errorf("bedrockEmbeddingModel(%q) = %v, want %v", model, got, want != EmbeddingNone)
		}
	}
}
