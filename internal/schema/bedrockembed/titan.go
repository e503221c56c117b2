package bedrockembed

import "github.com/meridian-gateway/meridian/internal/schema/jsonx"

// Titan v2 output dimensions: the model accepts these and no others.
var TitanDimensions = []int64{256, 512, 1024}

// TitanRequest is the InvokeModel body of Titan Text Embeddings v2. It
// embeds one text per call.
type TitanRequest struct {
	InputText      string      `json:"inputText"`
	Dimensions     *int64      `json:"dimensions,omitempty"`     // 256, 512, 1024 (default)
	Normalize      *bool       `json:"normalize,omitempty"`      // default true
	EmbeddingTypes []string    `json:"embeddingTypes,omitempty"` // float, binary
	Extra          jsonx.Extra `json:"-"`
}

// TitanResponse is the InvokeModel response of Titan Text Embeddings v2.
type TitanResponse struct {
	Embedding           []float64              `json:"embedding,omitempty"`
	InputTextTokenCount int64                  `json:"inputTextTokenCount"`
	EmbeddingsByType    *TitanEmbeddingsByType `json:"embeddingsByType,omitempty"`
	Extra               jsonx.Extra            `json:"-"`
}

// TitanEmbeddingsByType holds the embeddings of each requested type.
type TitanEmbeddingsByType struct {
	Float  []float64   `json:"float,omitempty"`
	Binary []int64     `json:"binary,omitempty"`
	Extra  jsonx.Extra `json:"-"`
}

// Floats returns the float embedding: embedding, else embeddingsByType.float.
func (r *TitanResponse) Floats() []float64 {
	if r.Embedding != nil {
		return r.Embedding
	}
	if r.EmbeddingsByType != nil {
		return r.EmbeddingsByType.Float
	}
	return nil
}

// Titan Multimodal Embeddings output lengths: the model accepts these and
// no others.
var TitanMultimodalLengths = []int64{256, 384, 1024}

// TitanMultimodalRequest is the InvokeModel body of Titan Multimodal
// Embeddings (amazon.titan-embed-image-v1): a text, an image or both,
// embedded as one vector. Its answer is a [TitanResponse] (embedding and
// inputTextTokenCount).
type TitanMultimodalRequest struct {
	InputText       string                `json:"inputText,omitempty"`
	InputImage      string                `json:"inputImage,omitempty"` // base64
	EmbeddingConfig *TitanEmbeddingConfig `json:"embeddingConfig,omitempty"`
	Extra           jsonx.Extra           `json:"-"`
}

// TitanEmbeddingConfig is a Titan Multimodal Embeddings body's
// embeddingConfig.
type TitanEmbeddingConfig struct {
	OutputEmbeddingLength *int64      `json:"outputEmbeddingLength,omitempty"` // 256, 384, 1024 (default)
	Extra                 jsonx.Extra `json:"-"`
}
