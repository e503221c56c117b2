package policy

import (
	"fmt"
	"strings"

	"github.com/meridian-gateway/meridian/internal/textdist"
)

// bedrockResourceTypes are the resource types of Bedrock ARNs that
// Meridian evaluates: a literal resource type within two edits of one of
// them (inference-profiles, foundation-models, application-profile) is a
// typo whose entry can never match.
var bedrockResourceTypes = []string{"foundation-model", "inference-profile", "application-inference-profile"}

// lintResource returns why a Resource or NotResource entry can never
// match any ARN Meridian evaluates, or "": a misspelt service (bedrok), a
// service other than bedrock in a statement that names only bedrock:
// actions, a misspelt Bedrock resource type, or an account in a
// foundation-model ARN (those have an empty account). Only literal text is
// judged: a segment with a wildcard or a variable passes.
func lintResource(s string, notAction bool, actions []actionSource) string {
	if s == "*" {
		return ""
	}
	parts := splitARN(s, true)
	if len(parts) < 3 {
		return ""
	}
	literal := func(x string) bool { return !strings.ContainsAny(x, "*?$") }
	svc := parts[2]
	if literal(svc) && svc != "bedrock" && svc != "meridian" {
		for _, known := range []string{"bedrock", "meridian"} {
			if d := textdist.Levenshtein(strings.ToLower(svc), known); d <= 2 {
				return fmt.Sprintf("%q: service %q is not %q, so this entry matches no ARN Meridian evaluates; write arn:aws:%s:…", s, svc, known, known)
			}
		}
		if !notAction && onlyBedrockActions(actions) {
			return fmt.Sprintf("%q: the statement names only bedrock: actions, whose resources are arn:…:bedrock:… ARNs; service %q never matches; use bedrock as the service, or \"*\"", s, svc)
		}
	}
	if svc != "bedrock" || len(parts) < arnSegments {
		return ""
	}
	account, resource := parts[4], parts[5]
	typ, _, hasSlash := strings.Cut(resource, "/")
	if !hasSlash || !literal(typ) {
		return ""
	}
	for _, known := range bedrockResourceTypes {
		if typ == known {
			if known == "foundation-model" && account != "" && literal(account) {
				return fmt.Sprintf("%q: foundation-model ARNs have an empty account (arn:aws:bedrock:REGION::foundation-model/ID), so account %q never matches; leave the account empty, or use *", s, account)
			}
			return ""
		}
	}
	for _, known := range bedrockResourceTypes {
		if d := textdist.Levenshtein(typ, known); d > 0 && d <= 2 {
			return fmt.Sprintf("%q: %q is not a Bedrock resource type, so this entry never matches; did you mean %s? Bedrock resource types Meridian evaluates: %s", s, typ, known, strings.Join(bedrockResourceTypes, ", "))
		}
	}
	return ""
}

// onlyBedrockActions reports whether every action entry names the bedrock
// service (not `*`, not another service).
func onlyBedrockActions(actions []actionSource) bool {
	if len(actions) == 0 {
		return false
	}
	for _, a := range actions {
		svc, _, ok := strings.Cut(a.text, ":")
		if !ok || !strings.EqualFold(svc, "bedrock") {
			return false
		}
	}
	return true
}
