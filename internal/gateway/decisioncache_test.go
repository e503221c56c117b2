package gateway

import (
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/profile"
)

// reuseTopology has principals whose policies read only fixed keys
// (reusable decisions) and one whose policy reads the caller's address
// and the time (evaluated on every request).
const reuseTopology = `account: "111122223333"
geographies: { us: { name: US } }
regions:
  - { id: us-east-1, geography: us, location: { lat: 1, lon: 1 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" }
  - { id: us-east-2, geography: us, location: { lat: 1, lon: 1 }, listen: "127.0.0.1:3", link: "127.0.0.1:4" }
  - { id: us-west-2, geography: us, location: { lat: 1, lon: 1 }, listen: "127.0.0.1:5", link: "127.0.0.1:6" }
models: [ { id: m } ]
deployments:
  - { model: m, region: us-east-1, backend: { type: mock } }
  - { model: m, region: us-east-2, backend: { type: mock } }
  - { model: m, region: us-west-2, backend: { type: mock } }
principals:
  - { id: all, policies: [us-anywhere] }
  - { id: tagged, policies: [own-team], tags: { team: red } }
  - { id: office, policies: [office-hours] }
  - { id: east, policies: [east-only] }
policies:
  east-only:
    Version: "2012-10-17"
    Statement:
      - { Effect: Allow, Action: "bedrock:Invoke*", Resource: ["arn:aws:bedrock:*:111122223333:inference-profile/us.*", "arn:aws:bedrock:us-east-*::foundation-model/*"] }
  us-anywhere:
    Version: "2012-10-17"
    Statement:
      - { Effect: Allow, Action: "bedrock:Invoke*", Resource: ["arn:aws:bedrock:*:111122223333:inference-profile/us.*", "arn:aws:bedrock:us-*::foundation-model/*"] }
  own-team:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Action: "bedrock:Invoke*"
        Resource: "*"
        Condition: { StringEquals: { "aws:PrincipalTag/team": red, "aws:RequestedRegion": [us-east-1, us-east-2, us-west-2] } }
  office-hours:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Action: "bedrock:Invoke*"
        Resource: "*"
        Condition: { IpAddress: { "aws:SourceIp": 192.0.2.0/24 }, DateLessThan: { "aws:CurrentTime": "2030-01-01T00:00:00Z" } }
`

func reuseFixture(t *testing.T) (*PolicyAuthorizer, *profile.Catalog, *auth.Authenticator) {
	t.Helper()
	return authzParts(t, reuseTopology, "reuse.yaml")
}

// TestReusableSubjects: a principal's decisions are reused only when its
// policies read no key that can differ between its requests.
func TestReusableSubjects(t *testing.T) {
	t.Parallel()
	a, _, _ := reuseFixture(t)
	for id, want := range map[string]bool{"all": true, "tagged": true, "east": true, "office": false} {
		if got := a.subjects[id].reusable; got != want {
			t.Errorf("subject %q: reusable = %v, want %v", id, got, want)
		}
	}
}

// TestReusedDecisionsAgree: whatever the order of the requests, the
// reusing authorizer answers each as the PolicyAuthorizer evaluates it:
// a decision reused from an earlier request never allows what the
// evaluation denies (a request from another address or later time, for
// a principal whose policy reads them), and a denial is never reused.
func TestReusedDecisionsAgree(t *testing.T) {
	t.Parallel()
	a, cat, authn := reuseFixture(t)
	r := reusingDecisions(a)
	if _, ok := r.(*reusingAuthorizer); !ok {
		t.Fatalf("reusingDecisions(%T) = %T, want a reusing authorizer", a, r)
	}
	inside, outside := time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	type req struct {
		principal, source, name, ip string
		stream                      bool
		now                         time.Time
	}
	reqs := []req{
		{"all", "us-east-1", "us.m", "192.0.2.1", false, inside},
		{"all", "us-east-1", "us.m", "198.51.100.1", false, outside},
		{"all", "us-east-2", "us.m", "192.0.2.1", true, inside},
		{"all", "us-east-1", "global.m", "192.0.2.1", false, inside}, // denied: not a us. profile
		{"tagged", "us-east-1", "us.m", "192.0.2.1", false, inside},
		{"east", "us-east-1", "us.m", "192.0.2.1", false, inside}, // allowed in two of three
		{"east", "us-west-2", "us.m", "192.0.2.1", true, inside},
		{"tagged", "us-east-1", "global.m", "192.0.2.1", false, inside},
		{"office", "us-east-1", "us.m", "192.0.2.1", false, inside},
		{"office", "us-east-1", "us.m", "198.51.100.1", false, inside}, // another address: denied
		{"office", "us-east-1", "us.m", "192.0.2.1", false, outside},   // too late: denied
		{"office", "us-east-1", "us.m", "192.0.2.7", false, inside},
		{"nobody", "us-east-1", "us.m", "192.0.2.1", false, inside},
	}
	for round := range 3 { // the first round fills the cache, the next reuse it
		for _, q := range reqs {
			res, err := cat.Resolve(q.source, q.name)
			if err != nil {
				t.Fatal(err)
			}
			p, ok := authn.Principal(q.principal)
			if !ok {
				p = auth.Principal{ID: q.principal}
			}
			in := AuthzInput{Principal: p, Source: q.source, Resolution: res, Stream: q.stream, SourceIP: q.ip, Now: q.now}
			want, wantErr := a.AuthorizeInvoke(in)
			got, gotErr := r.AuthorizeInvoke(in)
			if !slices.Equal(got, want) || (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
				t.Errorf("round %d, %+v: reused %v, %v; evaluated %v, %v", round, q, got, gotErr, want, wantErr)
			}
			// A reused answer is shared: capped, so that no append
			// writes into it. (A partial allow evaluated afresh is the
			// caller's own.)
			if round > 0 && gotErr == nil && cap(got) != len(got) {
				t.Errorf("round %d, %+v: allowed %v with room to append (cap %d)", round, q, got, cap(got))
			}
		}
	}
}

// TestReusedDecisionFollowsTheResolution: a resolution under the same
// profile ARN with other destinations (a catalog that changed) is
// evaluated again, not allowed from the decision of the old one.
func TestReusedDecisionFollowsTheResolution(t *testing.T) {
	t.Parallel()
	a, cat, authn := reuseFixture(t)
	r := reusingDecisions(a)
	res, err := cat.Resolve("us-east-1", "us.m")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := authn.Principal("all")
	if _, err := r.AuthorizeInvoke(AuthzInput{Principal: p, Source: "us-east-1", Resolution: res}); err != nil {
		t.Fatal(err)
	}
	changed := *res
	changed.Destinations = append(slices.Clone(res.Destinations), "eu-west-1") // outside what us-anywhere allows
	in := AuthzInput{Principal: p, Source: "us-east-1", Resolution: &changed}
	want, _ := a.AuthorizeInvoke(in)
	got, err := r.AuthorizeInvoke(in)
	if err != nil || !slices.Equal(got, want) || slices.Contains(got, "eu-west-1") {
		t.Errorf("changed resolution: %v, %v; want %v (eu-west-1 not allowed)", got, err, want)
	}
}

// TestReusedDecisionAllocs: a reused decision allocates nothing (the
// evaluation: 3 for a global profile, TestAuthorizeInvokeAllocs), allowed
// in every destination or in some.
func TestReusedDecisionAllocs(t *testing.T) {
	a, cat, authn := reuseFixture(t)
	r := reusingDecisions(a)
	res, err := cat.Resolve("us-east-1", "us.m")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"all", "east"} {
		p, _ := authn.Principal(id)
		in := AuthzInput{Principal: p, Source: "us-east-1", Resolution: res, SourceIP: "192.0.2.1", Now: time.Unix(1.7e9, 0)}
		if _, err := r.AuthorizeInvoke(in); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { r.AuthorizeInvoke(in) }); n != 0 {
			t.Errorf("%s: reused AuthorizeInvoke: %v allocations, want 0", id, n)
		}
	}
}

// BenchmarkAuthorizeInvokeReused is BenchmarkAuthorizeInvoke's decision
// reused.
func BenchmarkAuthorizeInvokeReused(b *testing.B) {
	a, cat, authn := authzParts(b, authzTopology, "authz.yaml")
	res, _ := cat.Resolve("us-east-1", "global.m")
	p, _ := authn.Principal("global")
	r := reusingDecisions(a)
	in := AuthzInput{Principal: p, Source: "us-east-1", Resolution: res, SourceIP: "192.0.2.1", Now: time.Unix(1.7e9, 0)}
	b.ReportAllocs()
	for b.Loop() {
		r.AuthorizeInvoke(in)
	}
}

// TestReusedDecisionsBounded: past maxDecisions kept answers the cache
// starts over, so it stays bounded, answers stay right, and a decision
// made after it filled is reused again (entries of deleted application
// profiles cannot keep reuse away until a reload).
func TestReusedDecisionsBounded(t *testing.T) {
	t.Parallel()
	a, cat, authn := reuseFixture(t)
	r := reusingDecisions(a).(*reusingAuthorizer)
	res, err := cat.Resolve("us-east-1", "us.m")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := authn.Principal("all")
	for i := range maxDecisions + 10 {
		p.Username = "user-" + strconv.Itoa(i) // a key of its own
		got, err := r.AuthorizeInvoke(AuthzInput{Principal: p, Source: "us-east-1", Resolution: res})
		if err != nil || !slices.Equal(got, res.Destinations) {
			t.Fatalf("request %d: %v, %v; want %v", i, got, err, res.Destinations)
		}
	}
	if n := r.allowed.n.Load(); n > maxDecisions {
		t.Errorf("%d decisions kept, want at most %d", n, maxDecisions)
	}
	key := decisionKey{principal: p.ID, username: p.Username, source: "us-east-1", profileARN: res.ProfileARN, model: res.Model}
	if _, ok := r.allowed.allowed(&key, res); !ok {
		t.Error("the last decision, made after the cache filled, is not kept for reuse")
	}
}

// TestReusedDecisionsConcurrent: requests deciding at once (run with
// -race) get the answers a fresh evaluation gives.
func TestReusedDecisionsConcurrent(t *testing.T) {
	t.Parallel()
	a, cat, authn := reuseFixture(t)
	r := reusingDecisions(a)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				id := []string{"all", "east", "office", "tagged"}[(g+i)%4]
				source := []string{"us-east-1", "us-west-2"}[i%2]
				res, err := cat.Resolve(source, "us.m")
				if err != nil {
					t.Error(err)
					return
				}
				p, _ := authn.Principal(id)
				in := AuthzInput{Principal: p, Source: source, Resolution: res, Stream: i%3 == 0, SourceIP: "192.0.2.1", Now: time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)}
				want, wantErr := a.AuthorizeInvoke(in)
				got, gotErr := r.AuthorizeInvoke(in)
				if !slices.Equal(got, want) || (gotErr == nil) != (wantErr == nil) {
					t.Errorf("%s from %s: reused %v, %v; evaluated %v, %v", id, source, got, gotErr, want, wantErr)
					return
				}
			}
		}()
	}
	wg.Wait()
}
