package mockllm

import (
	"encoding/json"
	"net/http"
)

// This file is the service tier on the Bedrock routes: a request asks for
// one with the X-Amzn-Bedrock-Service-Tier header (every operation; the
// only way InvokeModel takes it) or Converse's serviceTier.type, among
// Bedrock's values (priority, default, flex, reserved; another is a
// ValidationException, as the API's enum constraint refuses it), and the
// answer reports the tier it was served in as Bedrock does: InvokeModel's
// X-Amzn-Bedrock-Service-Tier response header, Converse's serviceTier in
// the answer and in a stream's metadata event. A request that asks for
// none gets none reported.

// headerServiceTier is Bedrock's service-tier header.
const headerServiceTier = "X-Amzn-Bedrock-Service-Tier"

// requestedTier returns the tier a request asks for: the header, else a
// Converse body's serviceTier.type.
func requestedTier(h http.Header, converse bool, body []byte) (string, error) {
	if v := h.Get(headerServiceTier); v != "" {
		return v, checkTier(v, "serviceTier")
	}
	if !converse {
		return "", nil
	}
	var b struct {
		ServiceTier *struct {
			Type string `json:"type"`
		} `json:"serviceTier"`
	}
	if json.Unmarshal(body, &b) != nil || b.ServiceTier == nil {
		return "", nil
	}
	return b.ServiceTier.Type, checkTier(b.ServiceTier.Type, "serviceTier.type")
}

// checkTier refuses a value that is not one of Bedrock's tiers.
func checkTier(v, at string) error {
	switch v {
	case "priority", "default", "flex", "reserved":
		return nil
	}
	return validationError("1 validation error detected: Value '" + clipEcho(v) + "' at '" + at +
		"' failed to satisfy constraint: Member must satisfy enum value set: [priority, default, flex, reserved]")
}

// withTier reports the served tier: in h, InvokeModel's response header,
// for an InvokeModel answer; in body (a Converse answer or a stream's
// metadata event, a map), serviceTier. It returns body.
func (g *bedrockGeneration) withTier(h http.Header, body any) any {
	if g.tier == "" {
		return body
	}
	if g.shape != shapeConverseBody {
		if h != nil {
			h.Set(headerServiceTier, g.tier)
		}
		return body
	}
	if m, ok := body.(map[string]any); ok {
		m["serviceTier"] = map[string]string{"type": g.tier}
	}
	return body
}
