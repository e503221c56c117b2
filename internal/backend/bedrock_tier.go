package backend

import (
	"net/http"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// headerServiceTier is the request header that asks Bedrock for a service
// tier. InvokeModel and InvokeModelWithResponseStream take the tier only
// as this header (the SDK's InvokeModelInput.ServiceTier); Converse and
// ConverseStream take it as the body's serviceTier.type as well.
const headerServiceTier = "X-Amzn-Bedrock-Service-Tier"

// upstreamHeaders are the request headers a pass-through call sends beside
// its body: "" leaves one out.
type upstreamHeaders struct {
	// metadata is InvokeModel's X-Amzn-Bedrock-Request-Metadata.
	metadata string
	// tier is X-Amzn-Bedrock-Service-Tier.
	tier string
}

// upstreamTier is the service tier a deployment asks its upstream for on
// every operation: the tier the gateway admitted req in when it is
// priority or flex and the deployment declares it (topology
// service_tiers, passed as declared), so that what Meridian reports in the
// answer's tier headers is what the upstream was asked for
// (docs/quotas.md, "Service tiers"). An upstream refuses a tier its model
// does not offer (Bedrock with a ValidationException, a 400 that does not
// fail over), so an undeclared tier is not sent: the request is served in
// the upstream's default tier, and the gateway reports default
// (internal/gateway/tier.go, servedTier). The default tier is what an
// upstream serves when asked for none, so it sends none. A request's tier
// is set when the caller asked for one, by the X-Amzn-Bedrock-Service-Tier
// header or by its body (internal/gateway/tier.go, which refuses a header
// and a body that disagree), and it crosses the inter-region link in the
// envelope, so a forwarded job asks for the same tier.
func upstreamTier(req *inference.Request, declared []string) string {
	switch req.ServiceTier {
	case inference.TierPriority, inference.TierFlex:
		if slices.Contains(declared, string(req.ServiceTier)) {
			return string(req.ServiceTier)
		}
	}
	return ""
}

// converseTier is upstreamTier for the SDK's Converse input of a request
// built in code (the canonical path, which has no body of the caller's).
func converseTier(req *inference.Request, declared []string) *types.ServiceTier {
	if t := upstreamTier(req, declared); t != "" {
		return &types.ServiceTier{Type: types.ServiceTierType(t)}
	}
	return nil
}

// passThroughHeaders returns the headers of a pass-through call of op
// for req.
func passThroughHeaders(op string, req *inference.Request, declared []string) (upstreamHeaders, error) {
	md, err := invokeRequestMetadata(op, req)
	if err != nil {
		return upstreamHeaders{}, err
	}
	return upstreamHeaders{metadata: md, tier: upstreamTier(req, declared)}, nil
}

// servedTier returns the service tier Bedrock reports it served a
// non-streamed answer of op in: InvokeModel's X-Amzn-Bedrock-Service-Tier
// response header (the SDK's InvokeModelOutput.ServiceTier), Converse's
// serviceTier.type in the answer's body; "" when it reports none or a
// value that is not a tier name.
func servedTier(op string, h http.Header, body []byte) string {
	if strings.HasPrefix(op, "invoke") {
		return reportedTier(h.Get(headerServiceTier))
	}
	return inference.ConverseServiceTier(body)
}

// reportedTier returns v when it is one of Bedrock's tier names, else ""
// (an answer's header is no place for an upstream's arbitrary bytes).
func reportedTier(v string) string {
	if inference.BedrockTierName(v) {
		return v
	}
	return ""
}

// translatedTier returns body, a translation of the caller's body into the
// deployment's API, with its tier member (OpenAI's service_tier or
// Converse's serviceTier, named by member) set to the default tier when
// the translation carried priority or flex from the caller's body and the
// deployment does not declare it (upstreamTier is ""): the upstream would
// refuse a tier its model does not offer, and the gateway serves and
// reports such a request as default (internal/gateway/tier.go,
// servedTier). The body is the translation's, not the caller's; a tier the
// deployment declares, or any other value, is kept.
func translatedTier(body []byte, member string, req *inference.Request, declared []string) []byte {
	if upstreamTier(req, declared) != "" {
		return body
	}
	v := inference.Field(body, member)
	if v == nil {
		return body
	}
	if member == "serviceTier" {
		v = inference.Field(v, "type")
	}
	switch string(v) {
	case `"priority"`, `"flex"`:
	default:
		return body
	}
	value := []byte(`"default"`)
	if member == "serviceTier" {
		value = []byte(`{"type":"default"}`)
	}
	return inference.AppendSetField(make([]byte, 0, len(body)), body, member, value)
}
