package bedrock

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	apianthropic "github.com/meridian-gateway/meridian/internal/api/anthropic"
	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// bedrockHeaderPrefix begins the Bedrock Runtime request headers that are
// part of its API (InvokeModel's guardrail, trace, latency, tier and
// metadata headers; InvokeModelWithResponseStream's accept).
const bedrockHeaderPrefix = "X-Amzn-Bedrock-"

// invokeOnly are the X-Amzn-Bedrock-* request headers of InvokeModel (and
// InvokeModelWithResponseStream) that Converse has in its body instead,
// with the body member that takes their place.
// The key is the canonical form (http.CanonicalHeaderKey), name the
// header as Bedrock's API spells it.
var invokeOnly = map[string]struct{ name, member string }{
	"X-Amzn-Bedrock-Guardrailidentifier":       {"X-Amzn-Bedrock-GuardrailIdentifier", "guardrailConfig"},
	"X-Amzn-Bedrock-Guardrailversion":          {"X-Amzn-Bedrock-GuardrailVersion", "guardrailConfig"},
	"X-Amzn-Bedrock-Trace":                     {"X-Amzn-Bedrock-Trace", "guardrailConfig.trace"},
	"X-Amzn-Bedrock-Performanceconfig-Latency": {"X-Amzn-Bedrock-PerformanceConfig-Latency", "performanceConfig"},
	"X-Amzn-Bedrock-Request-Metadata":          {"X-Amzn-Bedrock-Request-Metadata", "requestMetadata"},
}

// checkBedrockHeaders applies one rule to a runtime operation's
// X-Amzn-Bedrock-* request headers: one the operation defines is handled
// (read, forwarded, or refused by checkInvokeHeaders when it asks for what
// the gateway cannot give), and any other is refused with a
// ValidationException naming it, never dropped unread
// (docs/architecture.md, invariant 6). On InvokeModel an anthropic-*
// header gets /v1/messages' rule (apianthropic.CheckHeaders), except
// anthropic-beta, which InvokeModel takes in the body only: a header beta
// the body also names is taken (betaNotInBody). See
// docs/api.md, "Bedrock request headers".
func checkBedrockHeaders(op string, h http.Header, body []byte) error {
	invoke := op == gateway.OpInvokeModel || op == gateway.OpInvokeModelWithResponseStream
	first := ""
	for name := range h {
		c := http.CanonicalHeaderKey(name)
		if !strings.HasPrefix(c, bedrockHeaderPrefix) || knownBedrockHeader(op, c) {
			continue
		}
		if first == "" || c < first {
			first = c // the same one named whatever the map's order
		}
	}
	if first != "" {
		if io, ok := invokeOnly[first]; ok && !invoke {
			return invalid(io.name + " is an InvokeModel header: " + op + " does not take it (send " + io.member + " in the body)")
		}
		return invalid(auth.Truncate(first, maxQuoted) + " is not a header of " + op + " this gateway knows; leave it out")
	}
	if v := h.Get("X-Amzn-Bedrock-Accept"); v != "" && !acceptsJSON(v) {
		return invalid("X-Amzn-Bedrock-Accept " + strconv.Quote(auth.Truncate(v, maxQuoted)) + ": every answer (and every chunk of a stream) is application/json")
	}
	if !invoke {
		return nil
	}
	if v := h.Get("X-Amzn-Bedrock-Projectidentifier"); v != "" && v != neutralProject {
		return invalid("X-Amzn-Bedrock-ProjectIdentifier " + strconv.Quote(auth.Truncate(v, maxQuoted)) +
			": Bedrock projects are not served by this gateway; send " + neutralProject + " or leave it out")
	}
	if beta := h.Values("Anthropic-Beta"); len(beta) > 0 {
		if missing := betaNotInBody(beta, body); missing != "" {
			return invalid("anthropic-beta header " + strconv.Quote(auth.Truncate(missing, maxQuoted)) +
				": InvokeModel takes betas as the body's anthropic_beta, which does not name it; send it there")
		}
	}
	if err := apianthropic.CheckHeaders(h); err != nil {
		return bedrockInvalid(err)
	}
	return nil
}

// neutralProject is the X-Amzn-Bedrock-ProjectIdentifier value that asks
// for nothing: Bedrock's default project (the JavaScript SDK's
// projectIdentifier member, "Specify default or omit this field").
const neutralProject = "default"

// betaNotInBody returns the first beta an anthropic-beta header names that
// the body's anthropic_beta does not, or "". Bedrock reads betas from the
// body only; Anthropic's TypeScript Bedrock client (and the AI SDK's
// Bedrock provider) copies the header's betas into the body and keeps the
// header, which asks for nothing more and is taken. A header beta the body
// lacks would be dropped: refused.
func betaNotInBody(header []string, body []byte) string {
	var inBody []string
	if raw := inference.Field(body, "anthropic_beta"); raw != nil {
		json.Unmarshal(raw, &inBody) // not a list of strings: every header beta is missing
	}
	for _, v := range header {
		for _, b := range strings.Split(v, ",") {
			if b = strings.TrimSpace(b); b != "" && !slices.Contains(inBody, b) {
				return b
			}
		}
	}
	return ""
}

// knownBedrockHeader reports whether op defines the X-Amzn-Bedrock-*
// header c (canonical): every operation reads the service tier header
// (gateway.ReadServiceTier) and takes X-Amzn-Bedrock-Accept when it
// admits JSON (InvokeModelWithResponseStream's chunk type, which a Bedrock
// client such as this gateway's own backend, internal/backend, may send on
// any operation), InvokeModel's operations the headers of invokeOnly
// (checkInvokeHeaders, invokeMetadata).
func knownBedrockHeader(op, c string) bool {
	switch {
	case c == http.CanonicalHeaderKey(gateway.HeaderBedrockServiceTier), c == "X-Amzn-Bedrock-Accept":
		return true
	case op == gateway.OpInvokeModel || op == gateway.OpInvokeModelWithResponseStream:
		_, ok := invokeOnly[c]
		return ok || c == "X-Amzn-Bedrock-Projectidentifier"
	}
	return false
}

// acceptsJSON reports whether an accept value admits application/json.
func acceptsJSON(v string) bool {
	for _, p := range strings.Split(v, ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(p), ";")
		switch strings.ToLower(strings.TrimSpace(mt)) {
		case "application/json", "application/*", "*/*":
			return true
		}
	}
	return false
}
