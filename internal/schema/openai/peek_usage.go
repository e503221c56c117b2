package openai

import "github.com/meridian-gateway/meridian/internal/schema/jsonx"

// Tokens are the token counts of a usage object, as peeked.
type Tokens struct {
	Prompt     int64 // prompt_tokens (includes Cached)
	Completion int64 // completion_tokens
	Cached     int64 // prompt_tokens_details.cached_tokens
	Reasoning  int64 // completion_tokens_details.reasoning_tokens
}

// PeekUsage reads the usage of a response body or stream chunk without
// decoding the rest: ok is false when it has no usage object (most chunks).
func PeekUsage(body []byte) (t Tokens, ok bool, err error) {
	err = jsonx.Members(body, func(k, v []byte) error {
		if !jsonx.KeyIs(k, "usage") || v[0] != '{' {
			return nil
		}
		ok = true
		return jsonx.Members(v, func(k2, v2 []byte) error {
			switch {
			case jsonx.KeyIs(k2, "prompt_tokens"):
				t.Prompt, _ = jsonx.Int(v2)
			case jsonx.KeyIs(k2, "completion_tokens"):
				t.Completion, _ = jsonx.Int(v2)
			case jsonx.KeyIs(k2, "prompt_tokens_details") && v2[0] == '{':
				return jsonx.Members(v2, func(k3, v3 []byte) error {
					if jsonx.KeyIs(k3, "cached_tokens") {
						t.Cached, _ = jsonx.Int(v3)
					}
					return nil
				})
			case jsonx.KeyIs(k2, "completion_tokens_details") && v2[0] == '{':
				return jsonx.Members(v2, func(k3, v3 []byte) error {
					if jsonx.KeyIs(k3, "reasoning_tokens") {
						t.Reasoning, _ = jsonx.Int(v3)
					}
					return nil
				})
			}
			return nil
		})
	})
	return t, ok, err
}
