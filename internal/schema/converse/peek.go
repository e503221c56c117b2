package converse

import "github.com/meridian-gateway/meridian/internal/schema/jsonx"

// Feature is a set of request features the gateway may route or refuse on.
type Feature uint32

// Features a Converse request can use.
const (
	FeatureTools            Feature = 1 << iota // toolConfig
	FeatureImages                               // image blocks
	FeatureDocuments                            // document blocks
	FeatureVideo                                // video blocks
	FeatureJSONSchema                           // outputConfig.textFormat
	FeatureReasoning                            // reasoning in additionalModelRequestFields (thinking, reasoningConfig, reasoning_effort), outputConfig.effort, reasoningContent blocks
	FeatureCache                                // cachePoint anywhere
	FeatureGuardrail                            // guardrailConfig, guardContent
	FeatureAdditionalFields                     // additionalModelRequestFields
)

var featureNames = []string{"tools", "images", "documents", "video", "json_schema", "reasoning", "cache", "guardrail", "additional_fields"}

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

// Peeked is what Peek reads from a request body. Converse carries the model
// id and the choice of streaming in the URL, so neither is here.
type Peeked struct {
	MaxTokens int64 // inferenceConfig.maxTokens; 0 when absent
	Features  Feature
}

// Peek reads the token limit and the features used from a Converse request
// body without decoding message content, as encoding/json would read them
// (escaped keys resolved, last duplicate wins).
func Peek(body []byte) (Peeked, error) {
	var p Peeked
	err := jsonx.Members(body, func(k, v []byte) error {
		switch {
		case jsonx.KeyIs(k, "inferenceConfig"):
			if v[0] == '{' {
				p.MaxTokens = 0
				return jsonx.Members(v, func(k2, v2 []byte) error {
					if jsonx.KeyIs(k2, "maxTokens") {
						p.MaxTokens, _ = jsonx.Int(v2)
					}
					return nil
				})
			}
		case jsonx.KeyIs(k, "toolConfig"):
			if !jsonx.IsNull(v) {
				p.Features |= FeatureTools
			}
		case jsonx.KeyIs(k, "guardrailConfig"):
			if !jsonx.IsNull(v) {
				p.Features |= FeatureGuardrail
			}
		case jsonx.KeyIs(k, "additionalModelRequestFields"):
			if !jsonx.IsNull(v) {
				p.Features |= FeatureAdditionalFields
				return jsonx.Members(v, func(k2, _ []byte) error {
					if jsonx.KeyIs(k2, "thinking") || jsonx.KeyIs(k2, "reasoning_config") || jsonx.KeyIs(k2, "reasoningConfig") || jsonx.KeyIs(k2, "reasoning_effort") {
						p.Features |= FeatureReasoning
					}
					return nil
				})
			}
		case jsonx.KeyIs(k, "outputConfig"):
			if v[0] == '{' {
				return jsonx.Members(v, func(k2, v2 []byte) error {
					switch {
					case jsonx.KeyIs(k2, "textFormat") && !jsonx.IsNull(v2):
						p.Features |= FeatureJSONSchema
					case jsonx.KeyIs(k2, "effort") && !jsonx.IsNull(v2):
						p.Features |= FeatureReasoning
					}
					return nil
				})
			}
		case jsonx.KeyIs(k, "messages"), jsonx.KeyIs(k, "system"):
			if v[0] == '[' {
				return jsonx.Walk(v, func(k2, _ []byte) error {
					switch {
					case jsonx.KeyIs(k2, "image"):
						p.Features |= FeatureImages
					case jsonx.KeyIs(k2, "document"):
						p.Features |= FeatureDocuments
					case jsonx.KeyIs(k2, "video"):
						p.Features |= FeatureVideo
					case jsonx.KeyIs(k2, "cachePoint"):
						p.Features |= FeatureCache
					case jsonx.KeyIs(k2, "reasoningContent"):
						p.Features |= FeatureReasoning
					case jsonx.KeyIs(k2, "guardContent"):
						p.Features |= FeatureGuardrail
					}
					return nil
				})
			}
		}
		return nil
	})
	return p, err
}
