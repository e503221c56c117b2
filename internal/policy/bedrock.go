package policy

// Bedrock actions Meridian authorizes. The OpenAI front end maps to the same
// actions: a streaming chat completion is InvokeModelWithResponseStream.
const (
	// ActionInvokeModel is a non-streaming inference call (Converse, Invoke,
	// a chat completion without stream), checked with [Set.AuthorizeInvoke].
	ActionInvokeModel = "bedrock:InvokeModel"
	// ActionInvokeModelWithResponseStream is a streaming inference call
	// (ConverseStream, InvokeWithResponseStream, a chat completion with
	// stream: true), checked with [Set.AuthorizeInvoke].
	ActionInvokeModelWithResponseStream = "bedrock:InvokeModelWithResponseStream"
	// ActionListInferenceProfiles lists profiles; it has no resource, so it
	// is evaluated on "*".
	ActionListInferenceProfiles = "bedrock:ListInferenceProfiles"
	// ActionGetInferenceProfile reads a profile; evaluated on the profile ARN.
	ActionGetInferenceProfile = "bedrock:GetInferenceProfile"
	// ActionCreateInferenceProfile creates an application profile; evaluated
	// on the new profile's ARN with aws:RequestTag/* and aws:TagKeys.
	ActionCreateInferenceProfile = "bedrock:CreateInferenceProfile"
	// ActionDeleteInferenceProfile deletes an application profile; evaluated
	// on its ARN with aws:ResourceTag/*.
	ActionDeleteInferenceProfile = "bedrock:DeleteInferenceProfile"
	// ActionTagResource tags an application profile; evaluated on its ARN
	// with aws:RequestTag/*, aws:TagKeys and aws:ResourceTag/*.
	ActionTagResource = "bedrock:TagResource"
	// ActionViewTraffic lets a principal read other principals' request
	// records and the live traffic stream (the console); evaluated on
	// arn:{partition}:meridian:{region}:{account}:traffic/{owner}
	// (docs/policies.md).
	ActionViewTraffic = "meridian:ViewTraffic"
)

// FoundationModelARN returns the ARN of model in region, as Bedrock names
// it: arn:{partition}:bedrock:{region}::foundation-model/{model}.
func FoundationModelARN(partition, region, model string) string {
	return "arn:" + partition + ":bedrock:" + region + "::foundation-model/" + model
}

// RegionlessFoundationModelARN returns the foundation-model ARN with no
// region, arn:{partition}:bedrock:::foundation-model/{model}, which Bedrock
// checks for a global profile with aws:RequestedRegion = "unspecified".
func RegionlessFoundationModelARN(partition, model string) string {
	return "arn:" + partition + ":bedrock:::foundation-model/" + model
}

// RequestedRegionUnspecified is the value of aws:RequestedRegion in the
// region-less check of a global profile.
const RequestedRegionUnspecified = "unspecified"

// Destination is one region that may serve an invocation and the resource
// that is checked there.
type Destination struct {
	// Region is the destination region.
	Region string
	// ModelARN is the foundation-model ARN in Region; see [FoundationModelARN].
	ModelARN string
}

// Invocation describes one inference call for [Set.AuthorizeInvoke].
type Invocation struct {
	// Action is ActionInvokeModel or ActionInvokeModelWithResponseStream.
	Action string
	// SourceRegion is the region where the request entered.
	SourceRegion string
	// ProfileARN is the inference profile's ARN in the source region, or
	// empty for a single-region call naming a model id directly; then
	// Destinations holds the model in the source region.
	ProfileARN string
	// Destinations are the regions that may serve the call, in any order.
	Destinations []Destination
	// Global marks the invocation of a global profile. Bedrock does not
	// check the foundation model in each destination for those: it checks
	// SourceModelARN (the model in the source region) and
	// RegionlessModelARN (see [RegionlessFoundationModelARN]), and the
	// verdict is the same for every destination. Both must be set.
	Global             bool
	SourceModelARN     string
	RegionlessModelARN string
}

// Denial names what a caller lacked: the action and the ARN of the check
// that did not allow it. It names only resources of the request itself, so
// it may be shown to the caller.
type Denial struct {
	// Action is the action that was not allowed.
	Action string `json:"action"`
	// Resource is the ARN that was not allowed: the profile ARN or a
	// foundation-model ARN.
	Resource string `json:"resource"`
	// Decision is ExplicitDeny or ImplicitDeny.
	Decision Decision `json:"decision"`
}

// Message returns the public message for a 403 response, e.g.
// "not authorized to perform bedrock:InvokeModel on resource
// arn:aws:bedrock:us-east-1::foundation-model/m". It names only the action
// and the ARN: not the policy, guardrail or statement that decided, nor
// whether the denial was explicit (log [DestinationResult.Result] for that).
func (d Denial) Message() string {
	return "not authorized to perform " + d.Action + " on resource " + d.Resource
}

// DestinationResult is the verdict for one destination of an invocation.
type DestinationResult struct {
	// Region is the destination region.
	Region string
	// Result is the result of the check that decided: the failing profile
	// check, else the foundation-model check in Region.
	Result Result
	// Denial is set when the destination is not allowed.
	Denial Denial
}

// Allowed reports whether the caller may be served in this destination.
func (r *DestinationResult) Allowed() bool { return r.Result.Decision == Allow }

// AuthorizeInvoke applies Bedrock's cross-Region rule and appends one
// result per destination of inv to dst, in order, returning the extended
// slice. With a dst of sufficient capacity it does not allocate.
//
// For a geographic profile invocation (ProfileARN set, Global false) a
// destination is allowed when both checks allow:
//
//  1. inv.Action on inv.ProfileARN, with the caller's context c and
//     aws:RequestedRegion = inv.SourceRegion (bedrock:InferenceProfileArn is
//     not set). This check is made once; if it fails every destination is
//     denied with a Denial naming the profile ARN.
//  2. inv.Action on the destination's ModelARN, with c,
//     aws:RequestedRegion = the destination region,
//     bedrock:InferenceProfileArn = inv.ProfileARN, and no
//     aws:ResourceTag/* keys: those describe the profile (an application
//     profile's tags), and a foundation model has no tags.
//
// For a global profile invocation (Global true) Bedrock checks, once:
//
//  1. inv.Action on inv.ProfileARN as above;
//  2. inv.Action on inv.SourceModelARN with aws:RequestedRegion =
//     inv.SourceRegion and bedrock:InferenceProfileArn = inv.ProfileARN;
//  3. inv.Action on inv.RegionlessModelARN with aws:RequestedRegion =
//     "unspecified" and bedrock:InferenceProfileArn = inv.ProfileARN.
//
// Every destination gets the verdict of the first check that fails, or
// allow: AWS's documented three-statement identity policy serves every
// global destination, and its "disable global cross-Region inference" SCP
// (deny when aws:RequestedRegion is "unspecified") refuses them all.
//
// For a single-region invocation (ProfileARN empty) only check 2 of the
// geographic rule is made, with aws:RequestedRegion = the destination
// region, no bedrock:InferenceProfileArn and no aws:ResourceTag/* keys.
//
// In every check the values of aws:RequestedRegion and
// bedrock:InferenceProfileArn in c are replaced, not added to; every other
// key (meridian:SourceRegion, aws:SourceIp, tags, …) is as the caller set
// it. c is not modified.
func (s *Set) AuthorizeInvoke(inv *Invocation, c *Context, dst []DestinationResult) []DestinationResult {
	if c == nil {
		c = &Context{}
	}
	var profile Result
	if inv.ProfileARN != "" {
		v := profileView(inv, c)
		profile = s.eval(inv.Action, inv.ProfileARN, &v)
	}
	if inv.Global && inv.ProfileARN != "" {
		res, den := profile, Denial{Action: inv.Action, Resource: inv.ProfileARN, Decision: profile.Decision}
		for _, chk := range globalChecks(inv) {
			if res.Decision != Allow {
				break
			}
			v := globalModelView(inv, c, chk.region)
			res = s.eval(inv.Action, chk.arn, &v)
			den = Denial{Action: inv.Action, Resource: chk.arn, Decision: res.Decision}
		}
		for i := range inv.Destinations {
			r := DestinationResult{Region: inv.Destinations[i].Region, Result: res}
			if res.Decision != Allow {
				r.Denial = den
			}
			dst = append(dst, r)
		}
		return dst
	}
	for i := range inv.Destinations {
		d := &inv.Destinations[i]
		r := DestinationResult{Region: d.Region}
		if inv.ProfileARN != "" && profile.Decision != Allow {
			r.Result = profile
			r.Denial = Denial{Action: inv.Action, Resource: inv.ProfileARN, Decision: profile.Decision}
			dst = append(dst, r)
			continue
		}
		v := modelView(inv, c, d.Region)
		r.Result = s.eval(inv.Action, d.ModelARN, &v)
		if r.Result.Decision != Allow {
			r.Denial = Denial{Action: inv.Action, Resource: d.ModelARN, Decision: r.Result.Decision}
		}
		dst = append(dst, r)
	}
	return dst
}

// globalCheck is one foundation-model check of a global invocation: the
// ARN and the value of aws:RequestedRegion.
type globalCheck struct{ arn, region string }

// globalChecks returns the foundation-model checks of a global invocation,
// in order: the model in the source region, then the region-less model.
func globalChecks(inv *Invocation) [2]globalCheck {
	return [2]globalCheck{
		{inv.SourceModelARN, inv.SourceRegion},
		{inv.RegionlessModelARN, RequestedRegionUnspecified},
	}
}

// profileView is the context of the profile check: aws:RequestedRegion is
// the source region.
func profileView(inv *Invocation, c *Context) view {
	return view{c: c, region: inv.SourceRegion, hasRegion: true}
}

// modelView is the context of the foundation-model check in region:
// aws:RequestedRegion is the destination, bedrock:InferenceProfileArn the
// profile (for a profile invocation), and aws:ResourceTag/* keys are gone.
func modelView(inv *Invocation, c *Context, region string) view {
	v := view{c: c, region: region, hasRegion: true, noResourceTags: true}
	if inv.ProfileARN != "" {
		v.profile, v.hasProfile = inv.ProfileARN, true
	}
	return v
}

// globalModelView is the context of a foundation-model check of a global
// invocation: aws:RequestedRegion is region (the source, or "unspecified"
// for the region-less ARN) and bedrock:InferenceProfileArn the profile.
func globalModelView(inv *Invocation, c *Context, region string) view {
	return view{c: c, region: region, hasRegion: true, noResourceTags: true, profile: inv.ProfileARN, hasProfile: true}
}

// CheckReport explains one check of an invocation.
type CheckReport struct {
	// Action and Resource are what was checked.
	Action   string `json:"action"`
	Resource string `json:"resource"`
	// Context lists the keys that were replaced for this check. (The
	// foundation-model check also drops aws:ResourceTag/* keys.)
	Context map[string]string `json:"contextOverrides,omitempty"`
	// Decision is the check's verdict.
	Decision Decision `json:"decision"`
	// Statement is the deciding statement, if any (see [Result]).
	Statement *StatementRef `json:"decidingStatement,omitempty"`
	// Guardrail names the guardrail that allowed nothing, for ImplicitDeny.
	Guardrail string `json:"guardrailWithoutAllow,omitempty"`
	// Matched lists every statement that matched.
	Matched []Match `json:"matchedStatements"`
}

// DestinationReport explains the verdict for one destination.
type DestinationReport struct {
	// Region is the destination region.
	Region string `json:"region"`
	// Decision is allow only if every check allowed.
	Decision Decision `json:"decision"`
	// Checks are the checks made for this destination, in order: the
	// profile check (for a profile invocation), then the foundation-model
	// check unless the profile check already failed. For a global profile
	// the foundation-model checks are the model in the source region and
	// the region-less model (aws:RequestedRegion "unspecified"), the same
	// for every destination.
	Checks []CheckReport `json:"checks"`
	// Denial is the public denial, when not allowed.
	Denial *Denial `json:"denial,omitempty"`
}

// ExplainInvoke is [Set.AuthorizeInvoke] with explanations: for each
// destination, every check made and the statements that matched. It is the
// pure core of `meridian policy simulate --config … --profile …`; it
// allocates and is not for the hot path.
func (s *Set) ExplainInvoke(inv *Invocation, c *Context) []DestinationReport {
	if c == nil {
		c = &Context{}
	}
	results := s.AuthorizeInvoke(inv, c, nil)
	var profileCheck *CheckReport
	if inv.ProfileARN != "" {
		v := profileView(inv, c)
		r, matched := s.explain(inv.Action, inv.ProfileARN, &v)
		cr := newCheckReport(inv.Action, inv.ProfileARN, map[string]string{KeyRequestedRegion: inv.SourceRegion}, r, matched)
		profileCheck = &cr
	}
	var globalReports []CheckReport
	if inv.Global && profileCheck != nil && profileCheck.Decision == Allow {
		for _, chk := range globalChecks(inv) {
			v := globalModelView(inv, c, chk.region)
			r, matched := s.explain(inv.Action, chk.arn, &v)
			over := map[string]string{KeyRequestedRegion: chk.region, KeyInferenceProfileARN: inv.ProfileARN}
			globalReports = append(globalReports, newCheckReport(inv.Action, chk.arn, over, r, matched))
			if r.Decision != Allow {
				break
			}
		}
	}
	out := make([]DestinationReport, 0, len(results))
	for i, res := range results {
		d := inv.Destinations[i]
		rep := DestinationReport{Region: d.Region, Decision: res.Result.Decision}
		if profileCheck != nil {
			rep.Checks = append(rep.Checks, *profileCheck)
		}
		switch {
		case inv.Global && profileCheck != nil:
			rep.Checks = append(rep.Checks, globalReports...)
		case profileCheck == nil || profileCheck.Decision == Allow:
			v := modelView(inv, c, d.Region)
			over := map[string]string{KeyRequestedRegion: d.Region}
			if inv.ProfileARN != "" {
				over[KeyInferenceProfileARN] = inv.ProfileARN
			}
			r, matched := s.explain(inv.Action, d.ModelARN, &v)
			rep.Checks = append(rep.Checks, newCheckReport(inv.Action, d.ModelARN, over, r, matched))
		}
		if !res.Allowed() {
			den := res.Denial
			rep.Denial = &den
		}
		out = append(out, rep)
	}
	return out
}

func newCheckReport(action, resource string, over map[string]string, r Result, matched []Match) CheckReport {
	cr := CheckReport{Action: action, Resource: resource, Context: over, Decision: r.Decision, Guardrail: r.Guardrail, Matched: matched}
	if cr.Matched == nil {
		cr.Matched = []Match{}
	}
	if r.Decision != ImplicitDeny {
		ref := r.Statement
		cr.Statement = &ref
	}
	return cr
}
