package gateway

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/profile"
)

// appAuthzTopology has the guardrail of docs/policies.md that disables
// global cross-Region inference, and application profiles copying a
// global and a geographic profile.
const appAuthzTopology = `account: "111122223333"
geographies: { us: { name: US }, eu: { name: EU } }
regions:
  - { id: us-east-1, geography: us, location: { lat: 1, lon: 1 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" }
  - { id: eu-west-1, geography: eu, location: { lat: 1, lon: 1 }, listen: "127.0.0.1:3", link: "127.0.0.1:4" }
  - { id: eu-central-1, geography: eu, location: { lat: 1, lon: 1 }, listen: "127.0.0.1:5", link: "127.0.0.1:6" }
models: [ { id: m }, { id: large } ]
deployments:
  - { model: m, region: us-east-1, backend: { type: mock } }
  - { model: m, region: eu-west-1, backend: { type: mock } }
  - { model: m, region: eu-central-1, backend: { type: mock } }
  - { model: large, region: us-east-1, backend: { type: mock } }
profiles:
  application:
    - { id: sneaky, copy_from: global.large }
    - { id: team-eu, copy_from: eu.m, tags: { team: claims } }
    - { id: pinned, copy_from: m }
principals:
  - { id: admin, policies: [all] }
  - { id: app-only, policies: [app-only] }
  - { id: app-and-copied, policies: [app-and-copied] }
policies:
  all:
    Version: "2012-10-17"
    Statement: [ { Effect: Allow, Action: "*", Resource: "*" } ]
  # The application profile and the models, but not the profile it copies.
  app-only:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Action: bedrock:InvokeModel
        Resource: ["arn:aws:bedrock:*:111122223333:application-inference-profile/team-eu", "arn:aws:bedrock:*::foundation-model/m"]
  # The documented shape: the application profile, the profile it copies
  # and the models.
  app-and-copied:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Action: bedrock:InvokeModel
        Resource: ["arn:aws:bedrock:*:111122223333:application-inference-profile/team-eu", "arn:aws:bedrock:*:111122223333:inference-profile/eu.m", "arn:aws:bedrock:*::foundation-model/m"]
      # The application profile's tags describe it, not the profile it
      # copies: this Deny must not reach the copied profile's check.
      - Effect: Deny
        Action: bedrock:InvokeModel
        Resource: "arn:aws:bedrock:*:111122223333:inference-profile/*"
        Condition: { StringEquals: { "aws:ResourceTag/team": claims } }
guardrails:
  - name: no-global
    policy:
      Version: "2012-10-17"
      Statement:
        - { Sid: FullAccess, Effect: Allow, Action: "*", Resource: "*" }
        - Sid: DenyGlobalCRIS
          Effect: Deny
          Action: "bedrock:*"
          Resource: "*"
          Condition:
            StringEquals: { "aws:RequestedRegion": unspecified }
            ArnLike: { "bedrock:InferenceProfileArn": "arn:aws:bedrock:*:*:inference-profile/global.*" }
`

// TestApplicationProfileAuthorizedAsItsCopy: a call through an application
// profile is authorized on the application profile and, as Bedrock
// requires, on the profile it copies and its models, so the guardrail that
// disables global routing refuses an application profile copying a
// global one, created in the topology or at runtime.
func TestApplicationProfileAuthorizedAsItsCopy(t *testing.T) {
	t.Parallel()
	a, cat, authn := authzParts(t, appAuthzTopology, "app.yaml")
	created, _, err := cat.WithApplication(profile.Profile{ID: "bypass-global", HomeRegion: "eu-west-1",
		CopyFrom: "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/global.large"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, principal, profile string
		allowed                  []string
		deniedOn                 string // the ARN the denial names
	}{
		{"global profile refused", "admin", "global.large", nil, "arn:aws:bedrock:::foundation-model/large"},
		{"application copy of it refused", "admin", "sneaky", nil, "arn:aws:bedrock:::foundation-model/large"},
		{"runtime application copy of it refused", "admin", "bypass-global", nil, "arn:aws:bedrock:::foundation-model/large"},
		{"geographic copy served", "admin", "team-eu", []string{"eu-central-1", "eu-west-1"}, ""},
		{"model copy served", "admin", "pinned", []string{"eu-west-1"}, ""},
		{"copied profile not allowed", "app-only", "team-eu", nil, "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.m"},
		{"application profile, copied profile and models allowed", "app-and-copied", "team-eu", []string{"eu-central-1", "eu-west-1"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := created.Resolve("eu-west-1", tc.profile)
			if err != nil {
				t.Fatal(err)
			}
			principal, ok := authn.Principal(tc.principal)
			if !ok {
				t.Fatalf("no principal %s", tc.principal)
			}
			in := AuthzInput{Principal: principal, Source: "eu-west-1", Resolution: res, Now: time.Unix(1.7e9, 0)}
			for _, authz := range []Authorizer{a, reusingDecisions(a)} {
				for range 2 { // the second decision may be a reused one
					got, err := authz.AuthorizeInvoke(in)
					if tc.deniedOn != "" {
						var e *inference.Error
						if !errors.As(err, &e) || e.Kind != inference.KindPermissionDenied || !strings.HasSuffix(e.Message, " "+tc.deniedOn) {
							t.Fatalf("%T: AuthorizeInvoke = %v, %v; want permission denied on %s", authz, got, err, tc.deniedOn)
						}
						continue
					}
					if err != nil {
						t.Fatalf("%T: %v", authz, err)
					}
					if d := cmp.Diff(tc.allowed, got); d != "" {
						t.Errorf("%T: allowed (-want +got):\n%s", authz, d)
					}
				}
			}
		})
	}
}

// TestApplicationProfileWithoutPolicies: a topology without policies still
// allows every call through an application profile.
func TestApplicationProfileWithoutPolicies(t *testing.T) {
	t.Parallel()
	doc := appAuthzTopology[:strings.Index(appAuthzTopology, "principals:")]
	a, cat, _ := authzParts(t, doc, "open.yaml")
	res, err := cat.Resolve("eu-west-1", "sneaky")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := a.AuthorizeInvoke(AuthzInput{Principal: auth.Principal{ID: "anyone"}, Source: "eu-west-1", Resolution: res}); err != nil || len(got) != 1 {
		t.Errorf("AuthorizeInvoke = %v, %v; want the global destination", got, err)
	}
}

// BenchmarkAuthorizeInvokeApplication is one invoke decision for an
// application profile copying a geographic profile: its own checks and
// those of the profile it copies.
func BenchmarkAuthorizeInvokeApplication(b *testing.B) {
	a, cat, authn := authzParts(b, appAuthzTopology, "app.yaml")
	res, err := cat.Resolve("eu-west-1", "team-eu")
	if err != nil {
		b.Fatal(err)
	}
	principal, _ := authn.Principal("app-and-copied")
	in := AuthzInput{Principal: principal, Source: "eu-west-1", Resolution: res, SourceIP: "192.0.2.1", Now: time.Unix(1.7e9, 0)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.AuthorizeInvoke(in); err != nil {
			b.Fatal(err)
		}
	}
}
