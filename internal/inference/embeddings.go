package inference

import (
	"encoding/json"
	"strconv"
)

// MaxEmbeddingInputs bounds the inputs of one embeddings request, as
// OpenAI does.
const MaxEmbeddingInputs = 2048

// peekEmbeddings reads an OpenAI embeddings body: the model, the inputs
// (a string, an array of strings, a token array or an array of token
// arrays) for the input-token estimate, and dimensions. It marks the
// request as using the embeddings capability, so routing sends it only
// to embedding deployments.
func peekEmbeddings(req *Request) error {
	var b struct {
		Model          *string         `json:"model"`
		Input          json.RawMessage `json:"input"`
		Dimensions     *int            `json:"dimensions"`
		EncodingFormat *string         `json:"encoding_format"`
	}
	if err := json.Unmarshal(req.Body, &b); err != nil {
		return decodeError(err, "the request body")
	}
	if b.Model == nil || *b.Model == "" {
		return Invalid("model", "model is required")
	}
	if len(*b.Model) > MaxModelBytes {
		return Invalid("model", "model is longer than "+strconv.Itoa(MaxModelBytes)+" bytes")
	}
	req.Model = *b.Model
	req.Use(FeatureEmbeddings, "input")
	if b.Dimensions != nil && *b.Dimensions <= 0 {
		return Invalid("dimensions", "dimensions must be a positive integer")
	}
	if b.EncodingFormat != nil && *b.EncodingFormat != "float" && *b.EncodingFormat != "base64" {
		return Invalid("encoding_format", "encoding_format must be float or base64")
	}
	n, tokens, err := embeddingInputs(b.Input)
	if err != nil {
		return err
	}
	if n == 0 {
		return Invalid("input", "input must not be empty")
	}
	if n > MaxEmbeddingInputs {
		return Invalid("input", "input has "+strconv.Itoa(n)+" items, above "+strconv.Itoa(MaxEmbeddingInputs))
	}
	req.InputTokens = max(tokens, 1)
	// An embedding generates no tokens: admission and quotas reserve the
	// input (plus one), not the default completion budget.
	req.MaxTokens = 1
	return nil
}

// embeddingInputs counts the inputs of an embeddings input member and
// estimates their tokens.
func embeddingInputs(raw json.RawMessage) (n, tokens int, err error) {
	bad := Invalid("input", "input must be a string, an array of strings, an array of tokens or an array of token arrays")
	if len(raw) == 0 || string(raw) == "null" {
		return 0, 0, Invalid("input", "input is required")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return 0, 0, Invalid("input", "input must not be an empty string")
		}
		return 1, EstimateTokens(len(s)), nil
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return 0, 0, bad
	}
	var toks []int
	if len(items) > 0 && json.Unmarshal(raw, &toks) == nil {
		return 1, len(toks), nil
	}
	for i, it := range items {
		if json.Unmarshal(it, &s) == nil {
			if s == "" {
				return 0, 0, Invalid("input["+strconv.Itoa(i)+"]", "an input must not be an empty string")
			}
			tokens = SaturatingAdd(tokens, EstimateTokens(len(s)))
			continue
		}
		if json.Unmarshal(it, &toks) != nil || len(toks) == 0 {
			return 0, 0, bad
		}
		tokens = SaturatingAdd(tokens, len(toks))
	}
	return len(items), tokens, nil
}
