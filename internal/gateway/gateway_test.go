package gateway

import (
	"errors"
	"github.com/meridian-gateway/meridian/internal/telemetry"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/routing"
	"github.com/meridian-gateway/meridian/internal/topology"
)

func TestOutcomeOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want routing.OutcomeKind
	}{
		{"success", nil, routing.Success},
		{"throttled", &inference.Error{Kind: inference.KindThrottled, RetryAfter: 5 * time.Second}, routing.Throttled},
		{"timeout", &inference.Error{Kind: inference.KindTimeout}, routing.Timeout},
		{"unreachable", &inference.Error{Kind: inference.KindUnavailable}, routing.ConnectError},
		{"upstream 503", &inference.Error{Kind: inference.KindUnavailable, UpstreamStatus: 503}, routing.ServerError},
		{"upstream 500", &inference.Error{Kind: inference.KindUpstream}, routing.ServerError},
		{"bad request is not the deployment's fault", &inference.Error{Kind: inference.KindInvalidRequest}, routing.Canceled},
		{"denied is not the deployment's fault", &inference.Error{Kind: inference.KindPermissionDenied}, routing.Canceled},
		{"plain error", errors.New("boom"), routing.ServerError},
	}
	for _, tc := range tests {
		o := outcomeOf(tc.err, time.Millisecond)
		if o.Kind != tc.want {
			t.Errorf("%s: outcomeOf = %v, want %v", tc.name, o.Kind, tc.want)
		}
		if tc.want == routing.Throttled && o.RetryAfter != 5*time.Second {
			t.Errorf("%s: Retry-After %v lost", tc.name, o.RetryAfter)
		}
	}
}

func TestExhausted(t *testing.T) {
	t.Parallel()
	throttled := &inference.Error{Kind: inference.KindThrottled, RetryAfter: 3 * time.Second}
	e := exhausted("eu.m", []Attempt{{Region: "eu-west-1", Outcome: "throttled"}, {Region: "eu-central-1", Outcome: "throttled"}}, throttled)
	if e.Kind != inference.KindThrottled || e.RetryAfter != 3*time.Second || !strings.Contains(e.Message, "eu-west-1 throttled, eu-central-1 throttled") {
		t.Errorf("all throttled: %+v", e)
	}
	e = exhausted("eu.m", []Attempt{{Region: "eu-west-1", Outcome: "throttled"}, {Region: "eu-central-1", Outcome: "unavailable"}}, &inference.Error{Kind: inference.KindUnavailable})
	if e.Kind != inference.KindUnavailable {
		t.Errorf("mixed failures: kind %v, want unavailable (503)", e.Kind)
	}
	e = exhausted("eu.m", []Attempt{{Region: "eu-west-1", Outcome: "timeout"}, {Region: "eu-central-1", Outcome: "timeout"}}, &inference.Error{Kind: inference.KindTimeout})
	if e.Kind != inference.KindTimeout || e.Kind.Status() != 408 {
		t.Errorf("all timed out: kind %v, want timeout (408)", e.Kind)
	}
}

func TestReasonLabelIsBounded(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"local": "local", "failover:throttled:eu-west-1": "failover", "headroom": "headroom"} {
		if got := telemetry.RouteLabel(in); got != want {
			t.Errorf("RouteLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDecideSeesRequestTags: a create call's tags reach the policy context
// as aws:RequestTag/* and aws:TagKeys.
func TestDecideSeesRequestTags(t *testing.T) {
	t.Parallel()
	cfg, err := topology.Parse([]byte(`account: "111122223333"
geographies: { eu: { name: EU } }
regions: [ { id: eu-west-1, geography: eu, location: { lat: 1, lon: 1 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" } ]
models: [ { id: m } ]
deployments: [ { model: m, region: eu-west-1, backend: { type: mock } } ]
principals: [ { id: p, policies: [tagged-creates] } ]
policies:
  tagged-creates:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Action: bedrock:CreateInferenceProfile
        Resource: "*"
        Condition:
          StringEquals: { "aws:RequestTag/team": claims }
          ForAllValues:StringEquals: { "aws:TagKeys": [team, cost-center] }
`), "tags.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewPolicyAuthorizer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := auth.New(cfg)
	principal, _ := p.Principal("p")
	arn := "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/x"
	tests := []struct {
		tags map[string]string
		ok   bool
	}{
		{map[string]string{"team": "claims"}, true},
		{map[string]string{"team": "claims", "cost-center": "4711"}, true},
		{map[string]string{"team": "fraud"}, false},
		{map[string]string{"team": "claims", "owner": "me"}, false},
		{nil, false},
	}
	for _, tc := range tests {
		err := a.Decide(AuthzInput{Principal: principal, Source: "eu-west-1", Now: time.Now(), RequestTags: tc.tags}, "bedrock:CreateInferenceProfile", arn)
		if (err == nil) != tc.ok {
			t.Errorf("create with tags %v: %v, want allowed=%v", tc.tags, err, tc.ok)
		}
	}
}
