package inference

// ServiceTier is a request's processing tier, as Bedrock names them:
// priority requests are served ahead of default ones under contention, and
// flex requests only from spare capacity. The zero value is the default
// tier.
type ServiceTier string

// Service tiers.
const (
	TierDefault  ServiceTier = "default"
	TierPriority ServiceTier = "priority"
	TierFlex     ServiceTier = "flex"
)

// ParseServiceTier maps a tier as a caller names it (Bedrock's
// X-Amzn-Bedrock-Service-Tier or serviceTier.type, OpenAI's or
// Anthropic's service_tier) to the tier that serves it: "priority" and
// "flex" as such; "default", "auto", "standard", "standard_only", and
// "reserved" or "scale" (reserved capacity, which overflows to the
// standard tier; Meridian has none) as default; "" as default. It reports
// false for anything else.
func ParseServiceTier(v string) (ServiceTier, bool) {
	switch v {
	case "", "default", "auto", "standard", "standard_only", "reserved", "scale":
		return TierDefault, true
	case "priority":
		return TierPriority, true
	case "flex":
		return TierFlex, true
	}
	return TierDefault, false
}

// String returns the tier's name; the zero value is "default".
func (t ServiceTier) String() string {
	if t == "" {
		return string(TierDefault)
	}
	return string(t)
}

// BedrockTierName reports whether v is one of Amazon Bedrock's service
// tier names (priority, default, flex, reserved).
func BedrockTierName(v string) bool {
	switch v {
	case "priority", "default", "flex", "reserved":
		return true
	}
	return false
}

// ConverseServiceTier returns a Converse answer's serviceTier.type, the
// tier Bedrock reports it served the answer in, when it is one of
// Bedrock's tier names; "" otherwise.
//
// The value is compared as written: Bedrock writes the names unescaped, and
// a name written with escapes is not taken (the header it is copied to
// names only what Bedrock plainly said).
func ConverseServiceTier(body []byte) string {
	f := Field(body, "serviceTier")
	if f == nil {
		return ""
	}
	v := Field(f, "type")
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return ""
	}
	switch string(v[1 : len(v)-1]) {
	case "priority":
		return "priority"
	case "default":
		return "default"
	case "flex":
		return "flex"
	case "reserved":
		return "reserved"
	}
	return ""
}
