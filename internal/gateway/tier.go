package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// Service-tier headers. A caller asks for a tier with
// HeaderBedrockServiceTier (either front end) or the body field of its API;
// every answer names the tier that served it in HeaderServiceTier, and the
// Bedrock front end in HeaderBedrockServiceTier too.
const (
	HeaderServiceTier        = "X-Meridian-Service-Tier"
	HeaderBedrockServiceTier = "X-Amzn-Bedrock-Service-Tier"
)

// maxTierEcho bounds the caller's value quoted in a refusal.
const maxTierEcho = 32

// RequestedTier is the service tier a caller asked for, as a front end read
// it ([ReadServiceTier]).
type RequestedTier struct {
	// Tier is the tier that serves the request.
	Tier inference.ServiceTier
	// Field names where the caller set it (a header or a body field);
	// empty when it did not.
	Field string
	// Invalid holds the caller's value, cut to 32 bytes, when it names no
	// tier: the gateway refuses the request (400) naming Field.
	Invalid string
}

// ReadServiceTier reads the tier a request asks for: the
// X-Amzn-Bedrock-Service-Tier header, else the body's service_tier (OpenAI,
// Anthropic on InvokeModel) or serviceTier.type (Converse). Values are
// mapped by [inference.ParseServiceTier]. A body that mentions no tier is
// not decoded.
func ReadServiceTier(h http.Header, body []byte) RequestedTier {
	if v := h.Get(HeaderBedrockServiceTier); v != "" {
		return requestedTier(HeaderBedrockServiceTier, v)
	}
	if !bytes.Contains(body, []byte("ervice_tier")) && !bytes.Contains(body, []byte("erviceTier")) {
		return RequestedTier{Tier: inference.TierDefault}
	}
	var b struct {
		OpenAI  *string `json:"service_tier"`
		Bedrock *struct {
			Type string `json:"type"`
		} `json:"serviceTier"`
	}
	// A body that does not decode is the front end's to refuse; here it
	// asks for no tier.
	if json.Unmarshal(body, &b) != nil {
		return RequestedTier{Tier: inference.TierDefault}
	}
	switch {
	case b.OpenAI != nil:
		return requestedTier("service_tier", *b.OpenAI)
	case b.Bedrock != nil:
		return requestedTier("serviceTier.type", b.Bedrock.Type)
	}
	return RequestedTier{Tier: inference.TierDefault}
}

func requestedTier(field, v string) RequestedTier {
	t, ok := inference.ParseServiceTier(v)
	if !ok {
		return RequestedTier{Tier: inference.TierDefault, Field: field, Invalid: inference.Clip(v, maxTierEcho)}
	}
	return RequestedTier{Tier: t, Field: field}
}

// err returns the 400 of an invalid tier, or nil.
func (t RequestedTier) err() error {
	if t.Invalid == "" {
		return nil
	}
	return &inference.Error{Kind: inference.KindInvalidRequest, Code: "invalid_service_tier", Param: t.Field,
		Message: t.Field + ": " + strconv.Quote(t.Invalid) + " is not a service tier: use priority, default or flex"}
}

// CopyServiceTier sets the served tier of an outcome's headers (src,
// [Outcome].Header) on a Bedrock answer (dst), under both
// HeaderServiceTier and HeaderBedrockServiceTier.
func CopyServiceTier(dst, src http.Header) {
	if v := src.Get(HeaderServiceTier); v != "" {
		dst.Set(HeaderServiceTier, v)
		dst.Set(HeaderBedrockServiceTier, v)
	}
}

// withTier returns h (allocated if nil) with the served tier.
func withTier(h http.Header, t inference.ServiceTier) http.Header {
	if h == nil {
		h = http.Header{}
	}
	h[HeaderServiceTier] = tierValue(t)
	return h
}

// tierValues are the header values of the three tiers, made once: h.Set
// allocates a value slice on every answer. Each is capped at one
// element, so that an h.Add on the field reallocates rather than writes
// into the shared array; nothing writes a value in place.
var tierValues = map[inference.ServiceTier][]string{
	inference.TierDefault:  {inference.TierDefault.String()},
	inference.TierPriority: {inference.TierPriority.String()},
	inference.TierFlex:     {inference.TierFlex.String()},
}

// tierValue returns the header value of t, shared for the three tiers.
func tierValue(t inference.ServiceTier) []string {
	if v, ok := tierValues[t]; ok {
		return v[:1:1]
	}
	return []string{t.String()}
}

// tierOf returns the request's tier, default when unset.
func tierOf(req *inference.Request) inference.ServiceTier {
	if req == nil || req.ServiceTier == "" {
		return inference.TierDefault
	}
	return req.ServiceTier
}

// observeTier counts a finished source-side request under its tier (a
// bounded label: a record's tier is one of the three, or "default" when it
// was refused before its tier was read).
func observeTier(m *telemetry.Metrics, rec *Record, status int) {
	tier := rec.ServiceTier
	if tier == "" {
		tier = inference.TierDefault.String()
	}
	m.TierRequests.WithLabelValues(tier, statusLabel(status)).Inc()
	if status == 200 && rec.TTFT > 0 {
		m.TierTTFT.WithLabelValues(tier).Observe(rec.TTFT.Seconds())
	}
}
