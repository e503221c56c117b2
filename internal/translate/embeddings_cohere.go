package translate

import (
	"fmt"
	"slices"

	"github.com/meridian-gateway/meridian/internal/schema/bedrockembed"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

// CohereMaxTexts is the most texts Cohere Embed takes in one call.
const CohereMaxTexts = 96

// EmbedOptions tunes embeddings request translation. The zero value is
// ready to use.
type EmbedOptions struct {
	// InputType is Cohere's input_type, which OpenAI requests lack.
	// If empty, "search_document" is used.
	InputType string
	// CohereV4 says the model is Cohere Embed v4, which takes
	// output_dimension (256, 512, 1024, 1536); v3 models refuse dimensions.
	CohereV4 bool
}

// EmbeddingsToCohereRequest translates an embeddings request into one
// Cohere Embed InvokeModel body (up to CohereMaxTexts inputs).
func EmbeddingsToCohereRequest(req *openai.EmbeddingRequest, opts EmbedOptions) (*bedrockembed.CohereRequest, error) {
	r := refuser(targetCohere)
	if err := refuseEmbeddingsCommon(r, req); err != nil {
		return nil, err
	}
	if req.Input.Len() > CohereMaxTexts {
		return nil, r.because("input", "at most 96 inputs per request")
	}
	out := &bedrockembed.CohereRequest{Texts: req.Input.Strings, InputType: opts.InputType}
	if out.InputType == "" {
		out.InputType = bedrockembed.InputSearchDocument
	}
	if d := req.Dimensions; d != nil {
		switch {
		case !opts.CohereV4:
			return nil, r.because("dimensions", "Cohere Embed v3 has a fixed size")
		case !slices.Contains(bedrockembed.CohereV4Dimensions, *d):
			return nil, r.because("dimensions", "expressible: 256, 512, 1024, 1536")
		}
		out.OutputDimension, out.EmbeddingTypes = d, []string{"float"}
	}
	return out, nil
}

// CohereToEmbeddingsResponse translates a Cohere Embed response to the
// request EmbeddingsToCohereRequest made for req into an embeddings
// response, encoding vectors as base64 when req asked for it. Usage is
// meta.InputTokens, or when zero EstimateTokens of the input texts.
func CohereToEmbeddingsResponse(req *openai.EmbeddingRequest, resp *bedrockembed.CohereResponse, meta EmbedMeta) (*openai.EmbeddingResponse, error) {
	vecs := resp.Embeddings.Vectors()
	if len(vecs) != req.Input.Len() {
		return nil, fmt.Errorf("translate: Cohere returned %d embeddings for %d inputs", len(vecs), req.Input.Len())
	}
	tokens := meta.InputTokens
	if tokens == 0 {
		for _, s := range req.Input.Strings {
			tokens += openai.EstimateTokens([]byte(s))
		}
	}
	return embeddingsResponse(req, vecs, tokens, meta), nil
}
