package policy

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The reference topology: two US and two EU regions serving demo.chat-small.
var globalDestinations = []Destination{
	{Region: "us-east-1", ModelARN: FoundationModelARN("aws", "us-east-1", "demo.chat-small")},
	{Region: "us-west-2", ModelARN: FoundationModelARN("aws", "us-west-2", "demo.chat-small")},
	{Region: "eu-west-1", ModelARN: FoundationModelARN("aws", "eu-west-1", "demo.chat-small")},
	{Region: "eu-central-1", ModelARN: FoundationModelARN("aws", "eu-central-1", "demo.chat-small")},
}

// invokeAll is the Bedrock prerequisites page's policy for inference
// profiles, reduced to the invoke statement.
const invokeAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
	"Action":["bedrock:InvokeModel*","bedrock:CreateInferenceProfile"],
	"Resource":["arn:aws:bedrock:*::foundation-model/*","arn:aws:bedrock:*:*:inference-profile/*","arn:aws:bedrock:*:*:application-inference-profile/*"]}]}`

// euOnlyGuardrail denies every request whose aws:RequestedRegion is outside
// the EU, next to an allow-all (FullAWSAccess) so that it only takes away.
const euOnlyGuardrail = `{"Version":"2012-10-17","Statement":[
	{"Sid":"FullAccess","Effect":"Allow","Action":"*","Resource":"*"},
	{"Sid":"DenyOutsideEU","Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":["eu-west-1","eu-central-1"]}}}]}`

func allowedRegions(rs []DestinationResult) []string {
	var out []string
	for i := range rs {
		if rs[i].Allowed() {
			out = append(out, rs[i].Region)
		}
	}
	return out
}

func TestAuthorizeInvoke(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		identity   []string
		guardrails []string
		inv        Invocation
		ctx        ctx
		allowed    []string          // regions allowed
		denials    map[string]Denial // region → denial
	}{
		{
			name:     "all destinations allowed",
			identity: []string{invokeAll},
			inv:      Invocation{Action: ActionInvokeModel, SourceRegion: "eu-west-1", ProfileARN: profileGlob, Destinations: globalDestinations},
			allowed:  []string{"us-east-1", "us-west-2", "eu-west-1", "eu-central-1"},
		},
		{
			name: "profile allowed, foundation model in one region not allowed: that region is skipped",
			identity: []string{`{"Version":"2012-10-17","Statement":[
				{"Sid":"Profile","Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"arn:aws:bedrock:eu-west-1:111122223333:inference-profile/global.demo.chat-small"},
				{"Sid":"Models","Effect":"Allow","Action":"bedrock:InvokeModel","Resource":[
					"arn:aws:bedrock:us-east-1::foundation-model/demo.chat-small",
					"arn:aws:bedrock:eu-west-1::foundation-model/demo.chat-small",
					"arn:aws:bedrock:eu-central-1::foundation-model/demo.chat-small"]}]}`},
			inv:     Invocation{Action: ActionInvokeModel, SourceRegion: "eu-west-1", ProfileARN: profileGlob, Destinations: globalDestinations},
			allowed: []string{"us-east-1", "eu-west-1", "eu-central-1"},
			denials: map[string]Denial{"us-west-2": {Action: ActionInvokeModel, Resource: "arn:aws:bedrock:us-west-2::foundation-model/demo.chat-small", Decision: ImplicitDeny}},
		},
		{
			name:       "EU guardrail blocks us- destinations of a global profile, EU ones serve",
			identity:   []string{invokeAll},
			guardrails: []string{euOnlyGuardrail},
			inv:        Invocation{Action: ActionInvokeModelWithResponseStream, SourceRegion: "eu-west-1", ProfileARN: profileGlob, Destinations: globalDestinations},
			allowed:    []string{"eu-west-1", "eu-central-1"},
			denials: map[string]Denial{
				"us-east-1": {Action: ActionInvokeModelWithResponseStream, Resource: "arn:aws:bedrock:us-east-1::foundation-model/demo.chat-small", Decision: ExplicitDeny},
				"us-west-2": {Action: ActionInvokeModelWithResponseStream, Resource: "arn:aws:bedrock:us-west-2::foundation-model/demo.chat-small", Decision: ExplicitDeny},
			},
		},
		{
			name:       "EU guardrail denies the profile check from a US source region",
			identity:   []string{invokeAll},
			guardrails: []string{euOnlyGuardrail},
			inv:        Invocation{Action: ActionInvokeModel, SourceRegion: "us-east-1", ProfileARN: profileUSGlb, Destinations: globalDestinations},
			denials: map[string]Denial{
				"us-east-1":    {Action: ActionInvokeModel, Resource: profileUSGlb, Decision: ExplicitDeny},
				"us-west-2":    {Action: ActionInvokeModel, Resource: profileUSGlb, Decision: ExplicitDeny},
				"eu-west-1":    {Action: ActionInvokeModel, Resource: profileUSGlb, Decision: ExplicitDeny},
				"eu-central-1": {Action: ActionInvokeModel, Resource: profileUSGlb, Decision: ExplicitDeny},
			},
		},
		{
			name:     "profile not allowed: every destination denied on the profile ARN",
			identity: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"arn:aws:bedrock:*::foundation-model/*"}}`},
			inv:      Invocation{Action: ActionInvokeModel, SourceRegion: "eu-west-1", ProfileARN: profileGlob, Destinations: globalDestinations[2:]},
			denials: map[string]Denial{
				"eu-west-1":    {Action: ActionInvokeModel, Resource: profileGlob, Decision: ImplicitDeny},
				"eu-central-1": {Action: ActionInvokeModel, Resource: profileGlob, Decision: ImplicitDeny},
			},
		},
		{
			// Bedrock docs: allow the foundation model only through a given
			// inference profile.
			name: "foundation model allowed only through the profile (bedrock:InferenceProfileArn)",
			identity: []string{`{"Version":"2012-10-17","Statement":[
				{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.demo.chat-small"},
				{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":["arn:aws:bedrock:eu-west-1::foundation-model/demo.chat-small","arn:aws:bedrock:eu-central-1::foundation-model/demo.chat-small"],
				 "Condition":{"StringLike":{"bedrock:InferenceProfileArn":"arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.demo.chat-small"}}}]}`},
			inv:     Invocation{Action: ActionInvokeModel, SourceRegion: "eu-west-1", ProfileARN: profileEU, Destinations: globalDestinations[2:]},
			allowed: []string{"eu-west-1", "eu-central-1"},
		},
		{
			name: "same policy refuses a direct single-region call",
			identity: []string{`{"Version":"2012-10-17","Statement":[
				{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":["arn:aws:bedrock:eu-west-1::foundation-model/demo.chat-small"],
				 "Condition":{"StringLike":{"bedrock:InferenceProfileArn":"arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.demo.chat-small"}}}]}`},
			inv: Invocation{Action: ActionInvokeModel, SourceRegion: "eu-west-1", Destinations: globalDestinations[2:3]},
			denials: map[string]Denial{
				"eu-west-1": {Action: ActionInvokeModel, Resource: fmEUWest1, Decision: ImplicitDeny},
			},
		},
		{
			// re:Post: "Deny actions to invoke a foundation model except through
			// the inference profile in the specified Regions".
			name:     "SCP: deny direct invocation in listed regions except through a profile",
			identity: []string{invokeAll},
			guardrails: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{
				"Effect":"Deny","Action":["bedrock:InvokeModel","bedrock:InvokeModelWithResponseStream"],"Resource":"arn:aws:bedrock:*::foundation-model/*",
				"Condition":{"StringEquals":{"aws:RequestedRegion":["us-east-1","us-west-2"]},
					"ArnNotLike":{"bedrock:InferenceProfileArn":["arn:aws:bedrock:*:*:application-inference-profile/*","arn:aws:bedrock:*:*:inference-profile/*"]}}}]}`},
			inv:     Invocation{Action: ActionInvokeModel, SourceRegion: "us-east-1", ProfileARN: profileUSGlb, Destinations: globalDestinations},
			allowed: []string{"us-east-1", "us-west-2", "eu-west-1", "eu-central-1"},
		},
		{
			name:     "SCP: the same guardrail denies the direct call",
			identity: []string{invokeAll},
			guardrails: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{
				"Effect":"Deny","Action":["bedrock:InvokeModel","bedrock:InvokeModelWithResponseStream"],"Resource":"arn:aws:bedrock:*::foundation-model/*",
				"Condition":{"StringEquals":{"aws:RequestedRegion":["us-east-1","us-west-2"]},
					"ArnNotLike":{"bedrock:InferenceProfileArn":["arn:aws:bedrock:*:*:application-inference-profile/*","arn:aws:bedrock:*:*:inference-profile/*"]}}}]}`},
			inv: Invocation{Action: ActionInvokeModel, SourceRegion: "us-east-1", Destinations: globalDestinations[:1]},
			denials: map[string]Denial{
				"us-east-1": {Action: ActionInvokeModel, Resource: fmUSEast1, Decision: ExplicitDeny},
			},
		},
		{
			name: "aws:RequestedRegion is the destination on the model check",
			identity: []string{`{"Version":"2012-10-17","Statement":[
				{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"arn:aws:bedrock:*:*:inference-profile/*","Condition":{"StringEquals":{"aws:RequestedRegion":"eu-west-1"}}},
				{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"arn:aws:bedrock:*::foundation-model/*","Condition":{"StringEquals":{"aws:RequestedRegion":"eu-central-1"}}}]}`},
			// The caller's own value is replaced, never used.
			ctx:     ctx{"aws:RequestedRegion": {"us-east-1"}},
			inv:     Invocation{Action: ActionInvokeModel, SourceRegion: "eu-west-1", ProfileARN: profileGlob, Destinations: globalDestinations},
			allowed: []string{"eu-central-1"},
			denials: map[string]Denial{
				"us-east-1": {Action: ActionInvokeModel, Resource: fmUSEast1, Decision: ImplicitDeny},
				"us-west-2": {Action: ActionInvokeModel, Resource: "arn:aws:bedrock:us-west-2::foundation-model/demo.chat-small", Decision: ImplicitDeny},
				"eu-west-1": {Action: ActionInvokeModel, Resource: fmEUWest1, Decision: ImplicitDeny},
			},
		},
		{
			name: "application profile tags apply to the profile check only",
			identity: []string{`{"Version":"2012-10-17","Statement":[
				{"Sid":"OwnApp","Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"arn:aws:bedrock:*:*:application-inference-profile/*","Condition":{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}},
				{"Sid":"TaggedAnything","Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"arn:aws:bedrock:*::foundation-model/*","Condition":{"StringEquals":{"aws:ResourceTag/team":"claims"}}},
				{"Sid":"ModelsViaApp","Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"arn:aws:bedrock:eu-west-1::foundation-model/*","Condition":{"ArnLike":{"bedrock:InferenceProfileArn":"arn:aws:bedrock:*:*:application-inference-profile/*"}}}]}`},
			ctx: ctx{"aws:ResourceTag/team": {"claims"}, "aws:PrincipalTag/team": {"claims"}},
			inv: Invocation{Action: ActionInvokeModel, SourceRegion: "eu-west-1", ProfileARN: "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/claims-eu", Destinations: globalDestinations[2:]},
			// TaggedAnything never applies to a foundation model: it has no tags.
			allowed: []string{"eu-west-1"},
			denials: map[string]Denial{
				"eu-central-1": {Action: ActionInvokeModel, Resource: "arn:aws:bedrock:eu-central-1::foundation-model/demo.chat-small", Decision: ImplicitDeny},
			},
		},
		{
			name: "meridian:SourceRegion and principal tags pass through",
			identity: []string{`{"Version":"2012-10-17","Statement":[
				{"Effect":"Allow","Action":"bedrock:InvokeModel*","Resource":"*","Condition":{
					"StringEquals":{"meridian:SourceRegion":"eu-west-1","aws:PrincipalTag/team":"claims"}}}]}`},
			ctx:     ctx{"meridian:SourceRegion": {"eu-west-1"}, "aws:PrincipalTag/team": {"claims"}},
			inv:     Invocation{Action: ActionInvokeModel, SourceRegion: "eu-west-1", ProfileARN: profileGlob, Destinations: globalDestinations[2:]},
			allowed: []string{"eu-west-1", "eu-central-1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			set := NewSet(mustParseAll(t, "id", tc.identity), mustParseAll(t, "g", tc.guardrails))
			c := ContextFromMap(tc.ctx)
			before := contextPairs(c)
			got := set.AuthorizeInvoke(&tc.inv, c, nil)
			if len(got) != len(tc.inv.Destinations) {
				t.Fatalf("AuthorizeInvoke returned %d results for %d destinations", len(got), len(tc.inv.Destinations))
			}
			if diff := cmp.Diff(tc.allowed, allowedRegions(got)); diff != "" {
				t.Errorf("allowed regions (-want +got):\n%s", diff)
			}
			for i := range got {
				r := &got[i]
				if r.Region != tc.inv.Destinations[i].Region {
					t.Errorf("result %d is for %s, want %s", i, r.Region, tc.inv.Destinations[i].Region)
				}
				if r.Allowed() {
					if r.Denial != (Denial{}) {
						t.Errorf("%s allowed with a denial %+v", r.Region, r.Denial)
					}
					continue
				}
				want, ok := tc.denials[r.Region]
				if !ok {
					t.Errorf("%s denied (%+v), want allowed", r.Region, r.Denial)
					continue
				}
				if r.Denial != want {
					t.Errorf("%s denial = %+v, want %+v", r.Region, r.Denial, want)
				}
			}
			if diff := cmp.Diff(before, contextPairs(c)); diff != "" {
				t.Errorf("AuthorizeInvoke modified the context (-before +after):\n%s", diff)
			}
			// ExplainInvoke agrees.
			reports := set.ExplainInvoke(&tc.inv, c)
			for i, rep := range reports {
				if rep.Decision != got[i].Result.Decision {
					t.Errorf("ExplainInvoke %s = %v, AuthorizeInvoke = %v", rep.Region, rep.Decision, got[i].Result.Decision)
				}
				last := rep.Checks[len(rep.Checks)-1]
				if last.Decision != rep.Decision {
					t.Errorf("ExplainInvoke %s: last check %v, verdict %v", rep.Region, last.Decision, rep.Decision)
				}
			}
		})
	}
}

func contextPairs(c *Context) []string {
	var out []string
	for k, v := range c.All() {
		out = append(out, k+"="+v)
	}
	return out
}

func TestDenialMessage(t *testing.T) {
	t.Parallel()
	set := NewSet(mustParseAll(t, "id", []string{invokeAll}), mustParseAll(t, "secret-org-guardrail", []string{euOnlyGuardrail}))
	inv := Invocation{Action: ActionInvokeModel, SourceRegion: "eu-west-1", ProfileARN: profileGlob, Destinations: globalDestinations[:1]}
	r := set.AuthorizeInvoke(&inv, nil, nil)[0]
	msg := r.Denial.Message()
	want := "not authorized to perform bedrock:InvokeModel on resource arn:aws:bedrock:us-east-1::foundation-model/demo.chat-small"
	if msg != want {
		t.Errorf("Message() = %q, want %q", msg, want)
	}
	for _, leak := range []string{"secret-org-guardrail", "DenyOutsideEU", "eu-west-1", "eu-central-1", "deny", "guardrail"} {
		if strings.Contains(msg, leak) {
			t.Errorf("Message() = %q reveals %q", msg, leak)
		}
	}
	if r.Result.Statement.Policy != "secret-org-guardrail0" {
		t.Errorf("Result names %q; the internal result should carry the deciding policy for logs", r.Result.Statement.Policy)
	}
}

func TestAuthorizeInvokeAppends(t *testing.T) {
	t.Parallel()
	set := NewSet(mustParseAll(t, "id", []string{invokeAll}), nil)
	inv := Invocation{Action: ActionInvokeModel, SourceRegion: "eu-west-1", ProfileARN: profileGlob, Destinations: globalDestinations}
	buf := make([]DestinationResult, 1, 8)
	buf[0].Region = "sentinel"
	out := set.AuthorizeInvoke(&inv, nil, buf)
	if len(out) != 5 || out[0].Region != "sentinel" || &out[0] != &buf[0] {
		t.Errorf("AuthorizeInvoke did not append to dst in place: %d results, first %q", len(out), out[0].Region)
	}
}

// TestReferenceConfigPolicy checks the invoke-eu-only policy of
// docs/config.example.yaml against the reference topology.
func TestReferenceConfigPolicy(t *testing.T) {
	t.Parallel()
	set := NewSet([]*Policy{MustParse("invoke-eu-only", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"Action":["bedrock:InvokeModel","bedrock:InvokeModelWithResponseStream"],
		"Resource":["arn:aws:bedrock:eu-*:111122223333:inference-profile/eu.*","arn:aws:bedrock:eu-*::foundation-model/*"]}]}`)}, nil)
	c := NewContext(4)
	c.Add(KeyUsername, "claims-service")
	c.Add(PrefixPrincipalTag+"team", "claims")
	tests := []struct {
		name    string
		inv     Invocation
		allowed []string
	}{
		{"eu profile from eu-west-1", Invocation{Action: ActionInvokeModel, SourceRegion: "eu-west-1", ProfileARN: profileEU, Destinations: globalDestinations[2:]}, []string{"eu-west-1", "eu-central-1"}},
		{"global profile is not covered", Invocation{Action: ActionInvokeModel, SourceRegion: "eu-west-1", ProfileARN: profileGlob, Destinations: globalDestinations}, nil},
		// As in AWS, inference-profile/… does not cover application-inference-profile/….
		{"application profile claims-eu is not covered", Invocation{Action: ActionInvokeModel, SourceRegion: "eu-west-1", ProfileARN: "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/claims-eu", Destinations: globalDestinations[2:]}, nil},
		{"model id in eu-central-1", Invocation{Action: ActionInvokeModelWithResponseStream, SourceRegion: "eu-central-1", Destinations: globalDestinations[3:]}, []string{"eu-central-1"}},
		{"model id in us-east-1", Invocation{Action: ActionInvokeModel, SourceRegion: "us-east-1", Destinations: globalDestinations[:1]}, nil},
	}
	for _, tc := range tests {
		got := allowedRegions(set.AuthorizeInvoke(&tc.inv, c, nil))
		if diff := cmp.Diff(tc.allowed, got); diff != "" {
			t.Errorf("%s: allowed regions (-want +got):\n%s", tc.name, diff)
		}
	}
}
