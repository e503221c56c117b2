package anthropic

import (
	"encoding/json"

	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// ToBedrockBody returns a copy of a /v1/messages request body shaped for
// Bedrock InvokeModel: model and stream removed (the URL and the operation
// carry them) and anthropic_version set to BedrockVersion when absent.
// Every other byte is unchanged. The anthropic-beta header, if any, is the
// caller's to move into anthropic_beta. A body that names model, stream,
// anthropic_version or anthropic_beta more than once, or with an escape or
// in another case, is refused with a *jsonx.AmbiguousError naming it: the
// front end reads one copy, the edit removes or sets the members written
// as named, and a copy in another case would reach the upstream.
func ToBedrockBody(body []byte) ([]byte, error) {
	if err := jsonx.CheckAmbiguous(body, "model", "stream", "anthropic_version", "anthropic_beta"); err != nil {
		return nil, err
	}
	out, err := jsonx.DeleteMember(body, "model")
	if err != nil {
		return nil, err
	}
	if out, err = jsonx.DeleteMember(out, "stream"); err != nil {
		return nil, err
	}
	if p, err := Peek(out); err != nil || p.AnthropicVersion != "" {
		return out, err
	}
	return jsonx.SetMember(out, "anthropic_version", []byte(`"`+BedrockVersion+`"`))
}

// ToMessagesBody returns a copy of a Bedrock InvokeModel request body shaped
// for /v1/messages: anthropic_version removed, model set, and stream set to
// true when stream is (InvokeModelWithResponseStream bodies do not say).
// Every other byte is unchanged.
func ToMessagesBody(body []byte, model string, stream bool) ([]byte, error) {
	out, err := jsonx.DeleteMember(body, "anthropic_version")
	if err != nil {
		return nil, err
	}
	raw, _ := json.Marshal(model)
	if out, err = jsonx.SetMember(out, "model", raw); err != nil {
		return nil, err
	}
	if stream {
		return jsonx.SetMember(out, "stream", []byte("true"))
	}
	return out, nil
}
