package openai

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"

	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// Embedding encoding formats.
const (
	EncodingFloat  = "float"
	EncodingBase64 = "base64"
)

// EmbeddingRequest is the body of POST /v1/embeddings.
type EmbeddingRequest struct {
	Model          string         `json:"model"`
	Input          EmbeddingInput `json:"input"`
	Dimensions     *int64         `json:"dimensions,omitempty"`
	EncodingFormat string         `json:"encoding_format,omitempty"` // float (default), base64
	User           string         `json:"user,omitempty"`
	Extra          jsonx.Extra    `json:"-"`
}

// EmbeddingInput is input: a string, a list of strings, a token array or a
// list of token arrays. Exactly one of Strings and Tokens is set after a
// decode; Single says the input was one string or one token array rather
// than a list.
type EmbeddingInput struct {
	Strings []string
	Tokens  [][]int64
	Single  bool
}

// Len returns the number of inputs (embeddings the response will hold).
func (in EmbeddingInput) Len() int { return len(in.Strings) + len(in.Tokens) }

// IsTokens reports whether the input is token arrays.
func (in EmbeddingInput) IsTokens() bool { return in.Tokens != nil }

// MarshalJSON encodes the input in the form it was decoded from.
func (in EmbeddingInput) MarshalJSON() ([]byte, error) {
	switch {
	case in.Tokens != nil && in.Single && len(in.Tokens) == 1:
		return json.Marshal(in.Tokens[0])
	case in.Tokens != nil:
		return json.Marshal(in.Tokens)
	case in.Single && len(in.Strings) == 1:
		return json.Marshal(in.Strings[0])
	case in.Strings == nil:
		return []byte("[]"), nil
	}
	return json.Marshal(in.Strings)
}

// errEmbeddingInput reports an input of none of the four forms.
var errEmbeddingInput = errors.New("input: want a string, an array of strings, an array of integers or an array of integer arrays")

// UnmarshalJSON accepts the four input forms. A list's form is that of its
// first element; an empty list decodes as an empty list of strings.
func (in *EmbeddingInput) UnmarshalJSON(b []byte) error {
	*in = EmbeddingInput{}
	if len(b) == 0 {
		return errEmbeddingInput
	}
	switch b[0] {
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		in.Strings, in.Single = []string{s}, true
		return nil
	case '[':
	default:
		return errEmbeddingInput
	}
	var first []byte
	jsonx.Elements(b, func(v []byte) error {
		if first == nil {
			first = v
		}
		return nil
	})
	switch {
	case first == nil || first[0] == '"':
		in.Strings = []string{}
		return json.Unmarshal(b, &in.Strings)
	case first[0] == '[':
		in.Tokens = [][]int64{}
		return json.Unmarshal(b, &in.Tokens)
	case first[0] == '-' || (first[0] >= '0' && first[0] <= '9'):
		var t []int64
		if err := json.Unmarshal(b, &t); err != nil {
			return err
		}
		in.Tokens, in.Single = [][]int64{t}, true
		return nil
	}
	return errEmbeddingInput
}

// EmbeddingResponse is the response of POST /v1/embeddings (object "list").
type EmbeddingResponse struct {
	Object string         `json:"object"`
	Data   []Embedding    `json:"data"`
	Model  string         `json:"model"`
	Usage  EmbeddingUsage `json:"usage"`
	Extra  jsonx.Extra    `json:"-"`
}

// Embedding is one embedding (object "embedding").
type Embedding struct {
	Object    string      `json:"object"`
	Index     int64       `json:"index"`
	Embedding Vector      `json:"embedding"`
	Extra     jsonx.Extra `json:"-"`
}

// EmbeddingUsage is an embedding response's token usage.
type EmbeddingUsage struct {
	PromptTokens int64       `json:"prompt_tokens"`
	TotalTokens  int64       `json:"total_tokens"`
	Extra        jsonx.Extra `json:"-"`
}

// Vector is an embedding: a list of floats, or (encoding_format base64)
// the base64 of its little-endian float32 values (Base64 set).
type Vector struct {
	Floats []float64
	Base64 string
}

// MarshalJSON encodes the base64 string when set, else the float list.
func (v Vector) MarshalJSON() ([]byte, error) {
	if v.Base64 != "" {
		return json.Marshal(v.Base64)
	}
	if v.Floats == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(v.Floats)
}

// UnmarshalJSON accepts a float list or a base64 string.
func (v *Vector) UnmarshalJSON(b []byte) error {
	*v = Vector{}
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &v.Base64)
	}
	v.Floats = []float64{}
	return json.Unmarshal(b, &v.Floats)
}

// EncodeFloat32Base64 returns the base64 of fs as little-endian float32
// values, the encoding_format "base64" form of an embedding.
func EncodeFloat32Base64(fs []float64) string {
	b := make([]byte, 4*len(fs))
	for i, f := range fs {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(f)))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// DecodeFloat32Base64 is EncodeFloat32Base64's inverse.
func DecodeFloat32Base64(s string) ([]float64, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if len(b)%4 != 0 {
		return nil, errors.New("base64 embedding: length is not a multiple of 4 bytes")
	}
	out := make([]float64, len(b)/4)
	for i := range out {
		out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
	}
	return out, nil
}
