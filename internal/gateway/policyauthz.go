package gateway

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"sync"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/policy"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// PolicyAuthorizer evaluates the topology's IAM-style policies and
// guardrails with Bedrock's cross-Region rule (invariant 2). Policies are
// compiled once; a decision allocates nothing beyond the returned slice.
type PolicyAuthorizer struct {
	// open is set for a topology without policies and guardrails: it
	// allows every authenticated principal everything (see AllowsAll).
	open      bool
	partition string
	// account names the copied system profile of an application profile
	// (see authorizeCopied).
	account string
	// allDestinations is authorization: all-destinations: one denied
	// destination fails the call, as in Bedrock.
	allDestinations bool
	geoOf           map[string]string
	subjects        map[string]*subject
	ctxPool         sync.Pool
}

// subject is a principal's compiled policies and precomputed context keys.
type subject struct {
	set  *policy.Set
	tags [][2]string // "aws:PrincipalTag/k", v
	// arn is aws:PrincipalArn (policy.PrincipalARN).
	arn string
	// reusable is set when the policies read no context key whose value
	// can differ between two requests of the principal for the same
	// invocation (see fixedKey): an invocation's decision is then the
	// same for every such request and may be reused.
	reusable bool
}

// NewPolicyAuthorizer compiles every principal's policies and the
// guardrails. It never returns a nil authorizer without an error. When the
// topology has no policies and no guardrails at all (single-tenant), the
// authorizer allows every authenticated principal everything and
// AllowsAll reports so, for the node to say it at start.
func NewPolicyAuthorizer(cfg *topology.Config) (*PolicyAuthorizer, error) {
	if len(cfg.Policies) == 0 && len(cfg.Guardrails) == 0 {
		return &PolicyAuthorizer{open: true, partition: cfg.PartitionOrDefault()}, nil
	}
	compiled := map[string]*policy.Policy{}
	for name, doc := range cfg.Policies {
		p, err := policy.Parse(name, doc.JSON)
		if err != nil {
			return nil, fmt.Errorf("policy %q: %w", name, err)
		}
		compiled[name] = p
	}
	var guardrails []*policy.Policy
	for i, g := range cfg.Guardrails {
		if g.Policy == nil {
			guardrails = append(guardrails, compiled[g.Name])
			continue
		}
		p, err := policy.Parse(g.Name, g.Policy.JSON)
		if err != nil {
			return nil, fmt.Errorf("guardrails[%d] %q: %w", i, g.Name, err)
		}
		guardrails = append(guardrails, p)
	}
	a := &PolicyAuthorizer{partition: cfg.PartitionOrDefault(), account: cfg.Account, geoOf: map[string]string{}, subjects: map[string]*subject{},
		allDestinations: cfg.AuthorizationOrDefault() == topology.AuthorizationAllDestinations}
	a.ctxPool.New = func() any { return policy.NewContext(16) }
	for _, r := range cfg.Regions {
		a.geoOf[r.ID] = r.Geography
	}
	for _, p := range cfg.Principals {
		var identity []*policy.Policy
		for _, name := range p.Policies {
			identity = append(identity, compiled[name])
		}
		s := &subject{set: policy.NewSet(identity, guardrails), reusable: true,
			arn: policy.PrincipalARN(a.partition, cfg.Account, p.Name())}
		for k, v := range p.Tags {
			s.tags = append(s.tags, [2]string{policy.PrefixPrincipalTag + k, v})
		}
		for _, k := range s.set.ContextKeys() {
			s.reusable = s.reusable && fixedKey(k)
		}
		a.subjects[p.ID] = s
	}
	return a, nil
}

// AllowsAll reports whether a allows every authenticated principal
// everything (a topology without policies and guardrails).
func (a *PolicyAuthorizer) AllowsAll() bool { return a != nil && a.open }

// AuthorizeInvoke implements Authorizer. A nil a allows nothing.
func (a *PolicyAuthorizer) AuthorizeInvoke(in AuthzInput) ([]string, error) {
	res := in.Resolution
	if a.AllowsAll() {
		return res.Destinations, nil
	}
	action := policy.ActionInvokeModel
	if in.Stream {
		action = policy.ActionInvokeModelWithResponseStream
	}
	var s *subject
	ok := false
	if a != nil {
		s, ok = a.subjects[in.Principal.ID]
	}
	if !ok {
		return nil, &inference.Error{Kind: inference.KindPermissionDenied, Message: fmt.Sprintf("not authorized to perform %s on %s", action, res.ProfileARN)}
	}
	c := a.ctxPool.Get().(*policy.Context)
	defer a.ctxPool.Put(c)
	c.Reset()
	a.fillContext(c, s, in, true)
	inv := InvocationFor(a.partition, action, in.Source, res)
	var buf [8]policy.DestinationResult
	results := s.set.AuthorizeInvoke(&inv, c, buf[:0])
	if pr := res.Profile; pr != nil && pr.Type == profile.Application && pr.CopyOf != "" {
		a.authorizeCopied(s, in, &inv, pr.CopyOf, results)
	}
	if everyDestination(results, res.Destinations) {
		// The usual answer, without a copy: capped, so that an append
		// cannot write into the resolution's (shared) slice.
		return slices.Clip(res.Destinations), nil
	}
	allowed := make([]string, 0, len(results))
	var denied *policy.DestinationResult
	for i := range results {
		if results[i].Allowed() {
			allowed = append(allowed, results[i].Region)
		} else if denied == nil {
			denied = &results[i]
		}
	}
	if a.allDestinations && denied != nil && len(allowed) > 0 {
		// Bedrock's behaviour: a candidate the caller may not use fails the
		// call rather than being routed around. The message names the region.
		return nil, &inference.Error{Kind: inference.KindPermissionDenied, Code: "permission_denied",
			Message: denied.Denial.Message() + " (destination region " + denied.Region + "; authorization is all-destinations)",
			Err:     causeOf(denied.Result, action, denied.Denial.Resource)}
	}
	if len(allowed) == 0 {
		msg := "not authorized to invoke " + res.ProfileID
		var cause error
		if denied != nil {
			msg = denied.Denial.Message()
			cause = causeOf(denied.Result, action, denied.Denial.Resource)
		}
		return nil, &inference.Error{Kind: inference.KindPermissionDenied, Code: "permission_denied", Message: msg, Err: cause}
	}
	return allowed, nil
}

// authorizeCopied makes the checks of the system profile copyOf that an
// application profile copies, as if the caller had invoked it directly
// (its ARN in the source region, and the foundation-model checks of its
// cross-Region rule with bedrock:InferenceProfileArn = its ARN, without
// the application profile's tags), and replaces each result of results
// that they deny. As in Bedrock, a call through an application profile
// needs permission on the application profile, on the inference profile
// it copies and on the foundation models; and so every guardrail written
// against system profiles (the global kill switch, "only us.* profiles")
// holds for application profiles that copy them (docs/policies.md,
// "Application profiles").
func (a *PolicyAuthorizer) authorizeCopied(s *subject, in AuthzInput, inv *policy.Invocation, copyOf string, results []policy.DestinationResult) {
	c := a.ctxPool.Get().(*policy.Context)
	defer a.ctxPool.Put(c)
	c.Reset()
	a.fillContext(c, s, in, false)
	sys := *inv
	sys.ProfileARN = profile.ProfileARN(a.partition, in.Source, a.account, copyOf)
	var buf [8]policy.DestinationResult
	copied := s.set.AuthorizeInvoke(&sys, c, buf[:0])
	for i := range results {
		if results[i].Allowed() && (i >= len(copied) || !copied[i].Allowed()) {
			if i < len(copied) {
				results[i] = copied[i]
			} else {
				results[i].Result = policy.Result{Decision: policy.ImplicitDeny}
			}
		}
	}
}

// everyDestination reports whether results allow every one of
// destinations, in their order.
func everyDestination(results []policy.DestinationResult, destinations []string) bool {
	if len(results) == 0 || len(results) != len(destinations) {
		return false
	}
	for i := range results {
		if !results[i].Allowed() || results[i].Region != destinations[i] {
			return false
		}
	}
	return true
}

// InvocationFor is the policy invocation of res called from source: the
// profile ARN for a profile, the foundation model in each destination, and
// for a global profile the checks Bedrock makes instead (the model in the
// source region and the region-less model ARN).
func InvocationFor(partition, action, source string, res *profile.Resolution) policy.Invocation {
	inv := policy.Invocation{Action: action, SourceRegion: source, Destinations: make([]policy.Destination, len(res.Destinations))}
	if res.Profile != nil {
		inv.ProfileARN = res.ProfileARN
		if res.Profile.Scope == profile.Global {
			inv.Global = true
			inv.SourceModelARN = profile.FoundationModelARN(partition, source, res.Model)
			inv.RegionlessModelARN = policy.RegionlessFoundationModelARN(partition, res.Model)
		}
	}
	for i, r := range res.Destinations {
		inv.Destinations[i] = policy.Destination{Region: r, ModelARN: res.ModelARN(partition, i)}
	}
	return inv
}

// DenyCause is the internal cause of a policy denial: which statement
// decided. It goes to the log and the audit event, never to the client,
// whose message names only the action and the ARN (docs/policies.md).
type DenyCause struct {
	// Decision is policy.ExplicitDeny or policy.ImplicitDeny.
	Decision policy.Decision
	// Statement is the deciding Deny statement of an explicit deny; zero
	// for an implicit deny.
	Statement policy.StatementRef
	// Guardrail names the guardrail that allowed nothing, for an implicit
	// deny caused by one.
	Guardrail string
	// Action and Resource are the check that did not allow.
	Action, Resource string
}

// Error describes the denial for logs and the audit trail, e.g.
// "explicitDeny by guardrail eu-only/DenyOutsideEU: bedrock:InvokeModel on
// arn:...".
func (d *DenyCause) Error() string {
	by := ""
	switch {
	case d.Statement != (policy.StatementRef{}):
		by = " by " + d.Statement.String()
	case d.Guardrail != "":
		by = " by guardrail " + d.Guardrail + " (allows nothing here)"
	case d.Decision == policy.ImplicitDeny:
		by = " (no identity policy allows it)"
	}
	return d.Decision.String() + by + ": " + d.Action + " on " + d.Resource
}

func causeOf(r policy.Result, action, resource string) *DenyCause {
	return &DenyCause{Decision: r.Decision, Statement: r.Statement, Guardrail: r.Guardrail, Action: action, Resource: resource}
}

// fillContext fills c, just Reset, for in; with resourceTags, an
// application profile's tags are its aws:ResourceTag/* keys. The global keys are added
// rather than set: each is added once, and no tag key (every one has a tag
// prefix) can be one of them, so Set's search for an earlier value would
// find none. Tags are set: two tag keys that differ only in case are one
// context key.
func (a *PolicyAuthorizer) fillContext(c *policy.Context, s *subject, in AuthzInput, resourceTags bool) {
	p := in.Principal
	c.Add(policy.KeyUsername, p.Username)
	c.Add(policy.KeyUserID, p.ID)
	c.AddPrincipalKeys(s.arn, a.account)
	for _, t := range s.tags {
		c.Set(t[0], t[1])
	}
	c.SetCurrentTime(in.Now)
	c.Add(policy.KeySecureTransport, strconv.FormatBool(in.SecureTransport))
	if ip, err := netip.ParseAddr(in.SourceIP); err == nil {
		v := in.SourceIP // ParseAddr takes IPv4 in its one canonical form only
		if !ip.Is4() {
			v = ip.Unmap().String()
		}
		c.Add(policy.KeySourceIP, v)
	}
	c.Add(policy.KeySourceRegion, in.Source)
	c.Add(policy.KeyGeography, a.geoOf[in.Source])
	for k, v := range in.RequestTags {
		c.Set(policy.PrefixRequestTag+k, v)
		c.Add(policy.KeyTagKeys, k)
	}
	if pr := in.Resolution.Profile; resourceTags && pr != nil && pr.Type == profile.Application {
		for k, v := range pr.Tags {
			c.Set(policy.PrefixResourceTag+k, v)
		}
	}
}

// Decide evaluates a non-invoke action (profile management) on a resource
// ARN for in.Principal calling in.Source, with aws:RequestedRegion = the
// source region. An authorizer of a topology without policies allows it
// (AllowsAll); a nil one allows nothing.
func (a *PolicyAuthorizer) Decide(in AuthzInput, action, resource string) error {
	if a == nil {
		return notAuthorized(action, resource)
	}
	if a.open {
		return nil
	}
	s, ok := a.subjects[in.Principal.ID]
	if !ok {
		return notAuthorized(action, resource)
	}
	c := a.ctxPool.Get().(*policy.Context)
	defer a.ctxPool.Put(c)
	c.Reset()
	if in.Resolution == nil {
		in.Resolution = &profile.Resolution{}
	}
	a.fillContext(c, s, in, true)
	c.Set(policy.KeyRequestedRegion, in.Source)
	if r := s.set.Evaluate(action, resource, c); r.Decision != policy.Allow {
		e := notAuthorized(action, resource)
		e.Err = causeOf(r, action, resource)
		return e
	}
	return nil
}

// notAuthorized is Decide's denial. The resource ARN may carry a
// caller-chosen id of any length, so it is quoted clipped.
func notAuthorized(action, resource string) *inference.Error {
	return &inference.Error{Kind: inference.KindPermissionDenied, Code: "permission_denied",
		Message: fmt.Sprintf("not authorized to perform %s on %s", action, inference.Clip(resource, 4*inference.EchoLimit))}
}
