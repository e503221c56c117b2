package bedrockembed

import (
	"encoding/json"

	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// Cohere input types.
const (
	InputSearchDocument = "search_document"
	InputSearchQuery    = "search_query"
	InputClassification = "classification"
	InputClustering     = "clustering"
)

// Cohere Embed v4 output dimensions; v3 models have a fixed size.
var CohereV4Dimensions = []int64{256, 512, 1024, 1536}

// CohereRequest is the InvokeModel body of Cohere Embed.
type CohereRequest struct {
	Texts           []string        `json:"texts,omitempty"`
	Images          []string        `json:"images,omitempty"` // data: URLs
	Inputs          json.RawMessage `json:"inputs,omitempty"` // v4 mixed content
	InputType       string          `json:"input_type"`
	Truncate        string          `json:"truncate,omitempty"`         // NONE, START, END
	EmbeddingTypes  []string        `json:"embedding_types,omitempty"`  // float, int8, uint8, binary, ubinary
	OutputDimension *int64          `json:"output_dimension,omitempty"` // v4 only
	MaxTokens       *int64          `json:"max_tokens,omitempty"`       // v4 only
	Extra           jsonx.Extra     `json:"-"`
}

// Cohere response types.
const (
	ResponseFloats = "embeddings_floats"
	ResponseByType = "embeddings_by_type"
)

// CohereResponse is the InvokeModel response of Cohere Embed. Bedrock
// reports its input tokens in the X-Amzn-Bedrock-Input-Token-Count header,
// not in the body.
type CohereResponse struct {
	ID           string           `json:"id,omitempty"`
	ResponseType string           `json:"response_type,omitempty"`
	Embeddings   CohereEmbeddings `json:"embeddings"`
	Texts        []string         `json:"texts,omitempty"`
	Extra        jsonx.Extra      `json:"-"`
}

// CohereEmbeddings is embeddings: a list of float vectors
// (embeddings_floats) or vectors by type (embeddings_by_type, ByType set).
type CohereEmbeddings struct {
	Floats [][]float64
	ByType *CohereEmbeddingsByType
}

// MarshalJSON encodes the object when ByType is set, else the list.
func (e CohereEmbeddings) MarshalJSON() ([]byte, error) {
	if e.ByType != nil {
		return json.Marshal(e.ByType)
	}
	if e.Floats == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(e.Floats)
}

// UnmarshalJSON accepts a list of vectors or an object of lists by type.
func (e *CohereEmbeddings) UnmarshalJSON(b []byte) error {
	*e = CohereEmbeddings{}
	if len(b) > 0 && b[0] == '{' {
		e.ByType = new(CohereEmbeddingsByType)
		return json.Unmarshal(b, e.ByType)
	}
	e.Floats = [][]float64{}
	return json.Unmarshal(b, &e.Floats)
}

// Vectors returns the float vectors of either form.
func (e CohereEmbeddings) Vectors() [][]float64 {
	if e.ByType != nil {
		return e.ByType.Float
	}
	return e.Floats
}

// CohereEmbeddingsByType holds the vectors of each requested type; types
// other than float stay in Extra.
type CohereEmbeddingsByType struct {
	Float [][]float64 `json:"float,omitempty"`
	Extra jsonx.Extra `json:"-"`
}
