// Package policy is Meridian's IAM-style policy language and evaluator.
//
// It parses AWS IAM JSON policy documents (Version, Statement, Sid, Effect,
// Action/NotAction, Resource/NotResource, Condition), compiles their
// wildcards, condition operators and policy variables once at load time, and
// evaluates requests against a principal's identity policies and the
// organisation's guardrails exactly as AWS documents it: an explicit deny
// anywhere wins, then every guardrail and the identity policies must each
// allow, otherwise the request is implicitly denied.
//
// It also owns Bedrock's cross-Region rule ([Set.AuthorizeInvoke]): invoking
// an inference profile needs an allow on the profile ARN in the source region
// and on the foundation-model ARN in each destination region.
//
// The package is pure: it performs no I/O, reads no clock (time arrives in
// the request [Context]) and holds no global mutable state. Compiled
// [Policy] and [Set] values are immutable and safe for concurrent use; a
// [Context] belongs to one goroutine at a time. Evaluation of the common case
// does not allocate.
package policy
