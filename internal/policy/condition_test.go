package policy

import (
	"testing"
	"time"
)

// conditionHolds evaluates an Allow statement with Action "*", Resource "*"
// and the given Condition block in the given context.
func conditionHolds(t *testing.T, condition string, ctx map[string][]string) bool {
	t.Helper()
	p, err := Parse("cond", []byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":`+condition+`}}`))
	if err != nil {
		t.Fatalf("Parse condition %s: %v", condition, err)
	}
	return NewSet([]*Policy{p}, nil).Evaluate("bedrock:InvokeModel", "*", ContextFromMap(ctx)).Decision == Allow
}

type ctx = map[string][]string

func TestConditionOperators(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		condition string
		ctx       ctx
		want      bool
	}{
		// String operators.
		{"StringEquals", `{"StringEquals":{"aws:RequestedRegion":"eu-west-1"}}`, ctx{"aws:RequestedRegion": {"eu-west-1"}}, true},
		{"StringEquals case-sensitive value", `{"StringEquals":{"aws:RequestedRegion":"EU-WEST-1"}}`, ctx{"aws:RequestedRegion": {"eu-west-1"}}, false},
		{"StringEquals key case-insensitive", `{"StringEquals":{"AWS:REQUESTEDREGION":"eu-west-1"}}`, ctx{"aws:requestedregion": {"eu-west-1"}}, true},
		{"StringEquals values OR", `{"StringEquals":{"aws:RequestedRegion":["eu-west-1","eu-central-1"]}}`, ctx{"aws:RequestedRegion": {"eu-central-1"}}, true},
		{"StringEquals no wildcard", `{"StringEquals":{"aws:RequestedRegion":"eu-*"}}`, ctx{"aws:RequestedRegion": {"eu-west-1"}}, false},
		{"StringEquals missing key", `{"StringEquals":{"aws:RequestedRegion":"eu-west-1"}}`, ctx{}, false},
		{"StringNotEquals", `{"StringNotEquals":{"aws:RequestedRegion":["eu-west-1","eu-central-1"]}}`, ctx{"aws:RequestedRegion": {"us-east-1"}}, true},
		{"StringNotEquals listed", `{"StringNotEquals":{"aws:RequestedRegion":["eu-west-1","eu-central-1"]}}`, ctx{"aws:RequestedRegion": {"eu-west-1"}}, false},
		{"StringNotEquals missing key is true", `{"StringNotEquals":{"aws:RequestedRegion":"eu-west-1"}}`, ctx{}, true},
		{"StringEqualsIgnoreCase", `{"StringEqualsIgnoreCase":{"aws:PrincipalTag/team":"CLAIMS"}}`, ctx{"aws:PrincipalTag/team": {"Claims"}}, true},
		{"StringNotEqualsIgnoreCase", `{"StringNotEqualsIgnoreCase":{"aws:PrincipalTag/team":"CLAIMS"}}`, ctx{"aws:PrincipalTag/team": {"claims"}}, false},
		{"StringLike", `{"StringLike":{"aws:RequestedRegion":"eu-*"}}`, ctx{"aws:RequestedRegion": {"eu-west-1"}}, true},
		{"StringLike question", `{"StringLike":{"aws:RequestedRegion":"eu-west-?"}}`, ctx{"aws:RequestedRegion": {"eu-west-10"}}, false},
		{"StringLike case-sensitive", `{"StringLike":{"aws:RequestedRegion":"EU-*"}}`, ctx{"aws:RequestedRegion": {"eu-west-1"}}, false},
		{"StringNotLike", `{"StringNotLike":{"aws:RequestedRegion":"eu-*"}}`, ctx{"aws:RequestedRegion": {"us-east-1"}}, true},
		// ARN operators compare segment by segment, with wildcards.
		{"ArnLike", `{"ArnLike":{"bedrock:InferenceProfileArn":"arn:aws:bedrock:*:*:inference-profile/*"}}`, ctx{"bedrock:InferenceProfileArn": {"arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.m"}}, true},
		{"ArnEquals wildcards too", `{"ArnEquals":{"bedrock:InferenceProfileArn":"arn:aws:bedrock:*:*:inference-profile/*"}}`, ctx{"bedrock:InferenceProfileArn": {"arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.m"}}, true},
		{"ArnLike application profile", `{"ArnLike":{"bedrock:InferenceProfileArn":"arn:aws:bedrock:*:*:inference-profile/*"}}`, ctx{"bedrock:InferenceProfileArn": {"arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/abc"}}, false},
		{"ArnNotLike missing key", `{"ArnNotLike":{"bedrock:InferenceProfileArn":"arn:aws:bedrock:*:*:inference-profile/*"}}`, ctx{}, true},
		{"ArnLike not an ARN", `{"ArnLike":{"bedrock:InferenceProfileArn":"arn:aws:bedrock:*:*:inference-profile/*"}}`, ctx{"bedrock:InferenceProfileArn": {"inference-profile/x"}}, false},
		// Numeric.
		{"NumericLessThan", `{"NumericLessThan":{"x:n":10}}`, ctx{"x:n": {"9.5"}}, true},
		{"NumericLessThan equal", `{"NumericLessThan":{"x:n":10}}`, ctx{"x:n": {"10"}}, false},
		{"NumericLessThanEquals", `{"NumericLessThanEquals":{"x:n":"10"}}`, ctx{"x:n": {"10"}}, true},
		{"NumericGreaterThan", `{"NumericGreaterThan":{"x:n":10}}`, ctx{"x:n": {"11"}}, true},
		{"NumericGreaterThanEquals", `{"NumericGreaterThanEquals":{"x:n":10}}`, ctx{"x:n": {"9"}}, false},
		{"NumericEquals", `{"NumericEquals":{"x:n":[1,2]}}`, ctx{"x:n": {"2.0"}}, true},
		{"NumericNotEquals", `{"NumericNotEquals":{"x:n":[1,2]}}`, ctx{"x:n": {"3"}}, true},
		{"Numeric not a number", `{"NumericLessThan":{"x:n":10}}`, ctx{"x:n": {"five"}}, false},
		// Date.
		{"DateLessThan", `{"DateLessThan":{"aws:CurrentTime":"2026-12-31T23:59:59Z"}}`, ctx{"aws:CurrentTime": {"2026-11-25T10:00:00Z"}}, true},
		{"DateGreaterThan", `{"DateGreaterThan":{"aws:CurrentTime":"2026-12-31"}}`, ctx{"aws:CurrentTime": {"2026-11-25T10:00:00Z"}}, false},
		{"DateGreaterThanEquals epoch", `{"DateGreaterThanEquals":{"aws:EpochTime":1700000000}}`, ctx{"aws:EpochTime": {"1700000000"}}, true},
		{"DateEquals mixed forms", `{"DateEquals":{"aws:CurrentTime":"1700000000"}}`, ctx{"aws:CurrentTime": {"2023-11-14T22:13:20Z"}}, true},
		{"DateNotEquals", `{"DateNotEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, ctx{"aws:CurrentTime": {"2026-01-01T00:00:01Z"}}, true},
		{"DateLessThanEquals offset", `{"DateLessThanEquals":{"aws:CurrentTime":"2026-01-01T01:00:00+01:00"}}`, ctx{"aws:CurrentTime": {"2026-01-01T00:00:00Z"}}, true},
		// Bool.
		{"Bool true", `{"Bool":{"aws:SecureTransport":"true"}}`, ctx{"aws:SecureTransport": {"true"}}, true},
		{"Bool json true", `{"Bool":{"aws:SecureTransport":true}}`, ctx{"aws:SecureTransport": {"TRUE"}}, true},
		{"Bool false", `{"Bool":{"aws:SecureTransport":"false"}}`, ctx{"aws:SecureTransport": {"true"}}, false},
		{"Bool missing", `{"Bool":{"aws:SecureTransport":"false"}}`, ctx{}, false},
		{"BoolIfExists missing", `{"BoolIfExists":{"aws:SecureTransport":"false"}}`, ctx{}, true},
		// IP addresses.
		{"IpAddress", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ctx{"aws:SourceIp": {"203.0.113.77"}}, true},
		{"IpAddress outside", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ctx{"aws:SourceIp": {"198.51.100.1"}}, false},
		{"IpAddress single", `{"IpAddress":{"aws:SourceIp":"198.51.100.1"}}`, ctx{"aws:SourceIp": {"198.51.100.1"}}, true},
		{"IpAddress v6", `{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, ctx{"aws:SourceIp": {"2001:db8:1::5"}}, true},
		{"IpAddress mapped", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ctx{"aws:SourceIp": {"::ffff:203.0.113.5"}}, true},
		{"NotIpAddress", `{"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32"]}}`, ctx{"aws:SourceIp": {"198.51.100.1"}}, true},
		{"NotIpAddress inside", `{"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24"]}}`, ctx{"aws:SourceIp": {"203.0.113.1"}}, false},
		{"IpAddress garbage", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, ctx{"aws:SourceIp": {"localhost"}}, false},
		// Null.
		{"Null true missing", `{"Null":{"aws:userid":"true"}}`, ctx{}, true},
		{"Null true present", `{"Null":{"aws:userid":"true"}}`, ctx{"aws:userid": {"u"}}, false},
		{"Null false present", `{"Null":{"aws:userid":"false"}}`, ctx{"aws:userid": {"u"}}, true},
		{"Null false missing", `{"Null":{"aws:userid":false}}`, ctx{}, false},
		// BinaryEquals compares the base64 text.
		{"BinaryEquals", `{"BinaryEquals":{"x:b":"QmluYXJ5"}}`, ctx{"x:b": {"QmluYXJ5"}}, true},
		// IfExists (IAM docs: the key, if present, must match; if absent, true).
		{"StringLikeIfExists missing", `{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}`, ctx{}, true},
		{"StringLikeIfExists match", `{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}`, ctx{"ec2:InstanceType": {"t2.micro"}}, true},
		{"StringLikeIfExists mismatch", `{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}`, ctx{"ec2:InstanceType": {"m5.large"}}, false},
		{"StringNotEqualsIfExists missing", `{"StringNotEqualsIfExists":{"aws:RequestedRegion":"eu-west-1"}}`, ctx{}, true},
		{"StringNotEqualsIfExists present", `{"StringNotEqualsIfExists":{"aws:RequestedRegion":"eu-west-1"}}`, ctx{"aws:RequestedRegion": {"eu-west-1"}}, false},
		{"IpAddressIfExists missing", `{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}`, ctx{}, true},
		// Several keys and operators AND.
		{"keys AND both", `{"StringEquals":{"aws:RequestedRegion":"eu-west-1","aws:PrincipalTag/team":"claims"}}`, ctx{"aws:RequestedRegion": {"eu-west-1"}, "aws:PrincipalTag/team": {"claims"}}, true},
		{"keys AND one", `{"StringEquals":{"aws:RequestedRegion":"eu-west-1","aws:PrincipalTag/team":"claims"}}`, ctx{"aws:RequestedRegion": {"eu-west-1"}}, false},
		{"operators AND", `{"StringLike":{"aws:RequestedRegion":"eu-*"},"Bool":{"aws:SecureTransport":"true"}}`, ctx{"aws:RequestedRegion": {"eu-west-1"}, "aws:SecureTransport": {"false"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := conditionHolds(t, tc.condition, tc.ctx); got != tc.want {
				t.Errorf("condition %s in %v = %v, want %v", tc.condition, tc.ctx, got, tc.want)
			}
		})
	}
}

// TestConditionSetOperators follows the IAM documentation's tables for
// multivalued context keys (aws:TagKeys).
func TestConditionSetOperators(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		condition string
		ctx       ctx
		want      bool
	}{
		// "Deny multiple policy condition values for a multivalued context key".
		{"ForAllValues:StringNotLike one prefixed", `{"ForAllValues:StringNotLike":{"aws:TagKeys":"key1*"}}`, ctx{"aws:TagKeys": {"key1:legal"}}, false},
		{"ForAllValues:StringNotLike all prefixed", `{"ForAllValues:StringNotLike":{"aws:TagKeys":"key1*"}}`, ctx{"aws:TagKeys": {"key1:hr", "key1:personnel"}}, false},
		{"ForAllValues:StringNotLike none prefixed", `{"ForAllValues:StringNotLike":{"aws:TagKeys":"key1*"}}`, ctx{"aws:TagKeys": {"key2:audit"}}, true},
		{"ForAllValues:StringNotLike missing", `{"ForAllValues:StringNotLike":{"aws:TagKeys":"key1*"}}`, ctx{}, true},
		// ForAllValues: every request value is in the policy set; true on an empty set.
		{"ForAllValues subset", `{"ForAllValues:StringEquals":{"aws:TagKeys":["team","cost-center"]}}`, ctx{"aws:TagKeys": {"team"}}, true},
		{"ForAllValues all", `{"ForAllValues:StringEquals":{"aws:TagKeys":["team","cost-center"]}}`, ctx{"aws:TagKeys": {"team", "cost-center"}}, true},
		{"ForAllValues extra", `{"ForAllValues:StringEquals":{"aws:TagKeys":["team","cost-center"]}}`, ctx{"aws:TagKeys": {"team", "owner"}}, false},
		{"ForAllValues empty set", `{"ForAllValues:StringEquals":{"aws:TagKeys":["team"]}}`, ctx{}, true},
		{"ForAllValues empty set with Null guard", `{"ForAllValues:StringEquals":{"aws:TagKeys":["team"]},"Null":{"aws:TagKeys":"false"}}`, ctx{}, false},
		{"ForAllValues StringLike", `{"ForAllValues:StringLike":{"aws:TagKeys":"Created*"}}`, ctx{"aws:TagKeys": {"CreatedBy", "CreatedAt"}}, true},
		// ForAnyValue: at least one request value is in the policy set; false on an empty set.
		{"ForAnyValue one", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["team","cost-center"]}}`, ctx{"aws:TagKeys": {"owner", "team"}}, true},
		{"ForAnyValue none", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["team","cost-center"]}}`, ctx{"aws:TagKeys": {"owner"}}, false},
		{"ForAnyValue empty set", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["team"]}}`, ctx{}, false},
		{"ForAnyValue negated empty set", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["team"]}}`, ctx{}, false},
		{"ForAnyValue negated one differs", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["team"]}}`, ctx{"aws:TagKeys": {"team", "owner"}}, true},
		{"ForAnyValue negated all listed", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["team"]}}`, ctx{"aws:TagKeys": {"team"}}, false},
		{"ForAllValues negated empty set", `{"ForAllValues:StringNotEquals":{"aws:TagKeys":["team"]}}`, ctx{}, true},
		{"ForAnyValue IfExists missing", `{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":["team"]}}`, ctx{}, true},
		{"ForAnyValue qualifier case-insensitive", `{"foranyvalue:stringequals":{"aws:TagKeys":["team"]}}`, ctx{"aws:TagKeys": {"team"}}, true},
		// No qualifier on a multivalued key: positive matches if any value matches,
		// negated if none does.
		{"plain multivalued positive", `{"StringEquals":{"aws:TagKeys":"team"}}`, ctx{"aws:TagKeys": {"owner", "team"}}, true},
		{"plain multivalued negated", `{"StringNotEquals":{"aws:TagKeys":"team"}}`, ctx{"aws:TagKeys": {"owner", "team"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := conditionHolds(t, tc.condition, tc.ctx); got != tc.want {
				t.Errorf("condition %s in %v = %v, want %v", tc.condition, tc.ctx, got, tc.want)
			}
		})
	}
}

func TestConditionVariables(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		condition string
		ctx       ctx
		want      bool
	}{
		{"resource tag equals principal tag", `{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}`, ctx{"aws:ResourceTag/team": {"claims"}, "aws:PrincipalTag/team": {"claims"}}, true},
		{"resource tag differs", `{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}`, ctx{"aws:ResourceTag/team": {"claims"}, "aws:PrincipalTag/team": {"risk"}}, false},
		{"unresolvable positive", `{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}`, ctx{"aws:ResourceTag/team": {"claims"}}, false},
		{"unresolvable value, other value matches", `{"StringEquals":{"aws:ResourceTag/team":["${aws:PrincipalTag/team}","shared"]}}`, ctx{"aws:ResourceTag/team": {"shared"}}, true},
		{"unresolvable negated does not hold", `{"StringNotEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}`, ctx{"aws:ResourceTag/team": {"claims"}}, false},
		{"negated resolvable", `{"StringNotEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}`, ctx{"aws:ResourceTag/team": {"claims"}, "aws:PrincipalTag/team": {"risk"}}, true},
		{"default value", `{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team, 'shared'}"}}`, ctx{"aws:ResourceTag/team": {"shared"}}, true},
		{"StringLike with variable", `{"StringLike":{"x:path":"home/${aws:username}/*"}}`, ctx{"x:path": {"home/alice/a"}, "aws:username": {"alice"}}, true},
		{"ArnLike with variable", `{"ArnLike":{"bedrock:InferenceProfileArn":"arn:aws:bedrock:${meridian:SourceRegion}:*:inference-profile/*"}}`, ctx{"bedrock:InferenceProfileArn": {"arn:aws:bedrock:eu-west-1:1:inference-profile/x"}, "meridian:SourceRegion": {"eu-west-1"}}, true},
		{"escape in condition", `{"StringEquals":{"x:v":"a${*}b"}}`, ctx{"x:v": {"a*b"}}, true},
		{"userid variable", `{"StringEquals":{"x:owner":"${aws:userid}"}}`, ctx{"x:owner": {"AIDA1"}, "aws:userid": {"AIDA1"}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := conditionHolds(t, tc.condition, tc.ctx); got != tc.want {
				t.Errorf("condition %s in %v = %v, want %v", tc.condition, tc.ctx, got, tc.want)
			}
		})
	}
}

func TestConditionCurrentTime(t *testing.T) {
	t.Parallel()
	p := MustParse("p", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{
		"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"},
		"DateLessThan":{"aws:EpochTime":"2026-12-31T00:00:00Z"}}}}`)
	set := NewSet([]*Policy{p}, nil)
	for _, tc := range []struct {
		now  time.Time
		want Decision
	}{
		{time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), Allow},
		{time.Date(2025, 11, 25, 10, 0, 0, 0, time.UTC), ImplicitDeny},
		{time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), ImplicitDeny},
	} {
		c := &Context{}
		c.SetCurrentTime(tc.now)
		if got := set.Evaluate("x:y", "*", c).Decision; got != tc.want {
			t.Errorf("Evaluate at %v = %v, want %v", tc.now, got, tc.want)
		}
	}
	// The derived keys are visible as strings too.
	c := &Context{}
	c.SetCurrentTime(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	if v, _ := c.Get(KeyEpochTime); v != "1795600800" {
		t.Errorf("Get(aws:EpochTime) = %q, want 1795600800", v)
	}
	if v, _ := c.Get("aws:currenttime"); v != "2026-11-25T10:00:00Z" {
		t.Errorf("Get(aws:CurrentTime) = %q", v)
	}
	sp := MustParse("p", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringLike":{"aws:CurrentTime":"2026-11-*"}}}}`)
	if got := NewSet([]*Policy{sp}, nil).Evaluate("x:y", "*", c).Decision; got != Allow {
		t.Errorf("StringLike on derived aws:CurrentTime = %v, want allow", got)
	}
}
