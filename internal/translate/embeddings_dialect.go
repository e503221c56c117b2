package translate

import (
	"encoding/json"
	"fmt"

	"github.com/meridian-gateway/meridian/internal/schema/bedrockembed"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

// EmbedFamily is a Bedrock embedding model family, whose InvokeModel body
// an OpenAI embeddings request is translated to.
type EmbedFamily int

// Embedding model families.
const (
	Titan           EmbedFamily = iota + 1 // Amazon Titan Text Embeddings v2: amazon.titan-embed-text-v2:0
	Cohere                                 // Cohere Embed: cohere.embed-* (v4 with EmbedOptions.CohereV4)
	TitanV1                                // Amazon Titan Text Embeddings v1: amazon.titan-embed-text-v1
	TitanMultimodal                        // Amazon Titan Multimodal Embeddings: amazon.titan-embed-image-v1
)

func (f EmbedFamily) String() string {
	switch f {
	case Titan:
		return "titan"
	case Cohere:
		return "cohere"
	case TitanV1:
		return "titan-v1"
	case TitanMultimodal:
		return "titan-multimodal"
	}
	return fmt.Sprintf("EmbedFamily(%d)", int(f))
}

// DecodeEmbeddingsRequest decodes an embeddings request body.
// Errors: *DecodeError.
func DecodeEmbeddingsRequest(body []byte) (*openai.EmbeddingRequest, error) {
	return decodeAs[openai.EmbeddingRequest](OpenAI, body)
}

// EmbeddingsRequest translates an embeddings request into the InvokeModel
// bodies to send, in order: one per input for the Titan families, one for
// Cohere. Keep req for EmbeddingsResponse. Errors: *UnsupportedError.
func EmbeddingsRequest(family EmbedFamily, req *openai.EmbeddingRequest, opts EmbedOptions) ([][]byte, error) {
	switch family {
	case Titan:
		reqs, err := EmbeddingsToTitanRequests(req)
		if err != nil {
			return nil, err
		}
		return marshalEach(reqs)
	case TitanV1:
		reqs, err := EmbeddingsToTitanV1Requests(req)
		if err != nil {
			return nil, err
		}
		return marshalEach(reqs)
	case TitanMultimodal:
		reqs, err := EmbeddingsToTitanMultimodalRequests(req)
		if err != nil {
			return nil, err
		}
		return marshalEach(reqs)
	case Cohere:
		c, err := EmbeddingsToCohereRequest(req, opts)
		if err != nil {
			return nil, err
		}
		return marshalEach([]*bedrockembed.CohereRequest{c})
	}
	return nil, fmt.Errorf("translate: unknown embedding family %v", family)
}

// EmbeddingsResponse translates the InvokeModel response bodies of the
// calls EmbeddingsRequest made for req (same order) into an embeddings
// response body. Errors: *DecodeError (dialect converse: a Bedrock body).
func EmbeddingsResponse(family EmbedFamily, req *openai.EmbeddingRequest, bodies [][]byte, meta EmbedMeta) ([]byte, error) {
	var out *openai.EmbeddingResponse
	var err error
	switch family {
	case Titan, TitanV1, TitanMultimodal:
		// The three answer alike: embedding and inputTextTokenCount.
		resps := make([]*bedrockembed.TitanResponse, len(bodies))
		for i, b := range bodies {
			if resps[i], err = decodeAs[bedrockembed.TitanResponse](Converse, b); err != nil {
				return nil, err
			}
		}
		out, err = TitanToEmbeddingsResponse(req, resps, meta)
	case Cohere:
		if len(bodies) != 1 {
			return nil, fmt.Errorf("translate: %d Cohere bodies, want 1", len(bodies))
		}
		resp, derr := decodeAs[bedrockembed.CohereResponse](Converse, bodies[0])
		if derr != nil {
			return nil, derr
		}
		out, err = CohereToEmbeddingsResponse(req, resp, meta)
	default:
		return nil, fmt.Errorf("translate: unknown embedding family %v", family)
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// marshalEach encodes each body in order.
func marshalEach[T any](reqs []T) ([][]byte, error) {
	out := make([][]byte, len(reqs))
	for i, r := range reqs {
		b, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}
