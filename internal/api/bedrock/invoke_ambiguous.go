package bedrock

import (
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// invokeReadMembers are the members of another family's InvokeModel body
// (not Anthropic's) that Meridian reads before the body goes upstream as
// it is: where each family bounds its output (the peek's list,
// internal/inference/peek.go, which quotas reserve on) and
// anthropic_version (which tells an Anthropic body from another's), by the
// object that holds them ("" for the body). A body that names one of them
// twice in any spelling, or once with an escape or in another case, is
// refused by name, the rule an Anthropic body gets
// (internal/gateway/ambiguous.go): the peek reads the first copy written
// exactly as named and Bedrock's parser may read another, so a body
// {"max_gen_len":10,"max_gen_len":100000} would reserve 10 tokens and be
// served 100000.
var invokeReadMembers = []struct {
	in      string
	members []string
}{
	{"", []string{"anthropic_version", "max_tokens", "max_gen_len", "maxTokens",
		"textGenerationConfig", "inferenceConfig", "parameters"}},
	{"textGenerationConfig", []string{"maxTokenCount"}},
	{"inferenceConfig", []string{"max_new_tokens", "maxTokens"}},
	{"parameters", []string{"max_new_tokens"}},
}

// checkInvokeAmbiguous returns the 400 (a ValidationException) naming the
// first member of invokeReadMembers that body names ambiguously, or nil.
// Nested objects are checked once their own name is known to be
// unambiguous (the top level comes first).
func checkInvokeAmbiguous(body []byte) error {
	for _, g := range invokeReadMembers {
		obj := body
		if g.in != "" {
			obj = nil
			_ = jsonx.Members(body, func(k, v []byte) error {
				if jsonx.KeyIs(k, g.in) {
					obj = v
				}
				return nil
			})
			if obj == nil {
				continue
			}
		}
		if err := jsonx.CheckAmbiguous(obj, g.members...); err != nil {
			e := err.(*jsonx.AmbiguousError)
			if g.in != "" {
				e.Member = g.in + "." + e.Member
			}
			return bedrockInvalid(inference.Invalid(e.Member, e.Error()))
		}
	}
	return nil
}
