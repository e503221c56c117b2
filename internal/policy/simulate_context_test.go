package policy

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSimulateInvokeRequestKeys: the --config simulation sets what the
// topology and the clock decide (principal keys, the time, the listener's
// transport), agrees with the node on policies reading them, and names
// every per-request key the policies read that it has no value for.
func TestSimulateInvokeRequestKeys(t *testing.T) {
	t.Parallel()
	allow := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	deny := func(cond string) string {
		return `{"Version":"2012-10-17","Statement":[{"Sid":"D","Effect":"Deny","Action":"*","Resource":"*","Condition":` + cond + `}]}`
	}
	now := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	arn := PrincipalARN("aws", "111122223333", "contractor-bob")
	inv := Invocation{SourceRegion: "eu-west-1", Destinations: []Destination{{Region: "eu-west-1", ModelARN: FoundationModelARN("aws", "eu-west-1", "m")}}}
	for _, tc := range []struct {
		name      string
		policy    string
		in        InvokeSimulation
		allowed   bool
		wantUnset []string
	}{
		{"deny after a date, time from the clock", deny(`{"DateGreaterThan":{"aws:CurrentTime":"2026-06-01T00:00:00Z"}}`),
			InvokeSimulation{Now: now}, false, nil},
		{"deny after a date, no time", deny(`{"DateGreaterThan":{"aws:CurrentTime":"2026-06-01T00:00:00Z"}}`),
			InvokeSimulation{}, true, []string{"aws:CurrentTime"}},
		{"deny plain HTTP, listener without TLS", deny(`{"Bool":{"aws:SecureTransport":"false"}}`),
			InvokeSimulation{SecureTransport: "false"}, false, nil},
		{"deny plain HTTP, listener with TLS", deny(`{"Bool":{"aws:SecureTransport":"false"}}`),
			InvokeSimulation{SecureTransport: "true"}, true, nil},
		{"--context overrides the listener", deny(`{"Bool":{"aws:SecureTransport":"false"}}`),
			InvokeSimulation{SecureTransport: "true", Context: map[string][]string{"aws:SecureTransport": {"false"}}}, false, nil},
		{"source IP unknown", deny(`{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`),
			InvokeSimulation{Now: now, SecureTransport: "false"}, false, []string{"aws:SourceIp"}},
		{"source IP given", deny(`{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`),
			InvokeSimulation{Context: map[string][]string{"aws:SourceIp": {"10.1.2.3"}}}, true, nil},
		{"deny on the principal ARN", deny(`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/contractor-*"}}`),
			InvokeSimulation{PrincipalARN: arn, Account: "111122223333"}, false, nil},
		{"deny another account or type", deny(`{"StringNotEquals":{"aws:PrincipalAccount":"111122223333","aws:PrincipalType":"User"}}`),
			InvokeSimulation{PrincipalARN: arn, Account: "111122223333"}, true, nil},
		{"request tags unknown", deny(`{"Null":{"aws:RequestTag/team":"true"}}`),
			InvokeSimulation{}, false, []string{"aws:RequestTag/team"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.Policies = []*Policy{MustParse("allow", allow), MustParse("deny", tc.policy)}
			in.Invocation = inv
			rep := SimulateInvoke(in)
			if got := len(rep.AllowedRegions) == 1; got != tc.allowed {
				t.Errorf("allowed = %v, want %v\n%s", got, tc.allowed, rep.Text())
			}
			if !slices.Equal(rep.UnsetKeys, tc.wantUnset) {
				t.Errorf("UnsetKeys = %q, want %q", rep.UnsetKeys, tc.wantUnset)
			}
			if note := strings.Contains(rep.Text(), "--context KEY=VALUE"); note != (len(tc.wantUnset) > 0) {
				t.Errorf("Text() note = %v, want %v:\n%s", note, len(tc.wantUnset) > 0, rep.Text())
			}
		})
	}
}

func TestUnsetRequestKeys(t *testing.T) {
	p := MustParse("p", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{
		"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"},"DateGreaterThan":{"aws:CurrentTime":"2026-01-01"},"StringEquals":{"aws:username":"a"}}}]}`)
	for _, tc := range []struct {
		ctx  map[string][]string
		want []string
	}{
		{nil, []string{"aws:CurrentTime", "aws:SourceIp"}},
		{map[string][]string{"AWS:sourceip": {"10.0.0.1"}}, []string{"aws:CurrentTime"}},
		{map[string][]string{"aws:SourceIp": {"10.0.0.1"}, "aws:CurrentTime": {"2026-12-08T00:00:00Z"}}, nil},
	} {
		if got := UnsetRequestKeys([]*Policy{p}, tc.ctx); !slices.Equal(got, tc.want) {
			t.Errorf("UnsetRequestKeys(%v) = %q, want %q", tc.ctx, got, tc.want)
		}
	}
}
