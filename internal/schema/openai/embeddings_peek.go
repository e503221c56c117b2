package openai

import "github.com/meridian-gateway/meridian/internal/schema/jsonx"

// EmbeddingsPeeked is what PeekEmbeddings reads from a request body.
type EmbeddingsPeeked struct {
	Model      string
	Inputs     int   // number of inputs: embeddings the response will hold
	Tokens     int64 // input tokens: exact for token arrays, estimated for text
	Dimensions int64 // 0 when absent
	Base64     bool  // encoding_format "base64"
}

// EstimateTokens estimates the tokens of text: one per 4 bytes, rounded
// up, which over-counts English for BPE vocabularies of OpenAI, Titan and
// Cohere and so errs on the side of quota.
func EstimateTokens(text []byte) int64 { return int64(len(text)+3) / 4 }

// PeekEmbeddings reads model, the number of inputs, an input-token estimate,
// dimensions and the encoding from an embeddings request body without
// decoding the input strings. Text is estimated by EstimateTokens on its
// raw (escaped) bytes. It returns jsonx.ErrNotObject or jsonx.ErrSyntax for
// a body that is not a JSON object.
func PeekEmbeddings(body []byte) (EmbeddingsPeeked, error) {
	var p EmbeddingsPeeked
	err := jsonx.Members(body, func(k, v []byte) error {
		switch {
		case jsonx.KeyIs(k, "model"):
			if s, ok := jsonx.String(v); ok {
				p.Model = s
			}
		case jsonx.KeyIs(k, "dimensions"):
			p.Dimensions, _ = jsonx.Int(v)
		case jsonx.KeyIs(k, "encoding_format"):
			p.Base64 = jsonx.StringIs(v, EncodingBase64)
		case jsonx.KeyIs(k, "input"):
			p.Inputs, p.Tokens = 0, 0
			switch v[0] {
			case '"':
				p.Inputs, p.Tokens = 1, EstimateTokens(v[1:len(v)-1])
			case '[':
				single := false
				return jsonx.Elements(v, func(e []byte) error {
					switch {
					case e[0] == '"':
						p.Inputs++
						p.Tokens += EstimateTokens(e[1 : len(e)-1])
					case e[0] == '[':
						p.Inputs++
						return jsonx.Elements(e, func([]byte) error { p.Tokens++; return nil })
					default: // one token array
						if !single {
							single = true
							p.Inputs++
						}
						p.Tokens++
					}
					return nil
				})
			}
		}
		return nil
	})
	return p, err
}
