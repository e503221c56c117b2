package openai

import "github.com/meridian-gateway/meridian/internal/schema/jsonx"

// ResponsesPeeked is what PeekResponses reads from a Responses request body.
type ResponsesPeeked struct {
	Peeked
	// PreviousResponseID is set when the request continues a stored
	// response, which a gateway that stores nothing must refuse.
	PreviousResponseID bool
}

// PeekResponses reads model, stream, max_output_tokens and the features
// used from a Responses request body without decoding the input. Features:
// tools (function or built-in), images (input_image), files (input_file),
// json_schema and json_object (text.format), reasoning, logprobs
// (top_logprobs). IncludeUsage equals Stream: a Responses stream always
// ends with usage. It returns jsonx.ErrNotObject or jsonx.ErrSyntax for a
// body that is not a JSON object.
func PeekResponses(body []byte) (ResponsesPeeked, error) {
	var p ResponsesPeeked
	err := jsonx.Members(body, func(k, v []byte) error {
		switch {
		case jsonx.KeyIs(k, "model"):
			if s, ok := jsonx.String(v); ok {
				p.Model = s
			}
		case jsonx.KeyIs(k, "stream"):
			p.Stream = jsonx.IsTrue(v)
		case jsonx.KeyIs(k, "max_output_tokens"):
			p.MaxTokens, _ = jsonx.Int(v)
		case jsonx.KeyIs(k, "previous_response_id"):
			p.PreviousResponseID = !jsonx.IsNull(v) && !jsonx.StringIs(v, "")
		case jsonx.KeyIs(k, "tools"):
			if !jsonx.IsNull(v) && string(v) != "[]" {
				p.Features |= FeatureTools
			}
		case jsonx.KeyIs(k, "top_logprobs"):
			if !jsonx.IsNull(v) {
				p.Features |= FeatureLogprobs
			}
		case jsonx.KeyIs(k, "reasoning"):
			if v[0] == '{' {
				return jsonx.Members(v, func(k2, v2 []byte) error {
					if jsonx.KeyIs(k2, "effort") && !jsonx.IsNull(v2) && !jsonx.StringIs(v2, "none") {
						p.Features |= FeatureReasoning
					}
					return nil
				})
			}
		case jsonx.KeyIs(k, "text"):
			if v[0] == '{' {
				return jsonx.Members(v, func(k2, v2 []byte) error {
					if !jsonx.KeyIs(k2, "format") || v2[0] != '{' {
						return nil
					}
					return jsonx.Members(v2, func(k3, v3 []byte) error {
						if jsonx.KeyIs(k3, "type") {
							switch {
							case jsonx.StringIs(v3, FormatJSONSchema):
								p.Features |= FeatureJSONSchema
							case jsonx.StringIs(v3, FormatJSONObject):
								p.Features |= FeatureJSONObject
							}
						}
						return nil
					})
				})
			}
		case jsonx.KeyIs(k, "input"):
			if v[0] == '[' {
				return jsonx.Walk(v, func(k2, v2 []byte) error {
					if jsonx.KeyIs(k2, "type") {
						switch {
						case jsonx.StringIs(v2, PartInputImage):
							p.Features |= FeatureImages
						case jsonx.StringIs(v2, PartInputFile):
							p.Features |= FeatureFiles
						}
					}
					return nil
				})
			}
		}
		return nil
	})
	p.IncludeUsage = p.Stream
	return p, err
}

// PeekResponsesUsage reads the usage of a Responses response body, or of a
// stream event carrying the response (response.completed...), without
// decoding the rest: ok is false when it has none.
func PeekResponsesUsage(body []byte) (t Tokens, ok bool, err error) {
	var usage func(k, v []byte) error
	usage = func(k, v []byte) error {
		switch {
		case jsonx.KeyIs(k, "response") && v[0] == '{':
			return jsonx.Members(v, usage)
		case !jsonx.KeyIs(k, "usage") || v[0] != '{':
			return nil
		}
		ok = true
		return jsonx.Members(v, func(k2, v2 []byte) error {
			switch {
			case jsonx.KeyIs(k2, "input_tokens"):
				t.Prompt, _ = jsonx.Int(v2)
			case jsonx.KeyIs(k2, "output_tokens"):
				t.Completion, _ = jsonx.Int(v2)
			case jsonx.KeyIs(k2, "input_tokens_details") && v2[0] == '{':
				return jsonx.Members(v2, func(k3, v3 []byte) error {
					if jsonx.KeyIs(k3, "cached_tokens") {
						t.Cached, _ = jsonx.Int(v3)
					}
					return nil
				})
			case jsonx.KeyIs(k2, "output_tokens_details") && v2[0] == '{':
				return jsonx.Members(v2, func(k3, v3 []byte) error {
					if jsonx.KeyIs(k3, "reasoning_tokens") {
						t.Reasoning, _ = jsonx.Int(v3)
					}
					return nil
				})
			}
			return nil
		})
	}
	err = jsonx.Members(body, usage)
	return t, ok, err
}
