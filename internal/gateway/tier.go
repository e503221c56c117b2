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
	// Conflict is set when the header and the body both ask for a tier and
	// disagree ([tiersDisagree]): the gateway refuses the request (400)
	// naming both, rather than admit one tier and ask Bedrock for the other.
	Conflict *TierConflict

	// read holds what the caller sent (header, body fields), decoded
	// once, so that the gateway reads the tier again once the body's
	// dialect is known (forDialect).
	read *tierFields
}

// tierFields are the header's value and the body's service_tier and
// serviceTier.type, each set when the caller sent it.
type tierFields struct {
	header                string
	openAI, bedrock       string
	hasOpenAI, hasBedrock bool
}

// TierConflict is a header and a body field that ask for different tiers.
type TierConflict struct {
	// Header and Value are the caller's values (cut to 32 bytes) of
	// HeaderBedrockServiceTier and of the body's Field (service_tier or
	// serviceTier.type).
	Header, Field, Value string
}

// ReadServiceTier reads the tier a request asks for: the
// X-Amzn-Bedrock-Service-Tier header, else the body's service_tier (OpenAI,
// Anthropic on InvokeModel) or serviceTier.type (Converse). Values are
// mapped by [inference.ParseServiceTier]. A body that mentions no tier is
// not decoded. The front end does not know the body's dialect yet: the
// gateway reads the tier again with it (forDialect), taking only the
// dialect's own field, before it admits the request.
//
// When both ask for a tier, the header is the tier unless the body's
// disagrees ([tiersDisagree]): that is a 400 naming both (Conflict), as a
// Bedrock deployment is sent the header upstream beside the body
// (internal/backend/bedrock_tier.go), and an OpenAI or Anthropic body's
// tier is translated into the Converse body. A body value that names no
// tier is refused (Invalid) whether or not the header names one.
func ReadServiceTier(h http.Header, body []byte) RequestedTier {
	f := &tierFields{header: h.Get(HeaderBedrockServiceTier)}
	f.readBody(body)
	return f.tier(inference.DialectUnknown)
}

// forDialect reads t's header and body again for a body of dialect d: a
// Converse body asks by serviceTier.type only, every other by service_tier
// only (a Converse body's service_tier, or another API's serviceTier, is
// not the tier the upstream reads, so it is not the one admitted). A
// RequestedTier not made by ReadServiceTier is returned as is.
func (t RequestedTier) forDialect(d inference.Dialect) RequestedTier {
	if t.read == nil {
		return t
	}
	return t.read.tier(d)
}

// tier is the tier f asks for in a body of dialect d.
func (f *tierFields) tier(d inference.Dialect) RequestedTier {
	field, bv, ok := f.bodyTier(d)
	if f.header == "" {
		if !ok {
			return RequestedTier{Tier: inference.TierDefault, read: f}
		}
		rt := requestedTier(field, bv)
		rt.read = f
		return rt
	}
	rt := requestedTier(HeaderBedrockServiceTier, f.header)
	rt.read = f
	if rt.Invalid != "" || !ok {
		return rt
	}
	if _, valid := inference.ParseServiceTier(bv); !valid {
		rt.Field, rt.Invalid = field, inference.Clip(bv, maxTierEcho)
		return rt
	}
	if tiersDisagree(f.header, bv) {
		rt.Conflict = &TierConflict{Header: inference.Clip(f.header, maxTierEcho), Field: field, Value: inference.Clip(bv, maxTierEcho)}
	}
	return rt
}

// readBody decodes the tier fields of body: its service_tier (OpenAI,
// Anthropic) and serviceTier.type (Converse). A body that mentions neither
// is not decoded.
func (f *tierFields) readBody(body []byte) {
	if !bytes.Contains(body, []byte("ervice_tier")) && !bytes.Contains(body, []byte("erviceTier")) {
		return
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
		return
	}
	if b.OpenAI != nil {
		f.openAI, f.hasOpenAI = *b.OpenAI, true
	}
	if b.Bedrock != nil {
		f.bedrock, f.hasBedrock = b.Bedrock.Type, true
	}
}

// bodyTier returns the tier a body of dialect d names, with the field's
// name: serviceTier.type for Converse, service_tier for every other
// dialect; with DialectUnknown (the front end's first read), service_tier,
// else serviceTier.type.
func (f *tierFields) bodyTier(d inference.Dialect) (field, v string, ok bool) {
	switch {
	case f.hasOpenAI && d != inference.DialectConverse:
		return "service_tier", f.openAI, true
	case f.hasBedrock && (d == inference.DialectConverse || d == inference.DialectUnknown):
		return "serviceTier.type", f.bedrock, true
	}
	return "", "", false
}

// tiersDisagree reports whether a header's tier and a body's ask for
// different things: they map to different tiers, or both are Bedrock tier
// names (priority, default, flex, reserved) and differ (reserved and
// default are both served as default here, but not by Bedrock). A body's
// "auto" or "" asks for nothing in particular (translations leave it out),
// and a body value that names no tier is refused before (tierFields.tier).
func tiersDisagree(header, body string) bool {
	if body == "" || body == "auto" {
		return false
	}
	ht, _ := inference.ParseServiceTier(header)
	bt, ok := inference.ParseServiceTier(body)
	if !ok {
		return false
	}
	if ht != bt {
		return true
	}
	return inference.BedrockTierName(header) && inference.BedrockTierName(body) && header != body
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
	if c := t.Conflict; c != nil {
		return &inference.Error{Kind: inference.KindInvalidRequest, Code: "invalid_service_tier", Param: c.Field,
			Message: HeaderBedrockServiceTier + ": " + strconv.Quote(c.Header) + " and " + c.Field + ": " + strconv.Quote(c.Value) +
				" ask for different service tiers: send one of them, or the same tier in both"}
	}
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

// CopyServedTier is CopyServiceTier for an outcome, except that
// HeaderBedrockServiceTier names the tier Amazon Bedrock reports it served
// a non-streamed answer in, when that is known: the backend read it
// ([inference.Response].ServiceTier) and the answer was served in this
// node's region, or a Converse answer passed through says it
// (serviceTier.type, the answer's own body, also when it came over the
// link). A forwarded answer's Response.ServiceTier is not taken: the
// link's compact answer form does not carry it, so taking it from the JSON
// form alone would make the header depend on the link's encoding.
// Otherwise the tier the request was served in (HeaderServiceTier) is the
// one the upstream was asked for (internal/backend/bedrock_tier.go). A
// value that is not one of Bedrock's tier names is never copied.
func CopyServedTier(dst http.Header, out *Outcome) {
	CopyServiceTier(dst, out.Header)
	r := out.Response
	if r == nil {
		return
	}
	served := ""
	if local := out.Route.InferenceRegion == "" || out.Route.InferenceRegion == out.Route.SourceRegion; local && inference.BedrockTierName(r.ServiceTier) {
		served = r.ServiceTier
	}
	if served == "" && r.Dialect == inference.DialectConverse && r.Body != nil {
		served = inference.ConverseServiceTier(r.Body)
	}
	if served != "" {
		dst.Set(HeaderBedrockServiceTier, served)
	}
}

// servedTier is the tier a request admitted in tier is served in by the
// deployment of model in region: tier when it is default, or when the
// deployment declares it (topology service_tiers) and so its upstream is
// asked for it (internal/backend/bedrock_tier.go, upstreamTier); else
// default, which is what the upstream serves a request that asks for no
// tier. The answer's tier headers, the audit event and the tier metrics
// name it, never a tier the upstream was not asked for; the admission
// queue and quota still order and count the request by the caller's tier.
func (g *Gateway) servedTier(region, model string, tier inference.ServiceTier) inference.ServiceTier {
	if tier != inference.TierPriority && tier != inference.TierFlex {
		return tier
	}
	if cfg := g.Config(); cfg != nil {
		if d, ok := cfg.Deployment(region, model); ok && d.HonoursTier(string(tier)) {
			return tier
		}
	}
	return inference.TierDefault
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
