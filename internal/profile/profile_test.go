package profile

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/meridian-gateway/meridian/internal/topology"
)

func testCatalog(t testing.TB) *Catalog {
	t.Helper()
	cfg, err := topology.Load("testdata/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDerivation(t *testing.T) {
	t.Parallel()
	c := testCatalog(t)
	tests := []struct {
		id           string
		typ          Type
		destinations []string
		sources      []string
	}{
		{"us.demo.chat-small", SystemDefined, []string{"us-east-1", "us-west-2"}, []string{"us-east-1", "us-west-2"}},
		// eu-north-1 hosts nothing but may call the eu profile.
		{"eu.demo.chat-small", SystemDefined, []string{"eu-central-1", "eu-west-1"}, []string{"eu-central-1", "eu-north-1", "eu-west-1"}},
		{"gov.demo.chat-small", SystemDefined, []string{"us-gov-west-1"}, []string{"us-gov-west-1"}},
		// gov opted out of global routing: neither destination nor source.
		{"global.demo.chat-small", SystemDefined, []string{"eu-central-1", "eu-west-1", "us-east-1", "us-west-2"},
			[]string{"eu-central-1", "eu-north-1", "eu-west-1", "us-east-1", "us-west-2"}},
		{"eu.demo.chat-large", SystemDefined, []string{"eu-central-1"}, []string{"eu-central-1", "eu-north-1", "eu-west-1"}},
		{"global.demo.chat-large", SystemDefined, []string{"eu-central-1"}, []string{"eu-central-1", "eu-north-1", "eu-west-1", "us-east-1", "us-west-2"}},
		{"claims-eu", Application, []string{"eu-central-1", "eu-west-1"}, []string{"eu-central-1", "eu-north-1", "eu-west-1"}},
		{"large-pinned", Application, []string{"eu-central-1"}, []string{"eu-central-1"}},
	}
	for _, tc := range tests {
		p, ok := c.Get(tc.id)
		if !ok {
			t.Errorf("Get(%q) not found", tc.id)
			continue
		}
		if p.Type != tc.typ {
			t.Errorf("%s type = %v, want %v", tc.id, p.Type, tc.typ)
		}
		if d := cmp.Diff(tc.destinations, p.Destinations); d != "" {
			t.Errorf("%s destinations (-want +got):\n%s", tc.id, d)
		}
		if d := cmp.Diff(tc.sources, p.Sources); d != "" {
			t.Errorf("%s sources (-want +got):\n%s", tc.id, d)
		}
	}
	if _, ok := c.Get("us.demo.chat-large"); ok {
		t.Error("us.demo.chat-large exists, but no US region hosts chat-large")
	}
	if got := len(c.All()); got != 8 {
		t.Errorf("len(All()) = %d, want 8", got)
	}
	if p, _ := c.Get("claims-eu"); p.Tags["team"] != "claims" {
		t.Errorf("claims-eu tags = %v, want team=claims kept", p.Tags)
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	c := testCatalog(t)
	tests := []struct {
		name, source, in string
		wantID           string
		wantDst          []string
		wantARN          string
		wantErr          error
		errHas           string
	}{
		{name: "geo profile id", source: "eu-west-1", in: "eu.demo.chat-small", wantID: "eu.demo.chat-small",
			wantDst: []string{"eu-central-1", "eu-west-1"}, wantARN: "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.demo.chat-small"},
		{name: "profile ARN", source: "eu-west-1", in: "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.demo.chat-small",
			wantID: "eu.demo.chat-small", wantDst: []string{"eu-central-1", "eu-west-1"}},
		{name: "global from us", source: "us-west-2", in: "global.demo.chat-small", wantID: "global.demo.chat-small",
			wantDst: []string{"eu-central-1", "eu-west-1", "us-east-1", "us-west-2"}},
		{name: "bare model in hosting region", source: "us-east-1", in: "demo.chat-small", wantID: "demo.chat-small",
			wantDst: []string{"us-east-1"}, wantARN: "arn:aws:bedrock:us-east-1::foundation-model/demo.chat-small"},
		{name: "foundation model ARN", source: "us-east-1", in: "arn:aws:bedrock:us-east-1::foundation-model/demo.chat-small",
			wantID: "demo.chat-small", wantDst: []string{"us-east-1"}},
		{name: "application profile", source: "eu-north-1", in: "claims-eu", wantID: "claims-eu",
			wantDst: []string{"eu-central-1", "eu-west-1"}, wantARN: "arn:aws:bedrock:eu-north-1:111122223333:application-inference-profile/claims-eu"},
		{name: "application profile ARN", source: "eu-west-1", in: "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/claims-eu", wantID: "claims-eu",
			wantDst: []string{"eu-central-1", "eu-west-1"}},
		{name: "us profile from eu", source: "eu-west-1", in: "us.demo.chat-small", wantErr: ErrNotCallable,
			errHas: "can only be invoked from a source region in geography us"},
		{name: "global from opted-out geography", source: "us-gov-west-1", in: "global.demo.chat-small", wantErr: ErrNotCallable,
			errHas: "does not take part in global routing"},
		{name: "bare model not hosted", source: "eu-west-1", in: "demo.chat-large", wantErr: ErrNotCallable,
			errHas: "use an inference profile: eu.demo.chat-large, global.demo.chat-large"},
		{name: "unknown", source: "eu-west-1", in: "eu.gpt-9", wantErr: ErrNotFound},
		{name: "ARN of other account", source: "eu-west-1", in: "arn:aws:bedrock:eu-west-1:999999999999:inference-profile/eu.demo.chat-small", wantErr: ErrNotFound},
		{name: "ARN of other region", source: "eu-west-1", in: "arn:aws:bedrock:eu-central-1:111122223333:inference-profile/eu.demo.chat-small", wantErr: ErrNotCallable},
		{name: "ARN type mismatch", source: "eu-west-1", in: "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/claims-eu", wantErr: ErrNotFound},
		{name: "malformed ARN", source: "eu-west-1", in: "arn:aws:bedrock", wantErr: ErrInvalidARN},
		{name: "single-region app profile elsewhere", source: "eu-west-1", in: "large-pinned", wantErr: ErrNotCallable},
		{name: "single-region app profile at home", source: "eu-central-1", in: "large-pinned", wantID: "large-pinned", wantDst: []string{"eu-central-1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := c.Resolve(tc.source, tc.in)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Resolve(%q, %q) error = %v, want %v", tc.source, tc.in, err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.errHas) {
					t.Errorf("error %q does not say %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%q, %q) = %v", tc.source, tc.in, err)
			}
			if r.ProfileID != tc.wantID {
				t.Errorf("ProfileID = %q, want %q", r.ProfileID, tc.wantID)
			}
			if d := cmp.Diff(tc.wantDst, r.Destinations); d != "" {
				t.Errorf("destinations (-want +got):\n%s", d)
			}
			if tc.wantARN != "" && r.ProfileARN != tc.wantARN {
				t.Errorf("ProfileARN = %q, want %q", r.ProfileARN, tc.wantARN)
			}
		})
	}
}

func TestCheckDestination(t *testing.T) {
	t.Parallel()
	c := testCatalog(t)
	tests := []struct {
		profile, src, dst string
		ok                bool
	}{
		{"eu.demo.chat-small", "eu-west-1", "eu-central-1", true},
		{"eu.demo.chat-small", "eu-west-1", "us-east-1", false},
		{"eu.demo.chat-small", "us-east-1", "eu-west-1", false},
		{"global.demo.chat-small", "us-east-1", "eu-west-1", true},
		{"global.demo.chat-small", "us-east-1", "us-gov-west-1", false},
		{"claims-eu", "eu-north-1", "eu-west-1", true},
		{"claims-eu", "eu-north-1", "us-west-2", false},
		{"demo.chat-small", "us-east-1", "us-east-1", true},
		{"demo.chat-small", "us-east-1", "us-west-2", false},
		{"large-pinned", "eu-central-1", "eu-central-1", true},
		{"nope", "eu-west-1", "eu-west-1", false},
	}
	for _, tc := range tests {
		err := c.CheckDestination(tc.profile, tc.src, tc.dst)
		if (err == nil) != tc.ok {
			t.Errorf("CheckDestination(%s, %s -> %s) = %v, want ok=%v", tc.profile, tc.src, tc.dst, err, tc.ok)
		}
	}
}

func TestWithApplication(t *testing.T) {
	t.Parallel()
	c := testCatalog(t)
	c2, p, err := c.WithApplication(Profile{ID: "fraud-eu", CopyFrom: "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.demo.chat-small", HomeRegion: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get("fraud-eu"); ok {
		t.Error("original catalog changed")
	}
	if got := p.ARN("aws", "eu-central-1", "111122223333"); got != "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/fraud-eu" {
		t.Errorf("ARN = %s", got)
	}
	if _, _, err := c2.WithApplication(Profile{ID: "fraud-eu", CopyFrom: "eu.demo.chat-small"}); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate = %v, want ErrExists", err)
	}
	if _, _, err := c2.WithApplication(Profile{ID: "x", CopyFrom: "eu.nope"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown source = %v, want ErrNotFound", err)
	}
	c3, ok := c2.WithoutApplication("fraud-eu")
	if !ok {
		t.Fatal("WithoutApplication = false")
	}
	if _, ok := c3.Get("fraud-eu"); ok {
		t.Error("still present after removal")
	}
	if _, ok := c3.WithoutApplication("eu.demo.chat-small"); ok {
		t.Error("removed a system profile")
	}
}

func TestParseARN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want ARN
		ok   bool
	}{
		{"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0",
			ARN{"aws", "bedrock", "us-east-1", "123456789012", "inference-profile", "us.anthropic.claude-3-5-sonnet-20240620-v1:0"}, true},
		{"arn:aws:bedrock:eu-west-1::foundation-model/demo.chat-small", ARN{"aws", "bedrock", "eu-west-1", "", "foundation-model", "demo.chat-small"}, true},
		{"arn:aws-us-gov:bedrock:us-gov-west-1:1:application-inference-profile/a/b", ARN{"aws-us-gov", "bedrock", "us-gov-west-1", "1", "application-inference-profile", "a/b"}, true},
		{"arn:aws:bedrock:us-east-1:1:inference-profile", ARN{}, false},
		{"arn::bedrock:r:a:t/i", ARN{}, false},
		{"urn:aws:bedrock:r:a:t/i", ARN{}, false},
		{"arn:aws:bedrock:r", ARN{}, false},
	}
	for _, tc := range tests {
		got, err := ParseARN(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseARN(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && got != tc.want {
			t.Errorf("ParseARN(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if tc.ok && got.String() != tc.in {
			t.Errorf("ParseARN(%q).String() = %q", tc.in, got.String())
		}
	}
}

// TestParseARNAllocs: a well-formed ARN is parsed into substrings of it,
// without an allocation (the link's destination parses one per forward).
func TestParseARNAllocs(t *testing.T) {
	arn := "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.demo.chat-small"
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseARN(arn) }); n != 0 {
		t.Errorf("ParseARN allocates %v times, want 0", n)
	}
}

func FuzzParseARN(f *testing.F) {
	f.Add("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0")
	f.Add("arn:aws:bedrock:eu-west-1::foundation-model/demo.chat-small")
	f.Add("arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/claims-eu")
	f.Add("arn:::::/")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseARN(s)
		if err != nil {
			return
		}
		if a.String() != s {
			t.Fatalf("ParseARN(%q).String() = %q, want round trip", s, a.String())
		}
		b, err := ParseARN(a.String())
		if err != nil || b != a {
			t.Fatalf("re-parse of %q = %+v, %v; want %+v", a.String(), b, err, a)
		}
	})
}

func ExampleCatalog_Resolve() {
	cfg, _ := topology.Load("testdata/topology.yaml")
	c, _ := New(cfg)
	r, _ := c.Resolve("eu-west-1", "eu.demo.chat-small")
	fmt.Println(r.Destinations)
	_, err := c.Resolve("eu-west-1", "us.demo.chat-small")
	fmt.Println(errors.Is(err, ErrNotCallable))
	// Output:
	// [eu-central-1 eu-west-1]
	// true
}

func TestResidencyDigest(t *testing.T) {
	t.Parallel()
	cfg, err := topology.Load("testdata/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c1, _ := New(cfg)
	c2, _ := New(cfg)
	if c1.ResidencyDigest() != c2.ResidencyDigest() {
		t.Fatal("the same topology gives different digests")
	}
	// Moving a region to another geography, adding a profile, or opting a
	// geography out of global routing each change it.
	moved := *cfg
	moved.Regions = append([]topology.Region(nil), cfg.Regions...)
	moved.Regions[4].Geography = "us"
	c3, _ := New(&moved)
	c4, _, _ := c1.WithApplication(Profile{ID: "x", CopyFrom: "eu.demo.chat-small"})
	f := false
	optOut := *cfg
	optOut.Geographies = map[string]topology.Geography{"us": {}, "eu": {Global: &f}, "gov": {Global: &f}}
	c5, _ := New(&optOut)
	for name, c := range map[string]*Catalog{"moved region": c3, "new profile": c4, "global opt-out": c5} {
		if c.ResidencyDigest() == c1.ResidencyDigest() {
			t.Errorf("%s: digest unchanged", name)
		}
	}
}
