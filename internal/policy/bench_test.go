package policy

import (
	"testing"
	"time"
)

// realisticPrincipal is the benchmark principal: one guardrail and four
// identity policies, 20 statements in all, with wildcards, conditions and
// policy variables, as a regulated team would write them.
func realisticPrincipal(tb testing.TB) *Set {
	tb.Helper()
	guardrail := `{"Version":"2012-10-17","Statement":[
		{"Sid":"FullAccess","Effect":"Allow","Action":"*","Resource":"*"},
		{"Sid":"DenyUnapprovedRegions","Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":["us-east-1","us-west-2","eu-west-1","eu-central-1"]}}},
		{"Sid":"DenyInsecure","Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`
	invoke := `{"Version":"2012-10-17","Statement":[
		{"Sid":"ListAndGet","Effect":"Allow","Action":["bedrock:List*","bedrock:Get*"],"Resource":"*"},
		{"Sid":"NoDelete","Effect":"Deny","Action":["bedrock:Delete*","bedrock:Untag*"],"Resource":"*"},
		{"Sid":"Profiles","Effect":"Allow","Action":["bedrock:InvokeModel","bedrock:InvokeModelWithResponseStream"],
		 "Resource":["arn:aws:bedrock:*:111122223333:inference-profile/eu.*","arn:aws:bedrock:*:111122223333:inference-profile/global.*"],
		 "Condition":{"StringEquals":{"aws:PrincipalTag/team":["claims","risk"]}}},
		{"Sid":"ModelsViaProfile","Effect":"Allow","Action":"bedrock:InvokeModel*",
		 "Resource":"arn:aws:bedrock:*::foundation-model/demo.*",
		 "Condition":{"ArnLike":{"bedrock:InferenceProfileArn":"arn:aws:bedrock:*:111122223333:inference-profile/*"}}},
		{"Sid":"NoDirectUS","Effect":"Deny","Action":"bedrock:InvokeModel*","Resource":"arn:aws:bedrock:us-*::foundation-model/*",
		 "Condition":{"Null":{"bedrock:InferenceProfileArn":"true"}}}]}`
	apps := `{"Version":"2012-10-17","Statement":[
		{"Sid":"OwnAppProfiles","Effect":"Allow","Action":["bedrock:InvokeModel*","bedrock:GetInferenceProfile"],
		 "Resource":"arn:aws:bedrock:*:111122223333:application-inference-profile/*",
		 "Condition":{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}},
		{"Sid":"CreateTagged","Effect":"Allow","Action":"bedrock:CreateInferenceProfile","Resource":"*",
		 "Condition":{"StringEquals":{"aws:RequestTag/team":"${aws:PrincipalTag/team}"},"ForAllValues:StringEquals":{"aws:TagKeys":["team","cost-center"]}}},
		{"Sid":"TagOwn","Effect":"Allow","Action":"bedrock:TagResource","Resource":"arn:aws:bedrock:*:111122223333:application-inference-profile/${aws:PrincipalTag/team}-*"},
		{"Sid":"HomeDir","Effect":"Allow","Action":"s3:*Object","Resource":"arn:aws:s3:::claims-data/home/${aws:username}/*"}]}`
	network := `{"Version":"2012-10-17","Statement":[
		{"Sid":"DenyOutsideCorp","Effect":"Deny","Action":"bedrock:*","Resource":"*",
		 "Condition":{"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24","198.51.100.0/24","2001:db8::/32"]}}},
		{"Sid":"DenyAfterContractEnd","Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}},
		{"Sid":"DenyFromUSForEUData","Effect":"Deny","Action":"bedrock:InvokeModel*","Resource":"arn:aws:bedrock:*:*:inference-profile/eu.*",
		 "Condition":{"StringLike":{"meridian:SourceRegion":"us-*"}}},
		{"Sid":"Logs","Effect":"Allow","Action":["logs:CreateLogStream","logs:PutLogEvents"],"Resource":"arn:aws:logs:eu-*:111122223333:log-group:/meridian/*"}]}`
	misc := `{"Version":"2012-10-17","Statement":[
		{"Sid":"ReadMetrics","Effect":"Allow","Action":["cloudwatch:Get*","cloudwatch:List*"],"Resource":"*"},
		{"Sid":"Kms","Effect":"Allow","Action":["kms:Decrypt","kms:GenerateDataKey*"],"Resource":"arn:aws:kms:eu-*:111122223333:key/*",
		 "Condition":{"StringEquals":{"kms:ViaService":["bedrock.eu-west-1.amazonaws.com","bedrock.eu-central-1.amazonaws.com"]}}},
		{"Sid":"Sts","Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::111122223333:role/meridian-*",
		 "Condition":{"NumericLessThanEquals":{"x:MultiFactorAuthAge":"3600"}}},
		{"Sid":"NoIAM","Effect":"Deny","Action":"iam:*","Resource":"*"}]}`
	return NewSet(
		mustParseAll(tb, "id", []string{invoke, apps, network, misc}),
		mustParseAll(tb, "guardrail", []string{guardrail}))
}

// benchInvocation is one streaming call of the global profile from
// eu-west-1, served in eu-central-1: both checks of the cross-Region rule.
var benchInvocation = Invocation{
	Action:       ActionInvokeModelWithResponseStream,
	SourceRegion: "eu-west-1",
	ProfileARN:   profileGlob,
	Destinations: []Destination{{Region: "eu-central-1", ModelARN: FoundationModelARN("aws", "eu-central-1", "demo.chat-small")}},
}

// fillContext sets the keys the gateway sets for every request.
func fillContext(c *Context, now time.Time) {
	c.Reset()
	c.Add(KeySourceIP, "203.0.113.10")
	c.Add(KeySecureTransport, "true")
	c.Add(KeyUsername, "claims-service")
	c.Add(KeyUserID, "claims-service")
	c.Add(PrefixPrincipalTag+"team", "claims")
	c.Add(KeySourceRegion, "eu-west-1")
	c.Add(KeyGeography, "eu")
	c.SetCurrentTime(now)
}

var benchNow = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// BenchmarkInvokeDecision measures one invoke decision (profile check and
// foundation-model check) for the realistic principal, against a baseline of
// the same decision for a one-statement policy measured in the same run.
func BenchmarkInvokeDecision(b *testing.B) {
	baseline := NewSet(mustParseAll(b, "id", []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:InvokeModel*","Resource":"*"}}`}), nil)
	var baseNs float64
	for _, bc := range []struct {
		name string
		set  *Set
	}{
		{"baseline-1-statement", baseline},
		{"principal-5-policies-20-statements", realisticPrincipal(b)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := NewContext(16)
			fillContext(c, benchNow)
			buf := make([]DestinationResult, 0, 4)
			b.ReportAllocs()
			for b.Loop() {
				buf = bc.set.AuthorizeInvoke(&benchInvocation, c, buf[:0])
			}
			if !buf[0].Allowed() {
				b.Fatalf("benchmark decision = %+v, want allow", buf[0].Result)
			}
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
			if bc.name == "baseline-1-statement" {
				baseNs = ns
			} else if baseNs > 0 {
				b.ReportMetric(ns/baseNs, "x-baseline")
			}
		})
	}
}

// BenchmarkRequestContext measures building the per-request context in a
// reused Context.
func BenchmarkRequestContext(b *testing.B) {
	c := NewContext(16)
	b.ReportAllocs()
	for b.Loop() {
		fillContext(c, benchNow)
	}
}

// TestNoAllocs holds the zero-allocation promise for the common case:
// building the request context in a reused Context and deciding an
// invocation (allowed, and denied on a destination) for the realistic
// principal.
func TestNoAllocs(t *testing.T) {
	set := realisticPrincipal(t)
	c := NewContext(16)
	buf := make([]DestinationResult, 0, 4)
	denied := Invocation{
		Action:       ActionInvokeModel,
		SourceRegion: "eu-west-1",
		ProfileARN:   profileGlob,
		Destinations: []Destination{
			{Region: "eu-central-1", ModelARN: FoundationModelARN("aws", "eu-central-1", "demo.chat-small")},
			{Region: "ap-south-1", ModelARN: FoundationModelARN("aws", "ap-south-1", "demo.chat-small")},
		},
	}
	tests := []struct {
		name string
		run  func()
	}{
		{"fill context", func() { fillContext(c, benchNow) }},
		{"invoke allowed", func() { buf = set.AuthorizeInvoke(&benchInvocation, c, buf[:0]) }},
		{"invoke with a denied destination", func() { buf = set.AuthorizeInvoke(&denied, c, buf[:0]) }},
		{"evaluate", func() { _ = set.Evaluate(ActionListInferenceProfiles, "*", c) }},
		{"evaluate with variables", func() {
			_ = set.Evaluate(ActionInvokeModel, "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/claims-eu", c)
		}},
	}
	fillContext(c, benchNow)
	buf = set.AuthorizeInvoke(&benchInvocation, c, buf[:0])
	if !buf[0].Allowed() {
		t.Fatalf("benchmark invocation = %+v, want allow", buf[0].Result)
	}
	buf = set.AuthorizeInvoke(&denied, c, buf[:0])
	if !buf[0].Allowed() || buf[1].Allowed() {
		t.Fatalf("denied invocation = %+v, want eu-central-1 allowed and ap-south-1 denied", buf)
	}
	for _, tc := range tests {
		if n := testing.AllocsPerRun(100, tc.run); n != 0 {
			t.Errorf("%s: %v allocations per run, want 0", tc.name, n)
		}
	}
}
