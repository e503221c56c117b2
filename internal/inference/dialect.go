package inference

import "strings"

// Dialect is the wire format of a request body and of the answer to it.
// Front ends tag a request with the dialect they received; a backend that
// speaks the same dialect forwards the body as received (pass-through),
// any other translates.
type Dialect uint8

// Dialects.
const (
	DialectUnknown Dialect = iota
	// DialectOpenAIChat is OpenAI's chat completions request and response.
	DialectOpenAIChat
	// DialectConverse is Amazon Bedrock's Converse and ConverseStream.
	DialectConverse
	// DialectAnthropic is the Anthropic Messages body of Bedrock's
	// InvokeModel (any anthropic_version).
	DialectAnthropic
	// DialectInvoke is an InvokeModel body of another model family (Llama,
	// Titan, Nova, Mistral...): carried unchanged, never translated.
	DialectInvoke
	// DialectOpenAIEmbeddings is OpenAI's embeddings request and response.
	DialectOpenAIEmbeddings
)

var dialectNames = [...]string{
	DialectUnknown:    "unknown",
	DialectOpenAIChat: "openai-chat",
	DialectConverse:   "bedrock-converse",
	DialectAnthropic:  "anthropic-messages",
	DialectInvoke:     "bedrock-invoke-other",

	DialectOpenAIEmbeddings: "openai-embeddings",
}

// String returns the dialect's name as configuration and docs write it.
func (d Dialect) String() string {
	if int(d) < len(dialectNames) {
		return dialectNames[d]
	}
	return "unknown"
}

// ParseDialect returns the dialect named s, or false.
func ParseDialect(s string) (Dialect, bool) {
	for d, n := range dialectNames {
		if n == s && d != 0 {
			return Dialect(d), true
		}
	}
	return DialectUnknown, false
}

// Feature is one capability a request uses that not every deployment has.
type Feature uint16

// Features a request may use. Routing excludes a deployment that lacks one
// the request uses.
const (
	FeatureTools Feature = 1 << iota
	FeatureVision
	FeatureJSONSchema
	FeatureReasoning
	FeatureN
	FeatureLogprobs
	FeatureDocuments
	FeaturePromptCaching
	FeatureEmbeddings
	// FeatureReasoningNone is reasoning_effort "none" (Chat Completions;
	// Responses' reasoning.effort "none" through its Chat body): it asks
	// for no reasoning, but a Chat Completions body passes through to an
	// OpenAI-compatible deployment unchanged, and an OpenAI model without
	// reasoning refuses the parameter whatever its value. So only such a
	// deployment lacks it, unless it has the reasoning capability; a
	// Bedrock deployment always has it (the translation to Converse sends
	// nothing for it, or refuses it naming the field for gpt-oss, which
	// always reasons). It is no capability name of its own: it reads as
	// reasoning, the capability that gives it.
	FeatureReasoningNone
	featureEnd
)

var featureNames = map[Feature]string{
	FeatureTools:         "tools",
	FeatureVision:        "vision",
	FeatureJSONSchema:    "json_schema",
	FeatureReasoning:     "reasoning",
	FeatureN:             "n",
	FeatureLogprobs:      "logprobs",
	FeatureDocuments:     "documents",
	FeaturePromptCaching: "prompt_caching",
	FeatureEmbeddings:    "embeddings",
}

// String returns the feature's name as `capabilities:` writes it.
func (f Feature) String() string {
	if f == FeatureReasoningNone {
		return featureNames[FeatureReasoning]
	}
	if n, ok := featureNames[f]; ok {
		return n
	}
	return "unknown"
}

// ParseFeature returns the feature named s, or false.
func ParseFeature(s string) (Feature, bool) {
	for f, n := range featureNames {
		if n == s {
			return f, true
		}
	}
	return 0, false
}

// AllFeatures lists every feature, in bit order.
func AllFeatures() []Feature {
	var out []Feature
	for f := Feature(1); f < featureEnd; f <<= 1 {
		out = append(out, f)
	}
	return out
}

// Features is a set of features.
type Features uint16

// Has reports whether every feature of f is in s.
func (s Features) Has(f Feature) bool { return uint16(s)&uint16(f) == uint16(f) }

// With returns s with f added.
func (s Features) With(f Feature) Features { return s | Features(f) }

// Missing returns the features of s that are not in have.
func (s Features) Missing(have Features) Features { return s &^ have }

// List returns the features of s in bit order.
func (s Features) List() []Feature {
	var out []Feature
	for f := Feature(1); f < featureEnd; f <<= 1 {
		if s.Has(f) {
			out = append(out, f)
		}
	}
	return out
}

// String returns the features' names joined with "+", or "none".
func (s Features) String() string {
	l := s.List()
	if len(l) == 0 {
		return "none"
	}
	names := make([]string, len(l))
	for i, f := range l {
		names[i] = f.String()
	}
	return strings.Join(names, "+")
}
