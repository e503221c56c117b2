package profile

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var regT0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func draft(id, name, copyFrom, token string) Record {
	return Record{ID: id, Name: name, CopyFrom: copyFrom, HomeRegion: "eu-west-1", ClientRequestToken: token}
}

func TestRegistryCreate(t *testing.T) {
	t.Parallel()
	cat := testCatalog(t)
	first := draft("aaaaaaaaaaaa", "team-a", "eu.demo.chat-small", "tok-1")
	reg, _, created, err := (*Registry)(nil).Create(cat, first, regT0)
	if err != nil || !created {
		t.Fatalf("Create(first) = created %v, %v", created, err)
	}
	tests := []struct {
		name        string
		rec         Record
		wantErr     error
		wantCreated bool
		wantID      string
	}{
		{"new profile", draft("bbbbbbbbbbbb", "team-b", "eu.demo.chat-small", ""), nil, true, "bbbbbbbbbbbb"},
		{"model copy", draft("bbbbbbbbbbbb", "team-b", "demo.chat-small", ""), nil, true, "bbbbbbbbbbbb"},
		{"retry with the same token returns the first", draft("cccccccccccc", "team-a", "eu.demo.chat-small", "tok-1"), nil, false, "aaaaaaaaaaaa"},
		{"token reused for another name", draft("cccccccccccc", "team-c", "eu.demo.chat-small", "tok-1"), ErrTokenReused, false, "cccccccccccc"},
		{"name taken", draft("cccccccccccc", "team-a", "eu.demo.chat-small", ""), ErrNameTaken, false, "cccccccccccc"},
		{"copy of an application profile", draft("cccccccccccc", "team-c", "claims-eu", ""), ErrCopyApplication, false, "cccccccccccc"},
		{"copy of nothing", draft("cccccccccccc", "team-c", "nope", ""), ErrNotFound, false, "cccccccccccc"},
		{"us profile from the EU", draft("cccccccccccc", "team-c", "us.demo.chat-small", ""), ErrNotCallable, false, "cccccccccccc"},
		{"id of a system profile", draft("eu.demo.chat-small", "team-c", "eu.demo.chat-small", ""), ErrExists, false, "eu.demo.chat-small"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			next, got, created, err := reg.Create(cat, tc.rec, regT0.Add(time.Minute))
			if !errors.Is(err, tc.wantErr) || created != tc.wantCreated || got.ID != tc.wantID {
				t.Fatalf("Create(%+v) = %s created %v, %v; want %s created %v, %v", tc.rec, got.ID, created, err, tc.wantID, tc.wantCreated, tc.wantErr)
			}
			if !created {
				if next != reg {
					t.Errorf("Create(%+v) returned a new registry without creating", tc.rec)
				}
				return
			}
			if !got.CreatedAt.Equal(regT0.Add(time.Minute)) || !got.UpdatedAt.Equal(got.CreatedAt) || got.Tags != nil {
				t.Errorf("created record = %+v, want created and updated at t0+1m, nil tags", got)
			}
			if r, ok := next.Get(tc.wantID); !ok || r.Name != tc.rec.Name {
				t.Errorf("next.Get(%s) = %+v, %v", tc.wantID, r, ok)
			}
			if _, ok := reg.Get(tc.wantID); ok {
				t.Errorf("Create changed the registry it was called on")
			}
		})
	}
}

func TestRegistryDelete(t *testing.T) {
	t.Parallel()
	cat := testCatalog(t)
	reg, rec, _, err := (*Registry)(nil).Create(cat, draft("aaaaaaaaaaaa", "team-a", "eu.demo.chat-small", ""), regT0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		id          string
		now         time.Time
		wantErr     error
		wantUpdated time.Time
	}{
		{"later clock", rec.ID, regT0.Add(time.Second), nil, regT0.Add(time.Second)},
		// The tombstone must supersede the record on every node even when
		// this node's clock is behind the record's.
		{"clock behind the record", rec.ID, regT0.Add(-time.Minute), nil, regT0.Add(time.Millisecond)},
		// A record dated beyond the skew (a forgery an earlier version
		// took): the tombstone is dated now, which peers accept (a later
		// one they would refuse as future-dated) and which replaces it.
		{"record dated beyond the skew", rec.ID, regT0.Add(-time.Hour), nil, regT0.Add(-time.Hour)},
		{"same instant", rec.ID, regT0, nil, regT0.Add(time.Millisecond)},
		{"unknown id", "zzzzzzzzzzzz", regT0, ErrNoRecord, time.Time{}},
		{"topology profile", "claims-eu", regT0, ErrNoRecord, time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			next, tomb, err := reg.Delete(tc.id, tc.now)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Delete(%s) = %v, want %v", tc.id, err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if !tomb.Deleted || !tomb.UpdatedAt.Equal(tc.wantUpdated) {
				t.Errorf("Delete(%s, %v) tombstone = %+v, want deleted at %v", tc.id, tc.now, tomb, tc.wantUpdated)
			}
			if _, ok := next.Get(tc.id); ok {
				t.Errorf("Get(%s) after Delete found the record", tc.id)
			}
			if got := next.Records(); len(got) != 1 || !got[0].Deleted {
				t.Errorf("Records() after Delete = %+v, want the tombstone", got)
			}
			if _, _, err := next.Delete(tc.id, tc.now); !errors.Is(err, ErrNoRecord) {
				t.Errorf("second Delete(%s) = %v, want ErrNoRecord", tc.id, err)
			}
		})
	}
}

func TestRegistryMerge(t *testing.T) {
	t.Parallel()
	cat := testCatalog(t)
	a := Record{ID: "aaaaaaaaaaaa", Name: "a", CopyFrom: "eu.demo.chat-small", HomeRegion: "eu-west-1", CreatedAt: regT0, UpdatedAt: regT0}
	aDel := a
	aDel.Deleted, aDel.UpdatedAt = true, regT0.Add(time.Second)
	b := Record{ID: "bbbbbbbbbbbb", Name: "b", CopyFrom: "demo.chat-small", HomeRegion: "us-east-1", CreatedAt: regT0, UpdatedAt: regT0}
	tests := []struct {
		name         string
		local        []Record
		remote       []Record
		want         []Record
		changed      bool
		wantRejected []string
	}{
		{"new record", []Record{a}, []Record{b}, []Record{a, b}, true, nil},
		{"newer tombstone wins", []Record{a}, []Record{aDel}, []Record{aDel}, true, nil},
		{"older record loses", []Record{aDel}, []Record{a}, []Record{aDel}, false, nil},
		{"same records", []Record{a, b}, []Record{b, a}, []Record{a, b}, false, nil},
		{"lookalike id", nil, []Record{{ID: "eu.evil", CopyFrom: "global.demo.chat-small", UpdatedAt: regT0}}, []Record{}, false, []string{"eu.evil"}},
		{"malformed id", nil, []Record{{ID: "a b", CopyFrom: "eu.demo.chat-small"}}, []Record{}, false, []string{"a b"}},
		{"no copy source", nil, []Record{{ID: "cccccccccccc"}}, []Record{}, false, []string{"cccccccccccc"}},
		{"no id", nil, []Record{{CopyFrom: "eu.demo.chat-small"}}, []Record{}, false, []string{""}},
		{"good and bad", []Record{a}, []Record{b, {ID: "eu.evil", CopyFrom: "x"}}, []Record{a, b}, true, []string{"eu.evil"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := NewRegistry(tc.local)
			next, changed, rejected := reg.Merge(cat, tc.remote)
			var ids []string
			for _, e := range rejected {
				ids = append(ids, e.ID)
			}
			got := next.Records()
			if got == nil {
				got = []Record{}
			}
			if d := cmp.Diff(tc.want, got); d != "" || changed != tc.changed || !cmp.Equal(ids, tc.wantRejected) {
				t.Errorf("Merge(%v) changed %v rejected %q, want %v %q; records (-want +got):\n%s", tc.remote, changed, ids, tc.changed, tc.wantRejected, d)
			}
			if !changed && next != reg {
				t.Errorf("Merge without a change returned a new registry")
			}
		})
	}
}

func TestRegistryCatalog(t *testing.T) {
	t.Parallel()
	base := testCatalog(t)
	recs := []Record{
		{ID: "live", Name: "live", CopyFrom: "eu.demo.chat-small", HomeRegion: "eu-west-1", Tags: map[string]string{"team": "a"}, UpdatedAt: regT0},
		{ID: "gone", Name: "gone", CopyFrom: "eu.demo.chat-small", HomeRegion: "eu-west-1", UpdatedAt: regT0, Deleted: true},
		// A copy source another region's topology has and this one lacks.
		{ID: "elsewhere", Name: "elsewhere", CopyFrom: "apac.demo.chat-small", HomeRegion: "ap-south-1", UpdatedAt: regT0},
		// Clashes with the topology's own application profile.
		{ID: "claims-eu", Name: "dup", CopyFrom: "eu.demo.chat-small", HomeRegion: "eu-west-1", UpdatedAt: regT0},
	}
	cat, skipped := NewRegistry(recs).Catalog(base)
	var ids []string
	for _, e := range skipped {
		ids = append(ids, e.ID)
	}
	if want := []string{"claims-eu", "elsewhere"}; !cmp.Equal(ids, want) {
		t.Errorf("Catalog skipped %q, want %q", ids, want)
	}
	p, ok := cat.Get("live")
	if !ok || p.Type != Application || !cmp.Equal(p.Destinations, []string{"eu-central-1", "eu-west-1"}) || p.Tags["team"] != "a" {
		t.Errorf("Get(live) = %+v, %v; want an application profile with the eu destinations", p, ok)
	}
	for _, id := range []string{"gone", "elsewhere"} {
		if _, ok := cat.Get(id); ok {
			t.Errorf("Get(%s) found a profile, want none", id)
		}
	}
	if p, _ := cat.Get("claims-eu"); p.Tags["team"] != "claims" {
		t.Errorf("claims-eu = %+v; the topology's profile must stay", p)
	}
	if _, ok := base.Get("live"); ok {
		t.Errorf("Catalog changed its base")
	}
	// The same records in another order give the same catalog.
	again, _ := NewRegistry([]Record{recs[3], recs[2], recs[1], recs[0]}).Catalog(base)
	if again.ResidencyDigest() != cat.ResidencyDigest() || !cmp.Equal(profileIDs(again), profileIDs(cat)) {
		t.Errorf("Catalog depends on the order of the records")
	}
}

func profileIDs(c *Catalog) []string {
	var out []string
	for _, p := range c.All() {
		out = append(out, p.ID)
	}
	return out
}

func TestNilRegistry(t *testing.T) {
	t.Parallel()
	var r *Registry
	if r.Records() != nil {
		t.Errorf("nil Records() = %v", r.Records())
	}
	if _, ok := r.Get("x"); ok {
		t.Errorf("nil Get found a record")
	}
	base := testCatalog(t)
	if cat, skipped := r.Catalog(base); len(skipped) != 0 || len(cat.All()) != len(base.All()) {
		t.Errorf("nil Catalog = %d profiles, skipped %v; want base's %d", len(cat.All()), skipped, len(base.All()))
	}
}

func BenchmarkRegistryCatalog(b *testing.B) {
	base := testCatalog(b)
	recs := make([]Record, 500)
	for i := range recs {
		recs[i] = Record{ID: "app" + string(rune('a'+i%26)) + time.Duration(i).String(), CopyFrom: "eu.demo.chat-small", HomeRegion: "eu-west-1", UpdatedAt: regT0}
	}
	reg := NewRegistry(recs)
	b.ReportAllocs()
	for b.Loop() {
		reg.Catalog(base)
	}
}
