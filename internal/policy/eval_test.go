package policy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	fmEUWest1    = "arn:aws:bedrock:eu-west-1::foundation-model/demo.chat-small"
	fmUSEast1    = "arn:aws:bedrock:us-east-1::foundation-model/demo.chat-small"
	profileEU    = "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.demo.chat-small"
	profileGlob  = "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/global.demo.chat-small"
	profileUSGlb = "arn:aws:bedrock:us-east-1:111122223333:inference-profile/global.demo.chat-small"
)

func TestEvaluate(t *testing.T) {
	t.Parallel()
	// The config's reference policy.
	invokeEUOnly := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"Action":["bedrock:InvokeModel","bedrock:InvokeModelWithResponseStream"],
		"Resource":["arn:aws:bedrock:eu-*:111122223333:inference-profile/eu.*","arn:aws:bedrock:eu-*::foundation-model/*"]}]}`
	tests := []struct {
		name       string
		identity   []string
		guardrails []string
		action     string
		resource   string
		ctx        ctx
		want       Result
	}{
		{
			name:   "no policies: implicit deny",
			action: "bedrock:InvokeModel", resource: fmEUWest1,
			want: Result{Decision: ImplicitDeny},
		},
		{
			name:     "allow",
			identity: []string{invokeEUOnly},
			action:   "bedrock:InvokeModel", resource: profileEU,
			want: Result{Decision: Allow, Statement: StatementRef{Policy: "id0", Index: 0}},
		},
		{
			name:     "action case-insensitive",
			identity: []string{invokeEUOnly},
			action:   "BEDROCK:invokemodel", resource: profileEU,
			want: Result{Decision: Allow, Statement: StatementRef{Policy: "id0", Index: 0}},
		},
		{
			name:     "resource case-sensitive",
			identity: []string{invokeEUOnly},
			action:   "bedrock:InvokeModel", resource: "arn:aws:bedrock:EU-west-1::foundation-model/demo.chat-small",
			want: Result{Decision: ImplicitDeny},
		},
		{
			name:     "other action not allowed",
			identity: []string{invokeEUOnly},
			action:   "bedrock:DeleteInferenceProfile", resource: profileEU,
			want: Result{Decision: ImplicitDeny},
		},
		{
			name:     "resource outside allow",
			identity: []string{invokeEUOnly},
			action:   "bedrock:InvokeModel", resource: fmUSEast1,
			want: Result{Decision: ImplicitDeny},
		},
		{
			name: "explicit deny beats allow in the same policy",
			identity: []string{`{"Version":"2012-10-17","Statement":[
				{"Sid":"All","Effect":"Allow","Action":"bedrock:*","Resource":"*"},
				{"Sid":"NoUS","Effect":"Deny","Action":"bedrock:*","Resource":"arn:aws:bedrock:us-*"}]}`},
			action: "bedrock:InvokeModel", resource: fmUSEast1,
			want: Result{Decision: ExplicitDeny, Statement: StatementRef{Policy: "id0", Sid: "NoUS", Index: 1}},
		},
		{
			name: "explicit deny in another policy beats allow",
			identity: []string{
				`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`,
				`{"Version":"2012-10-17","Statement":{"Sid":"NoDelete","Effect":"Deny","Action":"bedrock:Delete*","Resource":"*"}}`},
			action: "bedrock:DeleteInferenceProfile", resource: profileEU,
			want: Result{Decision: ExplicitDeny, Statement: StatementRef{Policy: "id1", Sid: "NoDelete"}},
		},
		{
			name:     "a deny alone does not allow what it does not deny",
			identity: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"bedrock:Delete*","Resource":"*"}}`},
			action:   "bedrock:InvokeModel", resource: fmEUWest1,
			want: Result{Decision: ImplicitDeny},
		},
		{
			name: "allow from any identity policy",
			identity: []string{
				`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`,
				`{"Version":"2012-10-17","Statement":{"Sid":"Invoke","Effect":"Allow","Action":"bedrock:Invoke*","Resource":"*"}}`},
			action: "bedrock:InvokeModelWithResponseStream", resource: fmEUWest1,
			want: Result{Decision: Allow, Statement: StatementRef{Policy: "id1", Sid: "Invoke"}},
		},
		{
			name:     "NotAction allow covers other actions",
			identity: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"bedrock:Delete*","Resource":"*"}}`},
			action:   "bedrock:InvokeModel", resource: fmEUWest1,
			want: Result{Decision: Allow, Statement: StatementRef{Policy: "id0"}},
		},
		{
			name:     "NotAction allow excludes listed actions",
			identity: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"bedrock:Delete*","Resource":"*"}}`},
			action:   "bedrock:DeleteInferenceProfile", resource: profileEU,
			want: Result{Decision: ImplicitDeny},
		},
		{
			// IAM docs: deny everything except IAM actions unless MFA — here: deny all
			// but bedrock outside the EU.
			name: "NotAction deny leaves listed actions alone",
			identity: []string{
				`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`,
				`{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":"bedrock:*","Resource":"*","Condition":{"StringNotLike":{"aws:RequestedRegion":"eu-*"}}}}`},
			action: "bedrock:InvokeModel", resource: fmUSEast1, ctx: ctx{"aws:RequestedRegion": {"us-east-1"}},
			want: Result{Decision: Allow, Statement: StatementRef{Policy: "id0"}},
		},
		{
			name: "NotAction deny hits other actions",
			identity: []string{
				`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`,
				`{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":"bedrock:*","Resource":"*","Condition":{"StringNotLike":{"aws:RequestedRegion":"eu-*"}}}}`},
			action: "s3:GetObject", resource: "arn:aws:s3:::b/k", ctx: ctx{"aws:RequestedRegion": {"us-east-1"}},
			want: Result{Decision: ExplicitDeny, Statement: StatementRef{Policy: "id1"}},
		},
		{
			name: "NotResource deny everything but the EU profile",
			identity: []string{
				`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:*","Resource":"*"}}`,
				`{"Version":"2012-10-17","Statement":{"Sid":"OnlyEU","Effect":"Deny","Action":"bedrock:*","NotResource":["arn:aws:bedrock:eu-*:*:inference-profile/eu.*","arn:aws:bedrock:eu-*::foundation-model/*"]}}`},
			action: "bedrock:InvokeModel", resource: profileEU,
			want: Result{Decision: Allow, Statement: StatementRef{Policy: "id0"}},
		},
		{
			name: "NotResource deny hits other resources",
			identity: []string{
				`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:*","Resource":"*"}}`,
				`{"Version":"2012-10-17","Statement":{"Sid":"OnlyEU","Effect":"Deny","Action":"bedrock:*","NotResource":["arn:aws:bedrock:eu-*:*:inference-profile/eu.*","arn:aws:bedrock:eu-*::foundation-model/*"]}}`},
			action: "bedrock:InvokeModel", resource: fmUSEast1,
			want: Result{Decision: ExplicitDeny, Statement: StatementRef{Policy: "id1", Sid: "OnlyEU"}},
		},
		{
			name:     "NotResource allow",
			identity: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:*","NotResource":"arn:aws:bedrock:us-*"}}`},
			action:   "bedrock:InvokeModel", resource: fmEUWest1,
			want: Result{Decision: Allow, Statement: StatementRef{Policy: "id0"}},
		},
		{
			name:     "resource policy variable",
			identity: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:*","Resource":"arn:aws:bedrock:*:*:application-inference-profile/${aws:PrincipalTag/team}-*"}}`},
			action:   "bedrock:GetInferenceProfile", resource: "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/claims-eu",
			ctx:  ctx{"aws:PrincipalTag/team": {"claims"}},
			want: Result{Decision: Allow, Statement: StatementRef{Policy: "id0"}},
		},
		{
			name:     "resource policy variable unresolvable",
			identity: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:*","Resource":"arn:aws:bedrock:*:*:application-inference-profile/${aws:PrincipalTag/team}-*"}}`},
			action:   "bedrock:GetInferenceProfile", resource: "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/claims-eu",
			want: Result{Decision: ImplicitDeny},
		},
		{
			name:     "resource tag condition",
			identity: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"arn:aws:bedrock:*:*:application-inference-profile/*","Condition":{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}}}`},
			action:   "bedrock:InvokeModel", resource: "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/claims-eu",
			ctx:  ctx{"aws:PrincipalTag/team": {"claims"}, "aws:ResourceTag/team": {"claims"}},
			want: Result{Decision: Allow, Statement: StatementRef{Policy: "id0"}},
		},
		{
			name:     "list action on *",
			identity: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:List*","Resource":"*"}}`},
			action:   "bedrock:ListInferenceProfiles", resource: "*",
			want: Result{Decision: Allow, Statement: StatementRef{Policy: "id0"}},
		},
		{
			name: "create requires team tag (ForAllValues + Null guard)",
			identity: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:CreateInferenceProfile","Resource":"*","Condition":{
				"StringEquals":{"aws:RequestTag/team":"${aws:PrincipalTag/team}"},
				"ForAllValues:StringEquals":{"aws:TagKeys":["team","cost-center"]}}}}`},
			action: "bedrock:CreateInferenceProfile", resource: "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/new",
			ctx:  ctx{"aws:PrincipalTag/team": {"claims"}, "aws:RequestTag/team": {"claims"}, "aws:TagKeys": {"team", "owner"}},
			want: Result{Decision: ImplicitDeny},
		},
		// Guardrails (SCP semantics).
		{
			name:       "guardrail without allow blocks everything",
			identity:   []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`},
			guardrails: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`},
			action:     "bedrock:InvokeModel", resource: fmEUWest1,
			want: Result{Decision: ImplicitDeny, Guardrail: "g0"},
		},
		{
			name:       "guardrail allow does not grant",
			guardrails: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`},
			action:     "bedrock:InvokeModel", resource: fmEUWest1,
			want: Result{Decision: ImplicitDeny},
		},
		{
			name:     "every guardrail must allow",
			identity: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`},
			guardrails: []string{
				`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`,
				`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:Get*","Resource":"*"}}`},
			action: "bedrock:InvokeModel", resource: fmEUWest1,
			want: Result{Decision: ImplicitDeny, Guardrail: "g1"},
		},
		{
			name:       "guardrail deny wins",
			identity:   []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`},
			guardrails: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"NoDelete","Effect":"Deny","Action":"bedrock:Delete*","Resource":"*"}]}`},
			action:     "bedrock:DeleteInferenceProfile", resource: profileEU,
			want: Result{Decision: ExplicitDeny, Statement: StatementRef{Policy: "g0", Sid: "NoDelete", Index: 1, Guardrail: true}},
		},
		{
			name:       "guardrails allow and identity allows",
			identity:   []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`},
			guardrails: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"NoDelete","Effect":"Deny","Action":"bedrock:Delete*","Resource":"*"}]}`},
			action:     "bedrock:InvokeModel", resource: fmEUWest1,
			want: Result{Decision: Allow, Statement: StatementRef{Policy: "id0"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			set := NewSet(mustParseAll(t, "id", tc.identity), mustParseAll(t, "g", tc.guardrails))
			got := set.Evaluate(tc.action, tc.resource, ContextFromMap(tc.ctx))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Evaluate(%q, %q) mismatch (-want +got):\n%s", tc.action, tc.resource, diff)
			}
			r, matched := set.Explain(tc.action, tc.resource, ContextFromMap(tc.ctx))
			if r != got {
				t.Errorf("Explain = %+v, Evaluate = %+v", r, got)
			}
			if got.Decision != ImplicitDeny && !containsRef(matched, got.Statement) {
				t.Errorf("Explain matched %v, want it to include the deciding %v", matched, got.Statement)
			}
		})
	}
}

func mustParseAll(t testing.TB, prefix string, docs []string) []*Policy {
	t.Helper()
	var out []*Policy
	for i, d := range docs {
		name := prefix + string(rune('0'+i))
		p, err := Parse(name, []byte(d))
		if err != nil {
			t.Fatalf("Parse(%s): %v", name, err)
		}
		out = append(out, p)
	}
	return out
}

func containsRef(ms []Match, ref StatementRef) bool {
	for _, m := range ms {
		if m.StatementRef == ref {
			return true
		}
	}
	return false
}

func TestExplainListsEveryMatch(t *testing.T) {
	t.Parallel()
	g := MustParse("org", `{"Version":"2012-10-17","Statement":[{"Sid":"Full","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"NoUS","Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringLike":{"aws:RequestedRegion":"us-*"}}}]}`)
	id := MustParse("dev", `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"bedrock:*","Resource":"*"},{"Sid":"B","Effect":"Allow","Action":"s3:*","Resource":"*"}]}`)
	c := &Context{}
	c.Add(KeyRequestedRegion, "us-east-1")
	r, matched := NewSet([]*Policy{id}, []*Policy{g}).Explain("bedrock:InvokeModel", fmUSEast1, c)
	want := []Match{
		{StatementRef{Policy: "org", Sid: "Full", Index: 0, Guardrail: true}, EffectAllow},
		{StatementRef{Policy: "org", Sid: "NoUS", Index: 1, Guardrail: true}, EffectDeny},
		{StatementRef{Policy: "dev", Sid: "A", Index: 0}, EffectAllow},
	}
	if r.Decision != ExplicitDeny {
		t.Errorf("Explain decision = %v, want explicitDeny", r.Decision)
	}
	if diff := cmp.Diff(want, matched); diff != "" {
		t.Errorf("Explain matches (-want +got):\n%s", diff)
	}
}

func TestDecisionString(t *testing.T) {
	t.Parallel()
	for d, want := range map[Decision]string{Allow: "allow", ExplicitDeny: "explicitDeny", ImplicitDeny: "implicitDeny", Decision(9): "Decision(9)"} {
		if got := d.String(); got != want {
			t.Errorf("Decision(%d).String() = %q, want %q", d, got, want)
		}
	}
	var zero Decision
	if zero != ImplicitDeny || zero.Allowed() {
		t.Errorf("zero Decision = %v, want implicitDeny and not allowed", zero)
	}
	for _, d := range []Decision{Allow, ExplicitDeny, ImplicitDeny} {
		b, _ := d.MarshalText()
		var back Decision
		if err := back.UnmarshalText(b); err != nil || back != d {
			t.Errorf("round trip of %v = %v, %v", d, back, err)
		}
	}
}

func TestContext(t *testing.T) {
	t.Parallel()
	c := NewContext(4)
	c.Add("aws:TagKeys", "a")
	c.Add("AWS:TAGKEYS", "b")
	c.Add("aws:PrincipalTag/Team", "claims")
	if v, ok := c.Get("aws:principaltag/team"); !ok || v != "claims" {
		t.Errorf("Get(tag) = %q, %v", v, ok)
	}
	c.Set(KeyTagKeys, "c")
	var got []string
	for k, v := range c.All() {
		got = append(got, k+"="+v)
	}
	if diff := cmp.Diff([]string{"aws:PrincipalTag/Team=claims", "aws:TagKeys=c"}, got); diff != "" {
		t.Errorf("All after Set (-want +got):\n%s", diff)
	}
	c.Reset()
	if _, ok := c.Get(KeyTagKeys); ok {
		t.Errorf("Get after Reset found a value")
	}
}

func TestContextSourceIPCache(t *testing.T) {
	t.Parallel()
	set := NewSet([]*Policy{MustParse("p", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}}`)}, nil)
	c := NewContext(2)
	for _, tc := range []struct {
		ip   string
		want Decision
	}{
		{"203.0.113.7", Allow},
		{"198.51.100.7", ImplicitDeny},
		{"::ffff:203.0.113.9", Allow},
		{"not-an-ip", ImplicitDeny},
	} {
		c.Set(KeySourceIP, tc.ip)
		if got := set.Evaluate("x:y", "*", c).Decision; got != tc.want {
			t.Errorf("aws:SourceIp %s: Evaluate = %v, want %v", tc.ip, got, tc.want)
		}
	}
	c.Reset()
	if got := set.Evaluate("x:y", "*", c).Decision; got != ImplicitDeny {
		t.Errorf("after Reset: Evaluate = %v, want implicitDeny", got)
	}
}
