package anthropic

import "github.com/meridian-gateway/meridian/internal/schema/jsonx"

// Tokens are the token counts of a usage object, as peeked. Has* say
// which members were present: a message_delta event usually carries only
// output_tokens, cumulative.
type Tokens struct {
	Input, Output, CacheRead, CacheWrite int64
	HasInput, HasOutput                  bool
}

// PeekUsage reads the usage of a response body, a message_start event
// (message.usage) or a message_delta event (usage) without decoding the
// rest: ok is false when it has none.
func PeekUsage(body []byte) (t Tokens, ok bool, err error) {
	usage := func(v []byte) error {
		ok = true
		return jsonx.Members(v, func(k, v2 []byte) error {
			switch {
			case jsonx.KeyIs(k, "input_tokens"):
				t.Input, t.HasInput = jsonx.Int(v2)
			case jsonx.KeyIs(k, "output_tokens"):
				t.Output, t.HasOutput = jsonx.Int(v2)
			case jsonx.KeyIs(k, "cache_read_input_tokens"):
				t.CacheRead, _ = jsonx.Int(v2)
			case jsonx.KeyIs(k, "cache_creation_input_tokens"):
				t.CacheWrite, _ = jsonx.Int(v2)
			}
			return nil
		})
	}
	err = jsonx.Members(body, func(k, v []byte) error {
		switch {
		case jsonx.KeyIs(k, "usage") && v[0] == '{':
			return usage(v)
		case jsonx.KeyIs(k, "message") && v[0] == '{':
			return jsonx.Members(v, func(k2, v2 []byte) error {
				if jsonx.KeyIs(k2, "usage") && v2[0] == '{' {
					return usage(v2)
				}
				return nil
			})
		}
		return nil
	})
	return t, ok, err
}
