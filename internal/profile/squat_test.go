package profile

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// squatEU is what a rogue us-east-1 publishes as its own: honestEU's id,
// homed in us-east-1, copying a global profile.
var squatEU = with(honestEU, func(r *Record) { r.HomeRegion, r.CopyFrom = "us-east-1", "global.demo.chat-small" })

// euSources are the EU regions of testCatalog.
var euSources = []string{"eu-west-1", "eu-central-1", "eu-north-1"}

// assertNeverUS fails when cat lets a call of honestEU's id from an EU
// source run outside the EU, by its bare id or by an ARN naming the
// caller's region, or passes a residency check of it to a US region.
func assertNeverUS(t *testing.T, cat *Catalog) {
	t.Helper()
	for _, src := range euSources {
		for _, name := range []string{honestEU.ID, ApplicationProfileARN("aws", src, cat.Account(), honestEU.ID)} {
			res, err := cat.Resolve(src, name)
			if err != nil {
				continue
			}
			for _, d := range res.Destinations {
				if cat.Geography(d) != "eu" {
					t.Errorf("Resolve(%s) from %s may run in %s", name, src, d)
				}
			}
		}
		for _, d := range []string{"us-east-1", "us-west-2"} {
			if err := cat.CheckDestination(honestEU.ID, src, d); err == nil {
				t.Errorf("CheckDestination(%s, %s -> %s) passed", honestEU.ID, src, d)
			}
		}
	}
}

// TestSquatFailsClosed: a rogue region that publishes, as its own, a
// record with an existing EU profile's id never gets EU calls of that id
// served outside the EU, whichever record a node receives first (the
// review's finding: first wins, and the honest record was then refused as
// changing an immutable field, blaming the honest region).
func TestSquatFailsClosed(t *testing.T) {
	t.Parallel()
	base := testCatalog(t)
	now := regT0.Add(time.Second)
	squatTomb := with(squatEU, func(r *Record) { r.Deleted = true })
	tests := []struct {
		name  string
		steps []struct {
			peer string
			rec  Record
		}
		wantConflict bool
	}{
		{"squat first, then the home", []struct {
			peer string
			rec  Record
		}{{"us-east-1", squatEU}, {"eu-west-1", honestEU}}, true},
		{"home first, then the squat", []struct {
			peer string
			rec  Record
		}{{"eu-west-1", honestEU}, {"us-east-1", squatEU}}, true},
		{"only the squat (a fresh node)", []struct {
			peer string
			rec  Record
		}{{"us-east-1", squatEU}}, false},
		{"a squatting tombstone first", []struct {
			peer string
			rec  Record
		}{{"us-east-1", squatTomb}, {"eu-west-1", honestEU}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var reg *Registry
			var rejected []*RecordError
			for _, s := range tc.steps {
				var rej []*RecordError
				reg, _, rej = reg.MergeFrom(base, []Record{s.rec}, Origin{Peer: s.peer, Now: now})
				rejected = append(rejected, rej...)
			}
			cat, _ := reg.Catalog(base)
			assertNeverUS(t, cat)
			if !tc.wantConflict {
				if _, err := cat.Resolve("eu-west-1", honestEU.ID); !errors.Is(err, ErrNotCallable) {
					t.Errorf("Resolve from eu-west-1 of a record homed in us-east-1 = %v, want not callable", err)
				}
				return
			}
			for _, src := range euSources {
				if res, err := cat.Resolve(src, honestEU.ID); err == nil {
					t.Errorf("Resolve(%s) from %s = %v after two homes claimed it, want it withdrawn", honestEU.ID, src, res.Destinations)
				}
			}
			if len(rejected) != 1 || !errors.Is(rejected[0], ErrHomeConflict) || errors.Is(rejected[0], ErrImmutable) {
				t.Fatalf("rejected %v, want one home conflict", rejected)
			}
			if msg := rejected[0].Error(); !strings.Contains(msg, "eu-west-1") || !strings.Contains(msg, "us-east-1") {
				t.Errorf("the conflict %q does not name both regions", msg)
			}
			if got := reg.Conflicts()[honestEU.ID]; len(got) != 2 || got[0] != "eu-west-1" || got[1] != "us-east-1" {
				t.Errorf("Conflicts() = %v, want both homes", reg.Conflicts())
			}
			// A node of either home serves its own record; the others none.
			for local, want := range map[string]bool{"eu-west-1": reg.records[0].HomeRegion == "eu-west-1" && !reg.records[0].Deleted, "eu-central-1": false} {
				c, _ := reg.CatalogAt(base, now, local)
				assertNeverUS(t, c)
				if _, err := c.Resolve("eu-west-1", honestEU.ID); (err == nil) != want {
					t.Errorf("CatalogAt(local %s): Resolve from eu-west-1 = %v, want served %v", local, err, want)
				}
			}
		})
	}
}

// TestOwnSharedSetReplacesSquat: a replica of the home region that took
// the squat first (from the link) takes its own region's record from the
// replicas' shared set, and serves it.
func TestOwnSharedSetReplacesSquat(t *testing.T) {
	t.Parallel()
	base := testCatalog(t)
	now := regT0.Add(time.Second)
	reg, _, _ := (*Registry)(nil).MergeFrom(base, []Record{squatEU}, Origin{Peer: "us-east-1", Now: now})
	reg, changes, rejected := reg.MergeFrom(base, []Record{honestEU}, Origin{Peer: "eu-west-1", Own: true, Now: now})
	if len(rejected) != 0 || len(changes) != 1 || changes[0].Kind != ChangeReplaced {
		t.Fatalf("changes %+v, rejected %v; want the squat replaced", changes, rejected)
	}
	cat, _ := reg.CatalogAt(base, now, "eu-west-1")
	res, err := cat.Resolve("eu-west-1", honestEU.ID)
	if err != nil || strings.Join(res.Destinations, ",") != "eu-central-1,eu-west-1" {
		t.Fatalf("Resolve from eu-west-1 = %+v, %v; want the honest EU destinations", res, err)
	}
	// The squat's later republication is refused and changes nothing.
	next, changes, _ := reg.MergeFrom(base, []Record{squatEU}, Origin{Peer: "us-east-1", Now: now})
	if got, _ := next.Get(honestEU.ID); len(changes) != 0 || got.HomeRegion != "eu-west-1" {
		t.Errorf("after the squat again: changes %+v, held %+v", changes, got)
	}
}

// TestApplicationARNNamesHome: an API-created application profile's ARN
// names its home region; one naming another region (the caller's) is not
// its name, and a caller outside the home's geography cannot call it.
func TestApplicationARNNamesHome(t *testing.T) {
	t.Parallel()
	base := testCatalog(t)
	cat, _ := NewRegistry([]Record{honestEU}).Catalog(base)
	tests := []struct {
		source, name string
		want         error
	}{
		{"eu-west-1", honestEU.ID, nil},
		{"eu-west-1", ApplicationProfileARN("aws", "eu-west-1", base.Account(), honestEU.ID), nil},
		{"eu-central-1", honestEU.ID, nil},
		{"eu-central-1", ApplicationProfileARN("aws", "eu-central-1", base.Account(), honestEU.ID), ErrNotFound},
		{"eu-central-1", ApplicationProfileARN("aws", "eu-west-1", base.Account(), honestEU.ID), ErrNotCallable},
		{"us-east-1", honestEU.ID, ErrNotCallable},
	}
	for _, tc := range tests {
		if _, err := cat.Resolve(tc.source, tc.name); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("Resolve(%s, %s) = %v, want %v", tc.source, tc.name, err, tc.want)
		}
	}
	// A global copy homed in the EU is served to EU callers only.
	glob := with(honestEU, func(r *Record) { r.CopyFrom = "global.demo.chat-small" })
	cat, _ = NewRegistry([]Record{glob}).Catalog(base)
	if _, err := cat.Resolve("us-east-1", glob.ID); !errors.Is(err, ErrNotCallable) {
		t.Errorf("a global copy homed in eu-west-1, called from us-east-1: %v, want not callable", err)
	}
	if _, err := cat.Resolve("eu-north-1", glob.ID); err != nil {
		t.Errorf("a global copy homed in eu-west-1, called from eu-north-1: %v", err)
	}
}

// TestFutureRecordHeals is the trial's aftermath: every node, the home
// included, holds the 2030 forgery. It is not served; another region can
// neither replace it nor squat its id; the home's Delete writes a
// tombstone dated now, which every peer takes in its place.
func TestFutureRecordHeals(t *testing.T) {
	t.Parallel()
	base := testCatalog(t)
	now := regT0.Add(time.Hour)
	forged := with(honestEU, func(r *Record) {
		r.CopyFrom, r.UpdatedAt = "global.demo.chat-small", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	})
	home, peer := NewRegistry([]Record{forged}), NewRegistry([]Record{forged})
	for name, reg := range map[string]*Registry{"home": home, "peer": peer} {
		cat, skipped := reg.CatalogAt(base, now, "")
		if _, ok := cat.Get(forged.ID); ok || len(skipped) != 1 || !errors.Is(skipped[0], ErrFutureRecord) {
			t.Errorf("%s serves the forgery (skipped %v), want it quarantined", name, skipped)
		}
	}
	// The home republishes what it holds: nothing new.
	if next, changes, rejected := peer.MergeFrom(base, home.Records(), Origin{Peer: "eu-west-1", Now: now}); next != peer || len(changes)+len(rejected) != 0 {
		t.Errorf("the same record again: changes %+v, rejected %v", changes, rejected)
	}
	// A squat over the held record is refused.
	if next, _, rejected := peer.MergeFrom(base, []Record{squatEU}, Origin{Peer: "us-east-1", Now: now}); len(rejected) != 1 || !errors.Is(rejected[0], ErrHomeConflict) {
		t.Errorf("a squat over the held forgery: rejected %v, want a home conflict", rejected)
	} else if got := next.Records(); got[0].HomeRegion != "eu-west-1" {
		t.Errorf("the squat replaced the held record: %+v", got[0])
	}
	home, tomb, err := home.Delete(forged.ID, now)
	if err != nil || !tomb.UpdatedAt.Equal(now) {
		t.Fatalf("home Delete = %+v, %v; want a tombstone dated now", tomb, err)
	}
	if got := home.Records(); len(got) != 1 || !got[0].Deleted {
		t.Fatalf("home holds %+v after Delete, want the tombstone alone", got)
	}
	peer, changes, rejected := peer.MergeFrom(base, home.Records(), Origin{Peer: "eu-west-1", Now: now})
	if len(rejected) != 0 || len(changes) != 1 || changes[0].Kind != ChangeReplaced || !changes[0].Record.Deleted {
		t.Fatalf("peer merges the tombstone: changes %+v, rejected %v; want the forgery replaced", changes, rejected)
	}
	if got := peer.Records(); len(got) != 1 || !got[0].Deleted || !got[0].UpdatedAt.Equal(now) {
		t.Errorf("peer holds %+v, want the home's tombstone", got)
	}
}

// TestSharedOriginChecks: the replicas' shared set (Origin with the
// node's region and clock) gives no record of another home, none dated
// beyond the skew, none without a home.
func TestSharedOriginChecks(t *testing.T) {
	t.Parallel()
	base := testCatalog(t)
	now := regT0.Add(time.Second)
	from := Origin{Peer: "eu-west-1", Own: true, Now: now}
	tests := []struct {
		name string
		rec  Record
		want error
	}{
		{"another home's record", squatEU, ErrNotFromHome},
		{"dated 2030", with(honestEU, func(r *Record) { r.UpdatedAt = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }), ErrFutureRecord},
		{"no home", with(honestEU, func(r *Record) { r.HomeRegion, r.CopyFrom = "", "global.demo.chat-small" }), ErrInvalidRecord},
		{"its own region's record", honestEU, nil},
	}
	for _, tc := range tests {
		_, changes, rejected := (*Registry)(nil).MergeFrom(base, []Record{tc.rec}, from)
		switch {
		case tc.want == nil && (len(rejected) != 0 || len(changes) != 1):
			t.Errorf("%s: changes %+v, rejected %v; want it taken", tc.name, changes, rejected)
		case tc.want != nil && (len(changes) != 0 || len(rejected) != 1 || !errors.Is(rejected[0], tc.want)):
			t.Errorf("%s: changes %+v, rejected %v; want %v", tc.name, changes, rejected, tc.want)
		}
	}
	// A record without a home held from an earlier version is not served.
	cat, skipped := NewRegistry([]Record{with(honestEU, func(r *Record) { r.HomeRegion = "" })}).Catalog(base)
	if _, ok := cat.Get(honestEU.ID); ok || len(skipped) != 1 {
		t.Errorf("a held record without a home: served %v, skipped %v", ok, skipped)
	}
}
