package policy

import "fmt"

// Decision is the outcome of evaluating a request. The zero value is
// ImplicitDeny, so an unset Decision never grants anything.
type Decision uint8

const (
	// ImplicitDeny: nothing denied the request, but the identity policies or a
	// guardrail did not allow it.
	ImplicitDeny Decision = iota
	// Allow: every guardrail and the identity policies allowed the request
	// and nothing denied it.
	Allow
	// ExplicitDeny: a Deny statement in a guardrail or identity policy
	// matched. It overrides every allow.
	ExplicitDeny
)

// String returns "allow", "explicitDeny" or "implicitDeny", the words used in
// logs, the simulator's JSON and the docs.
func (d Decision) String() string {
	switch d {
	case Allow:
		return "allow"
	case ExplicitDeny:
		return "explicitDeny"
	case ImplicitDeny:
		return "implicitDeny"
	}
	return fmt.Sprintf("Decision(%d)", uint8(d))
}

// Allowed reports whether d is Allow.
func (d Decision) Allowed() bool { return d == Allow }

// MarshalText encodes d as its String form.
func (d Decision) MarshalText() ([]byte, error) {
	if d > ExplicitDeny {
		return nil, fmt.Errorf("marshal decision: unknown value %d", uint8(d))
	}
	return []byte(d.String()), nil
}

// UnmarshalText decodes the String form of a Decision.
func (d *Decision) UnmarshalText(b []byte) error {
	switch string(b) {
	case "allow":
		*d = Allow
	case "explicitDeny":
		*d = ExplicitDeny
	case "implicitDeny":
		*d = ImplicitDeny
	default:
		return fmt.Errorf("unmarshal decision: %q is not allow, explicitDeny or implicitDeny", b)
	}
	return nil
}

// Effect is a statement's Effect element.
type Effect uint8

const (
	// EffectAllow is "Effect": "Allow".
	EffectAllow Effect = iota + 1
	// EffectDeny is "Effect": "Deny".
	EffectDeny
)

// String returns "Allow" or "Deny", as written in policies.
func (e Effect) String() string {
	switch e {
	case EffectAllow:
		return "Allow"
	case EffectDeny:
		return "Deny"
	}
	return fmt.Sprintf("Effect(%d)", uint8(e))
}

// MarshalText encodes e as its String form.
func (e Effect) MarshalText() ([]byte, error) { return []byte(e.String()), nil }
