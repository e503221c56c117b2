package profile

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/meridian-gateway/meridian/internal/topology"
)

const haiku = "anthropic.claude-3-haiku-20240307-v1:0"

func perSourceCatalog(t testing.TB) *Catalog {
	t.Helper()
	cfg, err := topology.Load("testdata/persource.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPerSourceDestinations pins Bedrock's per-source sets: the destination
// set is a function of (profile, source region), a peripheral source adds
// itself, and a source need not be a destination.
func TestPerSourceDestinations(t *testing.T) {
	t.Parallel()
	c := perSourceCatalog(t)
	tests := []struct {
		name, profile, source string
		want                  []string
		wantErr               error
		errHas                string
	}{
		{name: "us from us-east-2 reaches the three US regions", profile: "us." + haiku, source: "us-east-2",
			want: []string{"us-east-1", "us-east-2", "us-west-2"}},
		{name: "us from us-west-2 reaches only two", profile: "us." + haiku, source: "us-west-2",
			want: []string{"us-east-1", "us-west-2"}},
		{name: "peripheral ca-central-1 adds itself to the US core", profile: "us." + haiku, source: "ca-central-1",
			want: []string{"ca-central-1", "us-east-1", "us-east-2", "us-west-2"}},
		{name: "il-central-1 is a source of eu", profile: "eu." + haiku, source: "il-central-1",
			want: []string{"eu-central-1", "eu-west-1", "eu-west-3", "il-central-1"}},
		{name: "eu from eu-west-1 does not reach il-central-1", profile: "eu." + haiku, source: "eu-west-1",
			want: []string{"eu-central-1", "eu-west-1", "eu-west-3"}},
		{name: "us-gov from us-gov-east-1 goes only to us-gov-west-1 (derived)", profile: "us-gov." + haiku, source: "us-gov-east-1",
			want: []string{"us-gov-west-1"}},
		{name: "application profile keeps the per-source sets", profile: "haiku-claims", source: "us-west-2",
			want: []string{"us-east-1", "us-west-2"}},
		{name: "global keeps the derived union", profile: "global." + haiku, source: "us-west-2",
			want: []string{"ca-central-1", "eu-central-1", "eu-west-1", "eu-west-3", "il-central-1", "us-east-1", "us-east-2", "us-west-2"}},
		{name: "unlisted source in the geography is refused, naming the sources", profile: "us." + haiku, source: "us-gov-east-1",
			wantErr: ErrNotCallable, errHas: "ca-central-1, us-east-1, us-east-2, us-west-2"},
		{name: "source outside the geography", profile: "eu." + haiku, source: "us-east-1",
			wantErr: ErrNotCallable, errHas: "eu-central-1, eu-west-1, eu-west-3, il-central-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := c.Resolve(tc.source, tc.profile)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("Resolve(%s, %s) = %v, want %v naming %q", tc.source, tc.profile, err, tc.wantErr, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%s, %s) = %v", tc.source, tc.profile, err)
			}
			if d := cmp.Diff(tc.want, r.Destinations); d != "" {
				t.Errorf("destinations (-want +got):\n%s", d)
			}
		})
	}
}

// TestPerSourceCheckDestination: the destination refuses a forward whose
// source may not reach it, even when the region is in the profile's union.
func TestPerSourceCheckDestination(t *testing.T) {
	t.Parallel()
	c := perSourceCatalog(t)
	tests := []struct {
		profile, src, dst string
		ok                bool
	}{
		{"us." + haiku, "us-east-2", "us-east-2", true},
		{"us." + haiku, "us-west-2", "us-east-2", false}, // in the union, not in us-west-2's set
		{"us." + haiku, "us-west-2", "ca-central-1", false},
		{"us." + haiku, "ca-central-1", "ca-central-1", true},
		{"eu." + haiku, "il-central-1", "il-central-1", true},
		{"eu." + haiku, "eu-west-1", "il-central-1", false},
		{"us-gov." + haiku, "us-gov-east-1", "us-gov-west-1", true},
		{"us-gov." + haiku, "us-gov-east-1", "us-gov-east-1", false},
		{"haiku-claims", "us-west-2", "us-east-2", false},
		{"haiku-claims", "us-east-2", "us-east-2", true},
	}
	for _, tc := range tests {
		err := c.CheckDestination(tc.profile, tc.src, tc.dst)
		if (err == nil) != tc.ok {
			t.Errorf("CheckDestination(%s, %s -> %s) = %v, want ok=%v", tc.profile, tc.src, tc.dst, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrResidency) {
			t.Errorf("CheckDestination(%s, %s -> %s) = %v, want ErrResidency", tc.profile, tc.src, tc.dst, err)
		}
	}
}

// TestPerSourceRefusesLeavingGeography: a config built in code skips the
// file's validation, and New still refuses a set that leaves the
// profile's geography.
func TestPerSourceRefusesLeavingGeography(t *testing.T) {
	t.Parallel()
	for name, sets := range map[string]map[string][]string{
		"destination outside":   {"us-east-1": {"us-east-1", "eu-west-1"}},
		"source outside":        {"eu-west-1": {"us-east-1"}},
		"destination not hosts": {"us-east-1": {"us-gov-west-1"}},
		"empty":                 {},
	} {
		cfg, err := topology.Load("testdata/persource.yaml")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Profiles.System["us."+haiku] = topology.SystemProfile{Sources: sets}
		if _, err := New(cfg); !errors.Is(err, ErrResidency) {
			t.Errorf("%s: New = %v, want %v", name, err, ErrResidency)
		}
	}
}

// TestPerSourceDigest: per-source sets decide residency, so they change
// the digest; a topology without them keeps its former digest.
func TestPerSourceDigest(t *testing.T) {
	t.Parallel()
	cfg, err := topology.Load("testdata/persource.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := New(cfg)
	cfg.Profiles.System["us."+haiku].Sources["us-west-2"] = []string{"us-west-2"}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if a.ResidencyDigest() == b.ResidencyDigest() {
		t.Error("changing one source's set left the digest unchanged")
	}
}
