package profile

import (
	"testing"
)

// TestResolveViews: a resolution from the catalog's views carries what
// formatting on every call would give: the profile's ARN from the source,
// its destinations from the source, and the model's ARN in each
// destination; in another partition ModelARN formats. It holds for a
// catalog rebuilt by WithApplication too.
func TestResolveViews(t *testing.T) {
	t.Parallel()
	c := testCatalog(t)
	c2, _, err := c.WithApplication(Profile{ID: "added-later", CopyFrom: "eu.demo.chat-small", HomeRegion: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, cat := range []*Catalog{c, c2} {
		n := 0
		for _, p := range cat.All() {
			for _, s := range p.Sources {
				r, err := cat.Resolve(s, p.ID)
				if err != nil {
					t.Fatalf("Resolve(%s, %s): %v", s, p.ID, err)
				}
				checkResolution(t, r, p.ARN(cat.partition, s, cat.account), p.DestinationsFrom(s), cat.partition)
				n++
			}
		}
		for model, regions := range cat.hosts {
			for _, s := range regions {
				r, err := cat.Resolve(s, model)
				if err != nil {
					t.Fatalf("Resolve(%s, %s): %v", s, model, err)
				}
				checkResolution(t, r, FoundationModelARN(cat.partition, s, model), []string{s}, cat.partition)
			}
		}
		if n == 0 {
			t.Fatal("no profile resolved")
		}
	}
	if _, err := c2.Resolve("eu-west-1", "added-later"); err != nil {
		t.Errorf("Resolve of the added application profile: %v", err)
	}
}

func checkResolution(t *testing.T, r *Resolution, arn string, dst []string, partition string) {
	t.Helper()
	if r.ProfileARN != arn {
		t.Errorf("%s: ProfileARN %q, want %q", r.ProfileID, r.ProfileARN, arn)
	}
	if len(r.Destinations) != len(dst) {
		t.Fatalf("%s: destinations %v, want %v", r.ProfileID, r.Destinations, dst)
	}
	for i, d := range dst {
		if r.Destinations[i] != d {
			t.Errorf("%s: destinations %v, want %v", r.ProfileID, r.Destinations, dst)
		}
		if got, want := r.ModelARN(partition, i), FoundationModelARN(partition, d, r.Model); got != want {
			t.Errorf("%s: ModelARN(%d) %q, want %q", r.ProfileID, i, got, want)
		}
		if got, want := r.ModelARN("aws-cn", i), FoundationModelARN("aws-cn", d, r.Model); got != want {
			t.Errorf("%s: ModelARN(aws-cn, %d) %q, want %q", r.ProfileID, i, got, want)
		}
	}
}

// TestResolveAllocs pins resolving a profile or model id: the resolution
// itself, nothing else (its destinations and ARNs come from the catalog's
// views), and ModelARN in the catalog's partition formats nothing.
func TestResolveAllocs(t *testing.T) {
	c := testCatalog(t)
	for _, tc := range []struct{ source, name string }{
		{"eu-west-1", "eu.demo.chat-small"}, {"eu-north-1", "claims-eu"}, {"us-east-1", "demo.chat-small"}, {"eu-central-1", "large-pinned"},
	} {
		if n := testing.AllocsPerRun(100, func() { c.Resolve(tc.source, tc.name) }); n != 1 {
			t.Errorf("Resolve(%s, %s): %v allocations, want 1", tc.source, tc.name, n)
		}
		r, err := c.Resolve(tc.source, tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { r.ModelARN(c.partition, 0) }); n != 0 {
			t.Errorf("ModelARN of %s: %v allocations, want 0", tc.name, n)
		}
	}
}

// TestApplicationProfilesShareARNs: an application profile shares its
// destination lists with the profile it copies, and so the ARNs formatted
// for them: a thousand application profiles cost no thousand copies of a
// geography's ARNs. A resolution whose destinations were replaced formats
// its ARNs rather than read ones formatted for another list.
func TestApplicationProfilesShareARNs(t *testing.T) {
	t.Parallel()
	c := testCatalog(t)
	for i := range 3 {
		var err error
		if c, _, err = c.WithApplication(Profile{ID: "app-" + string(rune('a'+i)), CopyFrom: "eu.demo.chat-small", HomeRegion: "eu-west-1"}); err != nil {
			t.Fatal(err)
		}
	}
	base, err := c.Resolve("eu-west-1", "eu.demo.chat-small")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"app-a", "app-b", "app-c"} {
		r, err := c.Resolve("eu-west-1", id)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.modelARNs) == 0 || &r.modelARNs[0] != &base.modelARNs[0] {
			t.Errorf("%s formats its own ARNs", id)
		}
	}
	if len(base.Destinations) < 2 {
		t.Fatalf("eu.demo.chat-small has %d destinations; the test needs two", len(base.Destinations))
	}
	swapped := *base
	swapped.Destinations = append([]string(nil), base.Destinations...)
	swapped.Destinations[0], swapped.Destinations[len(swapped.Destinations)-1] = swapped.Destinations[len(swapped.Destinations)-1], swapped.Destinations[0]
	for i, d := range swapped.Destinations {
		if got, want := swapped.ModelARN(c.partition, i), FoundationModelARN(c.partition, d, swapped.Model); got != want {
			t.Errorf("ModelARN(%d) of replaced destinations = %q, want %q", i, got, want)
		}
	}
}
