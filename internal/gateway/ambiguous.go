package gateway

import (
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// The members of an Anthropic Messages body (InvokeModel's, and
// /v1/messages' once its front end has moved model and stream out) and of
// a Converse body that Meridian reads before the body goes upstream as it
// is: the peek (internal/inference/peek.go: quotas, features, request
// metadata, validation), the service tier (tier.go) and the front end
// (model, stream, anthropic_beta). A body that names one of them twice,
// or once with an escape or in another case, is refused by name at the
// door, as a Chat Completions body's model and stream_options are
// (docs/api.md, "How a request travels"): the peek reads one copy
// (encoding/json: the last, case folded) and the upstream's parser may
// read another, so the request would be reserved, routed or recorded on
// one value and served on another (a max_tokens of 10 reserved and 100000
// served).
var (
	anthropicReadMembers = []string{"anthropic_version", "anthropic_beta", "max_tokens", "messages", "system",
		"temperature", "top_p", "tools", "tool_choice", "thinking", "service_tier", "model", "stream"}
	converseReadMembers = []string{"messages", "system", "inferenceConfig", "toolConfig",
		"additionalModelRequestFields", "outputConfig", "requestMetadata", "serviceTier"}
	converseInferenceMembers = []string{"maxTokens", "temperature", "topP"}
	// invokeReadMembers are those of another family's InvokeModel body
	// (not Anthropic's), by the object that holds them ("" for the body):
	// where each family bounds its output (the peek's list,
	// internal/inference/peek.go, which quotas reserve on) and
	// anthropic_version (which tells an Anthropic body from another's). A
	// body {"max_gen_len":10,"max_gen_len":100000} would reserve 10 tokens
	// and be served 100000. A nested object is checked once its own name
	// is known to be unambiguous (the body comes first).
	invokeReadMembers = []struct {
		in      string
		members []string
	}{
		{"", []string{"anthropic_version", "max_tokens", "max_gen_len", "maxTokens",
			"textGenerationConfig", "inferenceConfig", "parameters"}},
		{"textGenerationConfig", []string{"maxTokenCount"}},
		{"inferenceConfig", []string{"max_new_tokens", "maxTokens"}},
		{"parameters", []string{"max_new_tokens"}},
	}
)

// CheckAmbiguous is checkAmbiguous for a front end that serves a request
// without Invoke (Bedrock's CountTokens), so that it refuses what an
// inference call with the same body would.
func CheckAmbiguous(req *inference.Request) *inference.Error { return checkAmbiguous(req) }

// checkAmbiguous refuses a pass-through body of req's dialect (Anthropic,
// Converse, another family's InvokeModel) that names a member Meridian
// reads ambiguously (see above), naming it; nil for other dialects (the
// Chat Completions peek refuses its own). The source checks at Invoke and
// the destination again at ServeForwarded.
func checkAmbiguous(req *inference.Request) *inference.Error {
	if req == nil {
		return nil
	}
	switch req.Dialect {
	case inference.DialectAnthropic:
		return ambiguity("", req.Body, anthropicReadMembers)
	case inference.DialectConverse:
		if err := ambiguity("", req.Body, converseReadMembers); err != nil {
			return err
		}
		var nested error
		_ = jsonx.Members(req.Body, func(k, v []byte) error {
			switch {
			case nested != nil:
			case jsonx.KeyIs(k, "inferenceConfig"):
				if e := ambiguity("inferenceConfig.", v, converseInferenceMembers); e != nil {
					nested = e
				}
			case jsonx.KeyIs(k, "serviceTier"):
				if e := ambiguity("serviceTier.", v, []string{"type"}); e != nil {
					nested = e
				}
			}
			return nil
		})
		if nested != nil {
			return nested.(*inference.Error)
		}
	case inference.DialectInvoke:
		for _, g := range invokeReadMembers {
			obj := req.Body
			if g.in != "" {
				obj = nil
				_ = jsonx.Members(req.Body, func(k, v []byte) error {
					if jsonx.KeyIs(k, g.in) {
						obj = v
					}
					return nil
				})
				if obj == nil {
					continue
				}
			}
			prefix := ""
			if g.in != "" {
				prefix = g.in + "."
			}
			if err := ambiguity(prefix, obj, g.members); err != nil {
				return err
			}
		}
	}
	return nil
}

// ambiguity is the 400 naming prefix+the first of names that obj names
// ambiguously, or nil.
func ambiguity(prefix string, obj []byte, names []string) *inference.Error {
	name, twice := jsonx.Ambiguous(obj, names...)
	if name == "" {
		return nil
	}
	e := &jsonx.AmbiguousError{Member: prefix + name, Twice: twice}
	return inference.Invalid(e.Member, e.Error())
}
