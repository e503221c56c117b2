package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// InvokeSimulation is the input of [SimulateInvoke]: everything `meridian
// policy simulate --config F --principal ID --profile ID --region SOURCE`
// knows once the topology is loaded, as plain values.
type InvokeSimulation struct {
	// Policies and Guardrails are the principal's identity policies and the
	// organisation's guardrails, parsed at config load.
	Policies   []*Policy
	Guardrails []*Policy
	// Username and UserID become aws:username and aws:userid when not empty.
	Username string
	UserID   string
	// PrincipalARN and Account become aws:PrincipalArn and
	// aws:PrincipalAccount, with the other principal keys the gateway sets
	// (Context.AddPrincipalKeys), when PrincipalARN is not empty.
	PrincipalARN string
	Account      string
	// Now becomes aws:CurrentTime and aws:EpochTime when not zero.
	Now time.Time
	// SecureTransport becomes aws:SecureTransport when not empty: "true"
	// when the source region's client listener serves TLS, as the node
	// sets it.
	SecureTransport string
	// PrincipalTags become aws:PrincipalTag/<key>.
	PrincipalTags map[string]string
	// ProfileTags are an application profile's tags; they become
	// aws:ResourceTag/<key> on the profile check only.
	ProfileTags map[string]string
	// Geography is the source region's geography (meridian:Geography).
	Geography string
	// Invocation is the call. Action defaults to ActionInvokeModel;
	// SourceRegion also becomes meridian:SourceRegion.
	Invocation Invocation
	// Context adds or overrides other keys (aws:SourceIp, aws:CurrentTime…).
	Context map[string][]string
	// AllDestinations is the topology's authorization: all-destinations:
	// one denied destination fails the call.
	AllDestinations bool
}

// InvokeReport is the verdict of [SimulateInvoke] for every destination.
type InvokeReport struct {
	// Action, SourceRegion and ProfileARN describe the call.
	Action       string `json:"action"`
	SourceRegion string `json:"sourceRegion"`
	ProfileARN   string `json:"profileArn,omitempty"`
	// AllowedRegions lists the destinations that may serve the call, in
	// destination order; empty when the caller would get 403.
	AllowedRegions []string `json:"allowedRegions"`
	// Destinations explains each destination.
	Destinations []DestinationReport `json:"destinations"`
	// FailedBy is the denied destination that failed the whole call under
	// authorization: all-destinations; empty otherwise.
	FailedBy string `json:"failedBy,omitempty"`
	// UnsetKeys are the keys the policies read that the live node sets from
	// each request but the simulation had no value for (aws:SourceIp, and
	// the time or the transport when not given): the live decision may
	// differ. Give them with --context KEY=VALUE.
	UnsetKeys []string `json:"unsetKeys,omitempty"`
}

// perRequestKey reports whether the node sets key from each request
// rather than from the topology: a simulation without a value for it may
// decide differently from the node.
func perRequestKey(key string) bool {
	switch identify(key) {
	case keySourceIP, keySecureTransport, keyCurrentTime, keyEpochTime, keyTagKeys:
		return true
	}
	return len(key) > len(PrefixRequestTag) && equalFoldASCII(key[:len(PrefixRequestTag)], PrefixRequestTag)
}

// SimulateInvoke evaluates an inference call as the gateway would: it builds
// the request context from the principal and the source region, applies
// [Set.AuthorizeInvoke]'s cross-Region rule, and explains every check. It is
// the pure core of the `--config` form of `meridian policy simulate`.
func SimulateInvoke(in InvokeSimulation) *InvokeReport {
	inv := in.Invocation
	if inv.Action == "" {
		inv.Action = ActionInvokeModel
	}
	c := NewContext(8 + len(in.PrincipalTags) + len(in.ProfileTags) + len(in.Context))
	add := func(key, value string) {
		if value != "" {
			c.Add(key, value)
		}
	}
	add(KeyUsername, in.Username)
	add(KeyUserID, in.UserID)
	if in.PrincipalARN != "" {
		c.AddPrincipalKeys(in.PrincipalARN, in.Account)
	}
	if !in.Now.IsZero() {
		c.SetCurrentTime(in.Now)
	}
	add(KeySecureTransport, in.SecureTransport)
	add(KeySourceRegion, inv.SourceRegion)
	add(KeyGeography, in.Geography)
	for _, k := range slices.Sorted(maps.Keys(in.PrincipalTags)) {
		c.Add(PrefixPrincipalTag+k, in.PrincipalTags[k])
	}
	for _, k := range slices.Sorted(maps.Keys(in.ProfileTags)) {
		c.Add(PrefixResourceTag+k, in.ProfileTags[k])
	}
	for _, k := range slices.Sorted(maps.Keys(in.Context)) {
		c.Del(k)
		for _, v := range in.Context[k] {
			c.Add(k, v)
		}
	}
	set := NewSet(in.Policies, in.Guardrails)
	var unset []string
	for _, k := range set.ContextKeys() {
		ref := newKeyRef(k)
		v := view{c: c}
		if perRequestKey(k) && !v.has(&ref) {
			unset = append(unset, k)
		}
	}
	slices.Sort(unset)
	rep := &InvokeReport{
		UnsetKeys:      unset,
		Action:         inv.Action,
		SourceRegion:   inv.SourceRegion,
		ProfileARN:     inv.ProfileARN,
		AllowedRegions: []string{},
		Destinations:   set.ExplainInvoke(&inv, c),
	}
	for _, d := range rep.Destinations {
		if d.Decision == Allow {
			rep.AllowedRegions = append(rep.AllowedRegions, d.Region)
		} else if in.AllDestinations && rep.FailedBy == "" {
			rep.FailedBy = d.Region
		}
	}
	if rep.FailedBy != "" {
		rep.AllowedRegions = []string{}
	}
	return rep
}

// Text renders the report for people: one block per destination with its
// checks and the statements that decided.
func (r *InvokeReport) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "action:         %s\n", r.Action)
	fmt.Fprintf(&b, "source region:  %s\n", r.SourceRegion)
	if r.ProfileARN != "" {
		fmt.Fprintf(&b, "profile:        %s\n", r.ProfileARN)
	}
	switch {
	case r.FailedBy != "":
		fmt.Fprintf(&b, "allowed:        none (authorization all-destinations: %s is denied, so the caller gets 403)\n", r.FailedBy)
	case len(r.AllowedRegions) == 0:
		b.WriteString("allowed:        none (the caller gets 403)\n")
	default:
		fmt.Fprintf(&b, "allowed:        %s\n", strings.Join(r.AllowedRegions, ", "))
	}
	if len(r.UnsetKeys) > 0 {
		fmt.Fprintf(&b, "note:           the policies read %s, which the node sets from each request and this simulation has no value for: the node may decide differently (give them with --context KEY=VALUE)\n", strings.Join(r.UnsetKeys, ", "))
	}
	for _, d := range r.Destinations {
		fmt.Fprintf(&b, "\n%s: %s\n", d.Region, d.Decision)
		for _, c := range d.Checks {
			why := "no statement allows it"
			switch {
			case c.Statement != nil && c.Decision == Allow:
				why = "allowed by " + c.Statement.String()
			case c.Statement != nil:
				why = "denied by " + c.Statement.String()
			case c.Guardrail != "":
				why = fmt.Sprintf("guardrail %q allows nothing here", c.Guardrail)
			}
			on := c.Resource
			if c.Context[KeyRequestedRegion] == RequestedRegionUnspecified {
				// The region-less check of a global profile.
				on += " (aws:RequestedRegion = " + RequestedRegionUnspecified + ")"
			}
			fmt.Fprintf(&b, "  %s %s on %s: %s\n", c.Decision, c.Action, on, why)
		}
		if d.Denial != nil {
			fmt.Fprintf(&b, "  client sees: %s\n", d.Denial.Message())
		}
	}
	return b.String()
}

// UnsetRequestKeys returns the keys of ps (see [Set.ContextKeys]) that the
// node sets from each request (aws:SourceIp, aws:SecureTransport,
// aws:CurrentTime, aws:EpochTime, request tags) and that ctx, the
// simulator's context, has no value for, sorted: a simulation of ps in
// ctx may decide differently from the node.
func UnsetRequestKeys(ps []*Policy, ctx map[string][]string) []string {
	var out []string
	for _, k := range NewSet(ps, nil).ContextKeys() {
		if !perRequestKey(k) {
			continue
		}
		found := false
		for ck, vs := range ctx {
			if equalFoldASCII(ck, k) && len(vs) > 0 {
				found = true
			}
		}
		if !found {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
