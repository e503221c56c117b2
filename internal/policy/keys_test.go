package policy

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestContextKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		identity   []string
		guardrails []string
		want       []string
	}{
		{name: "none", identity: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:*","Resource":"*"}]}`}},
		{
			name: "condition keys",
			identity: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:*","Resource":"*",
				"Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}]}`},
			want: []string{"aws:SourceIp", "aws:CurrentTime"},
		},
		{
			name: "variables in resources and values",
			identity: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:*",
				"Resource":"arn:aws:bedrock:${aws:RequestedRegion}:*:inference-profile/*",
				"Condition":{"StringEquals":{"aws:PrincipalTag/team":"${aws:username}"}}}]}`},
			want: []string{"aws:RequestedRegion", "aws:PrincipalTag/team", "aws:username"},
		},
		{
			name: "guardrail first, once whatever the case",
			identity: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:*","Resource":"*",
				"Condition":{"Bool":{"AWS:SECURETRANSPORT":"true"}}}]}`},
			guardrails: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},
				{"Effect":"Deny","Action":"bedrock:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`},
			want: []string{"aws:SecureTransport"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parse := func(docs []string) []*Policy {
				var ps []*Policy
				for i, d := range docs {
					p, err := Parse(tc.name+string(rune('a'+i)), []byte(d))
					if err != nil {
						t.Fatal(err)
					}
					ps = append(ps, p)
				}
				return ps
			}
			got := NewSet(parse(tc.identity), parse(tc.guardrails)).ContextKeys()
			slices.Sort(got)
			slices.Sort(tc.want)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ContextKeys() (-want +got):\n%s", diff)
			}
		})
	}
	if got := (*Set)(nil).ContextKeys(); got != nil {
		t.Errorf("nil Set: ContextKeys() = %v, want nil", got)
	}
}
