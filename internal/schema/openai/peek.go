package openai

import (
	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// Feature is a set of request features the gateway may route or refuse on.
type Feature uint32

// Features a Chat Completions request can use.
const (
	FeatureTools           Feature = 1 << iota // tools, functions
	FeatureImages                              // image_url content parts
	FeatureAudio                               // input_audio parts, audio output, modalities
	FeatureFiles                               // file content parts
	FeatureJSONSchema                          // response_format json_schema
	FeatureJSONObject                          // response_format json_object
	FeatureReasoning                           // reasoning_effort, except "none"
	FeatureMultipleChoices                     // n > 1
	FeatureLogprobs                            // logprobs, top_logprobs
	FeatureLogitBias                           // logit_bias
	FeaturePrediction                          // prediction
	FeatureWebSearch                           // web_search_options
)

var featureNames = []string{"tools", "images", "audio", "files", "json_schema", "json_object", "reasoning", "n", "logprobs", "logit_bias", "prediction", "web_search"}

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

// Has reports whether f holds every feature of g.
func (f Feature) Has(g Feature) bool { return f&g == g }

// Peeked is what Peek reads from a request body.
type Peeked struct {
	Model        string
	Stream       bool
	IncludeUsage bool  // stream_options.include_usage: the stream must end with a usage chunk
	MaxTokens    int64 // max_completion_tokens, else max_tokens; 0 when absent
	Features     Feature
}

// Peek reads model, stream, the token limit and the features used from a
// Chat Completions request body without decoding message content. It reads
// what encoding/json would: escaped keys are resolved and the last of
// duplicate members wins. It allocates only the model string. It returns
// jsonx.ErrNotObject or jsonx.ErrSyntax for a body that is not a JSON object.
func Peek(body []byte) (Peeked, error) {
	var p Peeked
	var maxTokens, maxCompletion int64
	err := jsonx.Members(body, func(k, v []byte) error {
		switch {
		case jsonx.KeyIs(k, "model"):
			if s, ok := jsonx.String(v); ok {
				p.Model = s
			}
		case jsonx.KeyIs(k, "stream"):
			p.Stream = jsonx.IsTrue(v)
		case jsonx.KeyIs(k, "max_tokens"):
			maxTokens, _ = jsonx.Int(v)
		case jsonx.KeyIs(k, "max_completion_tokens"):
			maxCompletion, _ = jsonx.Int(v)
		case jsonx.KeyIs(k, "tools"), jsonx.KeyIs(k, "functions"):
			if !jsonx.IsNull(v) && string(v) != "[]" {
				p.Features |= FeatureTools
			}
		case jsonx.KeyIs(k, "reasoning_effort"):
			// "none" asks for no reasoning, as Responses' reasoning.effort
			// "none" does (responses_peek.go); that an OpenAI model without
			// reasoning refuses the parameter is routing's concern
			// (internal/inference's FeatureReasoningNone).
			if !jsonx.IsNull(v) && !jsonx.StringIs(v, "none") {
				p.Features |= FeatureReasoning
			}
		case jsonx.KeyIs(k, "n"):
			if n, ok := jsonx.Int(v); ok && n > 1 {
				p.Features |= FeatureMultipleChoices
			}
		case jsonx.KeyIs(k, "logprobs"):
			if jsonx.IsTrue(v) {
				p.Features |= FeatureLogprobs
			}
		case jsonx.KeyIs(k, "top_logprobs"):
			if !jsonx.IsNull(v) {
				p.Features |= FeatureLogprobs
			}
		case jsonx.KeyIs(k, "logit_bias"):
			if !jsonx.IsNull(v) && string(v) != "{}" {
				p.Features |= FeatureLogitBias
			}
		case jsonx.KeyIs(k, "prediction"):
			if !jsonx.IsNull(v) {
				p.Features |= FeaturePrediction
			}
		case jsonx.KeyIs(k, "web_search_options"):
			if !jsonx.IsNull(v) {
				p.Features |= FeatureWebSearch
			}
		case jsonx.KeyIs(k, "audio"):
			if !jsonx.IsNull(v) {
				p.Features |= FeatureAudio
			}
		case jsonx.KeyIs(k, "stream_options"):
			p.IncludeUsage = false
			if v[0] == '{' {
				return jsonx.Members(v, func(k2, v2 []byte) error {
					if jsonx.KeyIs(k2, "include_usage") {
						p.IncludeUsage = jsonx.IsTrue(v2)
					}
					return nil
				})
			}
		case jsonx.KeyIs(k, "modalities"):
			if v[0] == '[' {
				return jsonx.Elements(v, func(m []byte) error {
					if jsonx.StringIs(m, "audio") {
						p.Features |= FeatureAudio
					}
					return nil
				})
			}
		case jsonx.KeyIs(k, "response_format"):
			if v[0] == '{' {
				return jsonx.Members(v, func(k2, v2 []byte) error {
					if jsonx.KeyIs(k2, "type") {
						switch {
						case jsonx.StringIs(v2, FormatJSONSchema):
							p.Features |= FeatureJSONSchema
						case jsonx.StringIs(v2, FormatJSONObject):
							p.Features |= FeatureJSONObject
						}
					}
					return nil
				})
			}
		case jsonx.KeyIs(k, "messages"):
			if v[0] == '[' {
				return jsonx.Walk(v, func(k2, _ []byte) error {
					switch {
					case jsonx.KeyIs(k2, "image_url"):
						p.Features |= FeatureImages
					case jsonx.KeyIs(k2, "input_audio"):
						p.Features |= FeatureAudio
					case jsonx.KeyIs(k2, "file"):
						p.Features |= FeatureFiles
					}
					return nil
				})
			}
		}
		return nil
	})
	p.MaxTokens = maxTokens
	if maxCompletion > 0 {
		p.MaxTokens = maxCompletion
	}
	return p, err
}
