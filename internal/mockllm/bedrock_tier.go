package mockllm

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// This file is the service tier on the Bedrock routes: a request asks for
// one with the X-Amzn-Bedrock-Service-Tier header (every operation; the
// only way InvokeModel takes it) or Converse's serviceTier.type, among
// Bedrock's values (priority, default, flex, reserved; another is a
// ValidationException, as the API's enum constraint refuses it, whether or
// not the header is present), and the answer reports the tier it was served
// in as Bedrock does: InvokeModel's X-Amzn-Bedrock-Service-Tier response
// header, Converse's serviceTier in the answer and in a stream's metadata
// event. A request that asks for none gets none reported. Priority and
// flex are offered by some models only (Config.ServiceTiers): another
// model refuses them with a ValidationException, as Bedrock does.

// headerServiceTier is Bedrock's service-tier header.
const headerServiceTier = "X-Amzn-Bedrock-Service-Tier"

// DefaultServiceTiers is the table of models that offer priority and flex
// when Config.ServiceTiers is nil, by model id: the families Bedrock's
// service-tier page lists (gpt-oss, DeepSeek V3.1, Qwen3, Nova Pro and
// Premier), matched by a model id containing a key. Claude, Titan and
// Cohere models offer neither.
var DefaultServiceTiers = map[string][]string{
	"openai.gpt-oss":   {"priority", "flex"},
	"deepseek.v3":      {"priority", "flex"},
	"qwen.qwen3":       {"priority", "flex"},
	"amazon.nova-pro":  {"priority", "flex"},
	"amazon.nova-prem": {"priority", "flex"},
}

// offersTier reports whether model offers tier: default and reserved
// always; priority and flex when the server's table names them for the
// model (its id, or with the default table a key the id contains).
func (s *Server) offersTier(model, tier string) bool {
	if tier != "priority" && tier != "flex" {
		return true
	}
	if ts, ok := s.serviceTiers[model]; ok {
		return slices.Contains(ts, tier)
	}
	if s.tiersByPart {
		for k, ts := range s.serviceTiers {
			if strings.Contains(model, k) && slices.Contains(ts, tier) {
				return true
			}
		}
	}
	return false
}

// requestedTier returns the tier a request asks for: the header, else a
// Converse body's serviceTier.type. A Converse body's serviceTier.type is
// checked against the enum even beside a header (Bedrock validates the
// body whatever the headers say), and a body that names another tier than
// the header is refused.
func (s *Server) requestedTier(h http.Header, model string, converse bool, body []byte) (string, error) {
	tier := h.Get(headerServiceTier)
	if tier != "" {
		if err := checkTier(tier, "serviceTier"); err != nil {
			return "", err
		}
	}
	if converse {
		var b struct {
			ServiceTier *struct {
				Type string `json:"type"`
			} `json:"serviceTier"`
		}
		if json.Unmarshal(body, &b) == nil && b.ServiceTier != nil {
			if err := checkTier(b.ServiceTier.Type, "serviceTier.type"); err != nil {
				return "", err
			}
			if tier != "" && tier != b.ServiceTier.Type {
				return "", validationError("The service tier in the " + headerServiceTier + " header (" + clipEcho(tier) +
					") does not match serviceTier.type in the request body (" + clipEcho(b.ServiceTier.Type) + ").")
			}
			tier = b.ServiceTier.Type
		}
	}
	if tier != "" && !s.offersTier(model, tier) {
		return "", validationError("The provided service tier " + tier + " is not supported for model " + clipEcho(model) + ".")
	}
	return tier, nil
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

// servedTierOf is the tier an answer to a request asking for tier reports:
// Config.ServedTier for priority and flex when set, else tier.
func (s *Server) servedTierOf(tier string) string {
	if s.servedTier != "" && (tier == "priority" || tier == "flex") {
		return s.servedTier
	}
	return tier
}

// withTier reports the served tier: in h, InvokeModel's response header,
// for an InvokeModel answer; in body (a Converse answer or a stream's
// metadata event, a map), serviceTier. It returns body.
func (g *bedrockGeneration) withTier(h http.Header, body any) any {
	if g.tier == "" {
		return body
	}
	tier := g.s.servedTierOf(g.tier)
	if g.shape != shapeConverseBody {
		if h != nil {
			h.Set(headerServiceTier, tier)
		}
		return body
	}
	if m, ok := body.(map[string]any); ok {
		m["serviceTier"] = map[string]string{"type": tier}
	}
	return body
}

// openAITier refuses, as OpenAI does, a chat request whose service_tier
// asks model for priority or flex it does not offer.
func (s *Server) openAITier(model, tier string) *apiError {
	if tier == "" || s.offersTier(model, tier) {
		return nil
	}
	return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", param: "service_tier",
		message: "Unsupported service_tier: " + clipEcho(tier) + " is not available for model " + clipEcho(model) + "."}
}
