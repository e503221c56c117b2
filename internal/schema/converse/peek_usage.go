package converse

import "github.com/meridian-gateway/meridian/internal/schema/jsonx"

// Tokens are the token counts of a usage object, as peeked.
type Tokens struct {
	Input      int64 // inputTokens (excludes cache reads and writes)
	Output     int64 // outputTokens
	CacheRead  int64 // cacheReadInputTokens
	CacheWrite int64 // cacheWriteInputTokens
}

// PeekUsage reads the usage of a Converse response body or a metadata
// event payload without decoding the rest: ok is false when it has none.
func PeekUsage(body []byte) (t Tokens, ok bool, err error) {
	err = jsonx.Members(body, func(k, v []byte) error {
		if !jsonx.KeyIs(k, "usage") || v[0] != '{' {
			return nil
		}
		ok = true
		return jsonx.Members(v, func(k2, v2 []byte) error {
			switch {
			case jsonx.KeyIs(k2, "inputTokens"):
				t.Input, _ = jsonx.Int(v2)
			case jsonx.KeyIs(k2, "outputTokens"):
				t.Output, _ = jsonx.Int(v2)
			case jsonx.KeyIs(k2, "cacheReadInputTokens"):
				t.CacheRead, _ = jsonx.Int(v2)
			case jsonx.KeyIs(k2, "cacheWriteInputTokens"):
				t.CacheWrite, _ = jsonx.Int(v2)
			}
			return nil
		})
	})
	return t, ok, err
}
