package translate

import (
	"fmt"
	"slices"

	"github.com/meridian-gateway/meridian/internal/schema/bedrockembed"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

const (
	targetTitan           = "Amazon Titan Text Embeddings v2"
	targetTitanV1         = "Amazon Titan Text Embeddings v1"
	targetTitanMultimodal = "Amazon Titan Multimodal Embeddings"
	targetCohere          = "Cohere Embed"
)

// titanV1Dimensions is the fixed size of Titan Text Embeddings v1 vectors.
const titanV1Dimensions = 1536

// EmbedMeta holds what a translated embeddings response needs but the
// backend's body lacks. The caller supplies it.
type EmbedMeta struct {
	Model string // model name to present to the client
	// InputTokens is the input token count Bedrock reports in the
	// X-Amzn-Bedrock-Input-Token-Count header, for bodies without one
	// (Cohere). If zero, Cohere usage is estimated from the texts.
	InputTokens int64
}

// refuseEmbeddingsCommon refuses what neither Titan nor Cohere can take:
// unknown members, token-array input, empty input, other encodings and user.
func refuseEmbeddingsCommon(r refuser, req *openai.EmbeddingRequest) error {
	if err := r.extra("", req.Extra.Keys()); err != nil {
		return err
	}
	switch req.EncodingFormat {
	case "", openai.EncodingFloat, openai.EncodingBase64:
	default:
		return r.because("encoding_format", "expressible: float, base64")
	}
	switch {
	case req.Input.IsTokens():
		return r.because("input", "token arrays are in OpenAI's tokenizer; send text")
	case req.Input.Len() == 0:
		return r.because("input", "no input")
	case req.User != "":
		return r.field("user")
	}
	for i, s := range req.Input.Strings {
		if s == "" {
			return r.because(at("input", i), "empty text")
		}
	}
	return nil
}

// EmbeddingsToTitanRequests translates an embeddings request into Titan
// Text Embeddings v2 InvokeModel bodies, one per input (Titan embeds one
// text per call), in input order. Vectors are normalized, as OpenAI's are.
// dimensions maps to dimensions (256, 512 or 1024); other values are refused.
func EmbeddingsToTitanRequests(req *openai.EmbeddingRequest) ([]*bedrockembed.TitanRequest, error) {
	r := refuser(targetTitan)
	if err := refuseEmbeddingsCommon(r, req); err != nil {
		return nil, err
	}
	if req.Dimensions != nil && !slices.Contains(bedrockembed.TitanDimensions, *req.Dimensions) {
		return nil, r.because("dimensions", "expressible: 256, 512, 1024")
	}
	out := make([]*bedrockembed.TitanRequest, len(req.Input.Strings))
	for i, s := range req.Input.Strings {
		out[i] = &bedrockembed.TitanRequest{InputText: s, Dimensions: req.Dimensions, Normalize: ptr(true), EmbeddingTypes: []string{"float"}}
	}
	return out, nil
}

// EmbeddingsToTitanV1Requests translates an embeddings request into Titan
// Text Embeddings v1 InvokeModel bodies, one per input, in input order. The
// model takes inputText only and answers 1536 dimensions: dimensions is
// refused unless it is 1536, which is then satisfied without being sent.
func EmbeddingsToTitanV1Requests(req *openai.EmbeddingRequest) ([]*bedrockembed.TitanRequest, error) {
	r := refuser(targetTitanV1)
	if err := refuseEmbeddingsCommon(r, req); err != nil {
		return nil, err
	}
	if req.Dimensions != nil && *req.Dimensions != titanV1Dimensions {
		return nil, r.because("dimensions", "the model has a fixed size; expressible: 1536")
	}
	out := make([]*bedrockembed.TitanRequest, len(req.Input.Strings))
	for i, s := range req.Input.Strings {
		out[i] = &bedrockembed.TitanRequest{InputText: s}
	}
	return out, nil
}

// EmbeddingsToTitanMultimodalRequests translates an embeddings request into
// Titan Multimodal Embeddings InvokeModel bodies, one per input, in input
// order: each text as inputText (OpenAI's API sends no images). dimensions
// maps to embeddingConfig.outputEmbeddingLength (256, 384 or 1024); other
// values are refused.
func EmbeddingsToTitanMultimodalRequests(req *openai.EmbeddingRequest) ([]*bedrockembed.TitanMultimodalRequest, error) {
	r := refuser(targetTitanMultimodal)
	if err := refuseEmbeddingsCommon(r, req); err != nil {
		return nil, err
	}
	var cfg *bedrockembed.TitanEmbeddingConfig
	if d := req.Dimensions; d != nil {
		if !slices.Contains(bedrockembed.TitanMultimodalLengths, *d) {
			return nil, r.because("dimensions", "expressible: 256, 384, 1024")
		}
		cfg = &bedrockembed.TitanEmbeddingConfig{OutputEmbeddingLength: d}
	}
	out := make([]*bedrockembed.TitanMultimodalRequest, len(req.Input.Strings))
	for i, s := range req.Input.Strings {
		out[i] = &bedrockembed.TitanMultimodalRequest{InputText: s, EmbeddingConfig: cfg}
	}
	return out, nil
}

// TitanToEmbeddingsResponse translates the Titan responses to the requests
// EmbeddingsToTitanRequests (or the v1 and Multimodal ones, which answer
// alike) made for req (same order) into one embeddings
// response, encoding vectors as base64 when req asked for it. Usage is the
// sum of inputTextTokenCount.
func TitanToEmbeddingsResponse(req *openai.EmbeddingRequest, resps []*bedrockembed.TitanResponse, meta EmbedMeta) (*openai.EmbeddingResponse, error) {
	if len(resps) != req.Input.Len() {
		return nil, fmt.Errorf("translate: %d Titan responses for %d inputs", len(resps), req.Input.Len())
	}
	vecs := make([][]float64, len(resps))
	var tokens int64
	for i, resp := range resps {
		if resp == nil || resp.Floats() == nil {
			return nil, fmt.Errorf("translate: Titan response %d has no float embedding", i)
		}
		vecs[i] = resp.Floats()
		tokens += resp.InputTextTokenCount
	}
	return embeddingsResponse(req, vecs, tokens, meta), nil
}

func embeddingsResponse(req *openai.EmbeddingRequest, vecs [][]float64, tokens int64, meta EmbedMeta) *openai.EmbeddingResponse {
	out := &openai.EmbeddingResponse{Object: "list", Data: make([]openai.Embedding, len(vecs)), Model: meta.Model,
		Usage: openai.EmbeddingUsage{PromptTokens: tokens, TotalTokens: tokens}}
	for i, v := range vecs {
		e := openai.Embedding{Object: "embedding", Index: int64(i)}
		if req.EncodingFormat == openai.EncodingBase64 {
			e.Embedding.Base64 = openai.EncodeFloat32Base64(v)
		} else {
			e.Embedding.Floats = v
		}
		out.Data[i] = e
	}
	return out
}
