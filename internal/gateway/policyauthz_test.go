package gateway

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/policy"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/topology"
)

const authzTopology = `account: "111122223333"
geographies: { us: { name: US }, eu: { name: EU } }
regions:
  - { id: us-east-1, geography: us, location: { lat: 1, lon: 1 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" }
  - { id: us-east-2, geography: us, location: { lat: 1, lon: 1 }, listen: "127.0.0.1:3", link: "127.0.0.1:4" }
  - { id: us-west-2, geography: us, location: { lat: 1, lon: 1 }, listen: "127.0.0.1:5", link: "127.0.0.1:6" }
  - { id: eu-west-1, geography: eu, location: { lat: 1, lon: 1 }, listen: "127.0.0.1:7", link: "127.0.0.1:8" }
models: [ { id: m } ]
deployments:
  - { model: m, region: us-east-1, backend: { type: mock } }
  - { model: m, region: us-east-2, backend: { type: mock } }
  - { model: m, region: us-west-2, backend: { type: mock } }
  - { model: m, region: eu-west-1, backend: { type: mock } }
principals:
  - { id: geo, policies: [no-us-east-2] }
  - { id: global, policies: [aws-global] }
policies:
  no-us-east-2:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Action: bedrock:InvokeModel
        Resource: ["arn:aws:bedrock:*:111122223333:inference-profile/us.m", "arn:aws:bedrock:us-east-1::foundation-model/m", "arn:aws:bedrock:us-west-2::foundation-model/m"]
  # AWS's three-statement identity policy for global profiles
  # (https://docs.aws.amazon.com/bedrock/latest/userguide/global-cross-region-inference.html).
  aws-global:
    Version: "2012-10-17"
    Statement:
      - Sid: GrantGlobalCrisInferenceProfileRegionAccess
        Effect: Allow
        Action: bedrock:InvokeModel
        Resource: ["arn:aws:bedrock:us-east-1:111122223333:inference-profile/global.m"]
        Condition: { StringEquals: { "aws:RequestedRegion": us-east-1 } }
      - Sid: GrantGlobalCrisInferenceProfileInRegionModelAccess
        Effect: Allow
        Action: bedrock:InvokeModel
        Resource: ["arn:aws:bedrock:us-east-1::foundation-model/m"]
        Condition: { StringEquals: { "aws:RequestedRegion": us-east-1, "bedrock:InferenceProfileArn": "arn:aws:bedrock:us-east-1:111122223333:inference-profile/global.m" } }
      - Sid: GrantGlobalCrisInferenceProfileGlobalModelAccess
        Effect: Allow
        Action: bedrock:InvokeModel
        Resource: ["arn:aws:bedrock:::foundation-model/m"]
        Condition: { StringEquals: { "aws:RequestedRegion": unspecified, "bedrock:InferenceProfileArn": "arn:aws:bedrock:us-east-1:111122223333:inference-profile/global.m" } }
`

// TestAuthorizationModes: "filter" routes around a denied destination;
// "all-destinations" fails the call as Bedrock does and names the region.
// A global profile is authorized on the region-less model ARN.
func TestAuthorizationModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, mode, principal, profile string
		allowed                        []string
		errHas                         string
	}{
		{name: "filter skips the denied region", mode: "", principal: "geo", profile: "us.m", allowed: []string{"us-east-1", "us-west-2"}},
		{name: "all-destinations fails naming the region", mode: "all-destinations", principal: "geo", profile: "us.m",
			errHas: "arn:aws:bedrock:us-east-2::foundation-model/m (destination region us-east-2"},
		{name: "global identity policy serves every global destination", mode: "all-destinations", principal: "global", profile: "global.m",
			allowed: []string{"eu-west-1", "us-east-1", "us-east-2", "us-west-2"}},
		{name: "global identity policy, filter", mode: "filter", principal: "global", profile: "global.m",
			allowed: []string{"eu-west-1", "us-east-1", "us-east-2", "us-west-2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc := authzTopology
			if tc.mode != "" {
				doc = "authorization: " + tc.mode + "\n" + doc
			}
			a, cat, p := authzParts(t, doc, "authz.yaml")
			res, err := cat.Resolve("us-east-1", tc.profile)
			if err != nil {
				t.Fatal(err)
			}
			principal, _ := p.Principal(tc.principal)
			got, err := a.AuthorizeInvoke(AuthzInput{Principal: principal, Source: "us-east-1", Resolution: res, Now: time.Unix(1.7e9, 0)})
			if tc.errHas != "" {
				var e *inference.Error
				if !errors.As(err, &e) || e.Kind != inference.KindPermissionDenied || !strings.Contains(e.Message, tc.errHas) {
					t.Fatalf("AuthorizeInvoke = %v, %v; want permission denied naming %q", got, err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.allowed, got); d != "" {
				t.Errorf("allowed (-want +got):\n%s", d)
			}
		})
	}
}

// TestPerSourceChecks: the foundation-model checks are made for the
// destinations of the caller's source region only: us.…claude-3-haiku
// from us-west-2 reaches {us-east-1, us-west-2}, so a policy denying
// us-east-2 does not matter there, while from us-east-2 it removes
// us-east-2 (filter) or fails the call naming it (all-destinations).
func TestPerSourceChecks(t *testing.T) {
	t.Parallel()
	const haikuProfile = "us.anthropic.claude-3-haiku-20240307-v1:0"
	for _, tc := range []struct {
		source, mode string
		allowed      []string
		errHas       string
	}{
		{source: "us-west-2", mode: "all-destinations", allowed: []string{"us-east-1", "us-west-2"}},
		{source: "us-east-2", mode: "filter", allowed: []string{"us-east-1", "us-west-2"}},
		{source: "us-east-2", mode: "all-destinations", errHas: "destination region us-east-2"},
	} {
		cfg, err := topology.Load("../profile/testdata/persource.yaml")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Authorization = tc.mode
		cfg.Principals = append(cfg.Principals, topology.Principal{ID: "p", Policies: []string{"no-us-east-2"}})
		cfg.Policies = map[string]topology.PolicyDocument{"no-us-east-2": {JSON: []byte(`{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*"},
			{"Effect":"Deny","Action":"bedrock:InvokeModel","Resource":"arn:aws:bedrock:us-east-2::foundation-model/*"}]}`)}}
		a, cat, _ := authzPartsOf(t, cfg)
		res, err := cat.Resolve(tc.source, haikuProfile)
		if err != nil {
			t.Fatal(err)
		}
		got, err := a.AuthorizeInvoke(AuthzInput{Principal: auth.Principal{ID: "p"}, Source: tc.source, Resolution: res, Now: time.Unix(1.7e9, 0)})
		if tc.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("%s, %s: %v, %v; want an error naming %q", tc.source, tc.mode, got, err, tc.errHas)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s, %s: %v", tc.source, tc.mode, err)
		}
		if d := cmp.Diff(tc.allowed, got); d != "" {
			t.Errorf("%s, %s: allowed (-want +got):\n%s", tc.source, tc.mode, d)
		}
	}
}

// TestAuthorizeInvokeAllocs pins authorizing a profile whose destinations
// are all allowed: the invocation's destinations, nothing per destination
// (the catalog formatted their model ARNs) and no copy of the allowed
// regions (the resolution's, capped, are returned); an IPv4 source
// address goes into the context as the caller sent it.
func TestAuthorizeInvokeAllocs(t *testing.T) {
	a, cat, p := authzParts(t, authzTopology, "authz.yaml")
	res, err := cat.Resolve("us-east-1", "global.m")
	if err != nil {
		t.Fatal(err)
	}
	principal, _ := p.Principal("global")
	in := AuthzInput{Principal: principal, Source: "us-east-1", Resolution: res, SourceIP: "192.0.2.1", Now: time.Unix(1.7e9, 0)}
	allowed, err := a.AuthorizeInvoke(in)
	if err != nil || len(allowed) != len(res.Destinations) || cap(allowed) != len(allowed) {
		t.Fatalf("AuthorizeInvoke = %v (cap %d), %v; want every destination, capped", allowed, cap(allowed), err)
	}
	// A global profile's invocation also formats the model's ARN in the
	// source region and its region-less ARN: two more.
	if n := testing.AllocsPerRun(100, func() { a.AuthorizeInvoke(in) }); n != 3 {
		t.Errorf("AuthorizeInvoke: %v allocations, want 3", n)
	}
}

// BenchmarkAuthorizeInvoke is one invoke decision as the gateway makes it
// (the context filled, the policies evaluated), for a global profile.
func BenchmarkAuthorizeInvoke(b *testing.B) {
	a, cat, p := authzParts(b, authzTopology, "authz.yaml")
	res, err := cat.Resolve("us-east-1", "global.m")
	if err != nil {
		b.Fatal(err)
	}
	principal, _ := p.Principal("global")
	in := AuthzInput{Principal: principal, Source: "us-east-1", Resolution: res, SourceIP: "192.0.2.1", Now: time.Unix(1.7e9, 0)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.AuthorizeInvoke(in); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFillContextMatchesSet: the context fillContext builds (global keys
// added, tags set) is the one setting every key builds, with principal
// tags that differ only in case, request and resource tags, and an
// IPv4-mapped source address.
func TestFillContextMatchesSet(t *testing.T) {
	a := &PolicyAuthorizer{geoOf: map[string]string{"eu-west-1": "eu"}, account: "111122223333"}
	s := &subject{tags: [][2]string{{policy.PrefixPrincipalTag + "team", "a"}, {policy.PrefixPrincipalTag + "Team", "b"}, {policy.PrefixPrincipalTag + "cost", "c"}},
		arn: policy.PrincipalARN("aws", "111122223333", "alice")}
	in := AuthzInput{Principal: auth.Principal{ID: "p1", Username: "alice"}, Source: "eu-west-1", SourceIP: "::ffff:192.0.2.1",
		SecureTransport: true, Now: time.Unix(1.7e9, 0), RequestTags: map[string]string{"env": "prod"},
		Resolution: &profile.Resolution{Profile: &profile.Profile{Type: profile.Application, Tags: map[string]string{"owner": "x"}}}}
	got := &policy.Context{}
	a.fillContext(got, s, in, true)

	want := &policy.Context{}
	want.Set(policy.KeyUsername, in.Principal.Username)
	want.Set(policy.KeyUserID, in.Principal.ID)
	want.Set(policy.KeyPrincipalARN, "arn:aws:iam::111122223333:user/alice")
	want.Set(policy.KeyPrincipalAccount, "111122223333")
	want.Set(policy.KeyPrincipalType, "User")
	want.Set(policy.KeyPrincipalIsAWSService, "false")
	want.Set(policy.KeyViaAWSService, "false")
	for _, tag := range s.tags {
		want.Set(tag[0], tag[1])
	}
	want.SetCurrentTime(in.Now)
	want.Set(policy.KeySecureTransport, "true")
	want.Set(policy.KeySourceIP, "192.0.2.1")
	want.Set(policy.KeySourceRegion, in.Source)
	want.Set(policy.KeyGeography, "eu")
	for k, v := range in.RequestTags {
		want.Set(policy.PrefixRequestTag+k, v)
		want.Add(policy.KeyTagKeys, k)
	}
	for k, v := range in.Resolution.Profile.Tags {
		want.Set(policy.PrefixResourceTag+k, v)
	}
	type kv struct{ k, v string }
	collect := func(c *policy.Context) (out []kv) {
		for k, v := range c.All() {
			out = append(out, kv{k, v})
		}
		return out
	}
	if g, w := collect(got), collect(want); !slices.Equal(g, w) {
		t.Errorf("fillContext built\n%v\nwant\n%v", g, w)
	}
}

// authzParts builds what an authorization test needs from a topology
// document: the authorizer, the catalog and the authenticator.
func authzParts(t testing.TB, doc, file string) (*PolicyAuthorizer, *profile.Catalog, *auth.Authenticator) {
	t.Helper()
	cfg, err := topology.Parse([]byte(doc), file)
	if err != nil {
		t.Fatal(err)
	}
	return authzPartsOf(t, cfg)
}

// authzPartsOf is authzParts of a parsed topology.
func authzPartsOf(t testing.TB, cfg *topology.Config) (*PolicyAuthorizer, *profile.Catalog, *auth.Authenticator) {
	t.Helper()
	a, err := NewPolicyAuthorizer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := profile.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	authn, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a, cat, authn
}
