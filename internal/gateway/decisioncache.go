package gateway

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/meridian-gateway/meridian/internal/policy"
	"github.com/meridian-gateway/meridian/internal/profile"
)

// fixedKey reports whether the value of context key k in an invocation's
// authorization is the same for every request of one principal (ID and
// user name) that invokes the same resolution (profile ARN, model,
// destinations, scope) from the same source region with the same action:
// the principal's name, id, ARN, account, type and tags, the source region and its geography,
// and the keys AuthorizeInvoke sets from the invocation itself
// (aws:RequestedRegion, bedrock:InferenceProfileArn). Every other key may
// differ from one request to the next (the time, the caller's address and
// transport, request tags) or describe what can change without a reload
// (an application profile's tags), and so do keys this gateway does not
// know: a policy reading any of them is evaluated on every request.
func fixedKey(k string) bool {
	switch {
	case policy.SameKey(k, policy.KeyUsername), policy.SameKey(k, policy.KeyUserID),
		policy.SameKey(k, policy.KeySourceRegion), policy.SameKey(k, policy.KeyGeography),
		policy.SameKey(k, policy.KeyRequestedRegion), policy.SameKey(k, policy.KeyInferenceProfileARN),
		policy.SameKey(k, policy.KeyPrincipalARN), policy.SameKey(k, policy.KeyPrincipalAccount),
		policy.SameKey(k, policy.KeyPrincipalType), policy.SameKey(k, policy.KeyPrincipalIsAWSService),
		policy.SameKey(k, policy.KeyViaAWSService):
		return true
	}
	return len(k) > len(policy.PrefixPrincipalTag) && policy.SameKey(k[:len(policy.PrefixPrincipalTag)], policy.PrefixPrincipalTag)
}

// reusingAuthorizer is a [PolicyAuthorizer] that reuses the decisions it
// may: for a principal whose policies read only fixed keys (see
// subject.reusable), an invocation found allowed (in every destination or
// in some) is allowed again in the same destinations without evaluating
// the policies, and anything else (a denial, another principal) is
// decided by the PolicyAuthorizer as before. The gateway makes one for its
// authorizer, and a gateway serves one topology: a reload builds a new
// gateway with a new authorizer, so a changed policy decides the next
// request.
type reusingAuthorizer struct {
	a       *PolicyAuthorizer
	allowed decisionCache
}

// reusingDecisions returns a reusing form of a when it is a
// *PolicyAuthorizer with policies, and a itself otherwise.
func reusingDecisions(a Authorizer) Authorizer {
	if pa, ok := a.(*PolicyAuthorizer); ok && pa != nil && !pa.open {
		return &reusingAuthorizer{a: pa}
	}
	return a
}

// AuthorizeInvoke implements Authorizer.
func (r *reusingAuthorizer) AuthorizeInvoke(in AuthzInput) ([]string, error) {
	s, ok := r.a.subjects[in.Principal.ID]
	if !ok || !s.reusable || in.RequestTags != nil {
		return r.a.AuthorizeInvoke(in)
	}
	res := in.Resolution
	key := decisionKey{principal: in.Principal.ID, username: in.Principal.Username, source: in.Source,
		profileARN: res.ProfileARN, model: res.Model, stream: in.Stream}
	if allowed, ok := r.allowed.allowed(&key, res); ok {
		return allowed, nil
	}
	allowed, err := r.a.AuthorizeInvoke(in)
	if err == nil {
		r.allowed.store(key, res, allowed)
	}
	return allowed, err
}

// decisionKey names an invocation whose decision can be reused, together
// with the resolution's destinations and scope (see decisionCache).
type decisionKey struct {
	principal, username string
	source              string
	profileARN, model   string
	stream              bool
}

// allowedInvocation is an invocation found allowed: the resolution's
// destinations, in order, and its scope, and the destinations allowed. A
// resolution of the same key that differs in destinations or scope (a
// catalog that changed) is evaluated again.
type allowedInvocation struct {
	destinations []string
	global       bool
	// allowed is the answer: the resolution's own destinations when all
	// are allowed, else those allowed, in their order. Nobody writes it.
	allowed []string
}

// maxDecisions bounds the decisions a gateway keeps. Keys come from the
// topology (principals, regions), the catalog (a resolution exists only
// for a known profile or model) and the link's authenticated peers (a
// forwarded job's source region), but callers with the permission create
// and delete application profiles, and a deleted profile's decisions stay
// until a reload. So when the bound is reached the cache starts over
// rather than refusing new decisions: churn costs evaluations, never reuse
// for good.
const maxDecisions = 4096

// decisionCache keeps the invocations found allowed, so that the next
// request of the same principal for the same invocation skips the
// evaluation. Only allowing decisions are kept: a denial is evaluated every
// time, with its cause for the log and the audit trail. It is safe for
// concurrent use.
type decisionCache struct {
	m sync.Map // decisionKey → *allowedInvocation
	n atomic.Int64
}

// allowed returns the destinations of res found allowed under k, capped
// as the PolicyAuthorizer answers (an append cannot write into the shared
// slice); false when res under k was not found allowed.
func (c *decisionCache) allowed(k *decisionKey, res *profile.Resolution) ([]string, bool) {
	v, ok := c.m.Load(*k)
	if !ok {
		return nil, false
	}
	a := v.(*allowedInvocation)
	if a.global != isGlobal(res) || !slices.Equal(a.destinations, res.Destinations) {
		return nil, false
	}
	if a.allowed == nil {
		return slices.Clip(res.Destinations), true
	}
	return slices.Clip(a.allowed), true
}

// store records that res was allowed in the destinations allowed under k.
func (c *decisionCache) store(k decisionKey, res *profile.Resolution, allowed []string) {
	a := &allowedInvocation{destinations: slices.Clone(res.Destinations), global: isGlobal(res)}
	if !slices.Equal(allowed, res.Destinations) {
		a.allowed = slices.Clone(allowed)
	}
	if _, loaded := c.m.Swap(k, a); !loaded && c.n.Add(1) > maxDecisions {
		// Full: start over. A store racing with this may stay uncounted,
		// so the bound holds within the number of concurrent deciders.
		c.m.Clear()
		c.n.Store(0)
	}
}

// isGlobal reports whether res is a global profile's, which Bedrock
// authorizes with other checks (see InvocationFor).
func isGlobal(res *profile.Resolution) bool {
	return res.Profile != nil && res.Profile.Scope == profile.Global
}
