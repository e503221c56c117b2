package anthropic

import "github.com/meridian-gateway/meridian/internal/schema/jsonx"

// Feature is a set of request features the gateway may route or refuse on.
type Feature uint32

// Features a Messages request can use.
const (
	FeatureTools       Feature = 1 << iota // tools
	FeatureServerTools                     // tools of a server type (web_search...)
	FeatureImages                          // image blocks
	FeatureDocuments                       // document blocks
	FeatureThinking                        // thinking enabled
	FeatureCache                           // cache_control anywhere
	FeatureJSONSchema                      // output_format
)

var featureNames = []string{"tools", "server_tools", "images", "documents", "thinking", "cache", "json_schema"}

// Names returns the names of the features in f, in a fixed order.
func (f Feature) Names() []string {
	var out []string
	for i, n := range featureNames {
		if f&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// Peeked is what Peek reads from a request body. Model is empty in Bedrock
// InvokeModel bodies, which carry it in the URL.
type Peeked struct {
	Model            string
	AnthropicVersion string
	Stream           bool
	MaxTokens        int64
	Features         Feature
}

// Peek reads model, stream, max_tokens and the features used from a Messages
// request body without decoding message content, as encoding/json would read
// them (escaped keys resolved, last duplicate wins).
func Peek(body []byte) (Peeked, error) {
	var p Peeked
	err := jsonx.Members(body, func(k, v []byte) error {
		switch {
		case jsonx.KeyIs(k, "model"):
			p.Model, _ = jsonx.String(v)
		case jsonx.KeyIs(k, "anthropic_version"):
			p.AnthropicVersion, _ = jsonx.String(v)
		case jsonx.KeyIs(k, "stream"):
			p.Stream = jsonx.IsTrue(v)
		case jsonx.KeyIs(k, "max_tokens"):
			p.MaxTokens, _ = jsonx.Int(v)
		case jsonx.KeyIs(k, "output_format"):
			if !jsonx.IsNull(v) {
				p.Features |= FeatureJSONSchema
			}
		case jsonx.KeyIs(k, "thinking"):
			if v[0] == '{' {
				return jsonx.Members(v, func(k2, v2 []byte) error {
					if jsonx.KeyIs(k2, "type") && jsonx.StringIs(v2, "enabled") {
						p.Features |= FeatureThinking
					}
					return nil
				})
			}
		case jsonx.KeyIs(k, "tools"):
			if v[0] == '[' {
				return jsonx.Elements(v, func(t []byte) error {
					p.Features |= FeatureTools
					if t[0] != '{' {
						return nil
					}
					return jsonx.Members(t, func(k2, v2 []byte) error {
						switch {
						case jsonx.KeyIs(k2, "type") && !jsonx.StringIs(v2, "custom"):
							p.Features |= FeatureServerTools
						case jsonx.KeyIs(k2, "cache_control") && !jsonx.IsNull(v2):
							p.Features |= FeatureCache
						}
						return nil
					})
				})
			}
		case jsonx.KeyIs(k, "messages"), jsonx.KeyIs(k, "system"):
			if v[0] == '[' {
				return jsonx.Walk(v, func(k2, v2 []byte) error {
					switch {
					case jsonx.KeyIs(k2, "type"):
						switch {
						case jsonx.StringIs(v2, BlockImage):
							p.Features |= FeatureImages
						case jsonx.StringIs(v2, BlockDocument):
							p.Features |= FeatureDocuments
						}
					case jsonx.KeyIs(k2, "cache_control") && !jsonx.IsNull(v2):
						p.Features |= FeatureCache
					}
					return nil
				})
			}
		}
		return nil
	})
	return p, err
}
