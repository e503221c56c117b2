package profile

import (
	"errors"
	"testing"
	"time"
)

// honestEU is an application profile created in eu-west-1 as a copy of
// the EU profile: what a rogue region tries to redirect.
var honestEU = Record{ID: "t88elxdjb8zs", Name: "claims-team-eu", CopyFrom: "eu.demo.chat-small", HomeRegion: "eu-west-1",
	Tags: map[string]string{"team": "claims"}, CreatedAt: regT0, UpdatedAt: regT0}

func with(r Record, f func(*Record)) Record {
	r.Tags = map[string]string{"team": "claims"}
	f(&r)
	return r
}

// TestMergeFromPeer: a peer's record is accepted only from the profile's
// home region, never dated too far ahead, never changing what is immutable.
func TestMergeFromPeer(t *testing.T) {
	t.Parallel()
	cat := testCatalog(t)
	now := regT0.Add(time.Hour)
	tomb := with(honestEU, func(r *Record) { r.Deleted, r.UpdatedAt = true, regT0.Add(time.Minute) })
	forged := func(f func(*Record)) Record {
		return with(honestEU, func(r *Record) {
			r.CopyFrom, r.UpdatedAt = "global.demo.chat-large", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			f(r)
		})
	}
	tests := []struct {
		name     string
		local    []Record
		peer     string
		remote   Record
		wantKind ChangeKind // "" for no change
		wantErr  error      // nil for no rejection
	}{
		{"home creates", nil, "eu-west-1", honestEU, ChangeCreated, nil},
		{"home deletes", []Record{honestEU}, "eu-west-1", tomb, ChangeDeleted, nil},
		{"home retags", []Record{honestEU}, "eu-west-1", with(honestEU, func(r *Record) { r.Tags["team"], r.UpdatedAt = "fraud", regT0.Add(time.Minute) }), ChangeUpdated, nil},
		{"home, a minute ahead of this clock", []Record{honestEU}, "eu-west-1", with(honestEU, func(r *Record) { r.Description, r.UpdatedAt = "d", now.Add(time.Minute) }), ChangeUpdated, nil},
		{"relayed by another region", nil, "eu-central-1", honestEU, "", ErrNotFromHome},
		{"relayed copy of the record held", []Record{honestEU}, "us-east-1", honestEU, "", nil},
		{"older copy from home", []Record{tomb}, "eu-west-1", honestEU, "", nil},
		{"forged by another region", []Record{honestEU}, "us-east-1", forged(func(*Record) {}), "", ErrImmutable},
		{"forged by another region, unknown to this node", nil, "us-east-1", forged(func(*Record) {}), "", ErrNotFromHome},
		{"another region claims it as its own", []Record{honestEU}, "us-east-1", forged(func(r *Record) { r.HomeRegion, r.UpdatedAt = "us-east-1", now }), "", ErrHomeConflict},
		{"home claims an id held as another region's", []Record{with(honestEU, func(r *Record) { r.HomeRegion = "us-east-1" })}, "eu-west-1", honestEU, "", ErrHomeConflict},
		{"home changes the copy source", []Record{honestEU}, "eu-west-1", forged(func(r *Record) { r.UpdatedAt = now }), "", ErrImmutable},
		{"home changes the creation time", []Record{honestEU}, "eu-west-1", with(honestEU, func(r *Record) { r.CreatedAt, r.UpdatedAt = regT0.Add(time.Second), now }), "", ErrImmutable},
		{"home dates a change in the future", []Record{honestEU}, "eu-west-1", with(honestEU, func(r *Record) { r.Tags["team"], r.UpdatedAt = "x", now.Add(time.Hour) }), "", ErrFutureRecord},
		{"home dates a creation in the future", nil, "eu-west-1", with(honestEU, func(r *Record) { r.CreatedAt, r.UpdatedAt = now.Add(time.Hour), now.Add(time.Hour) }), "", ErrFutureRecord},
		{"home revives a deleted profile", []Record{tomb}, "eu-west-1", with(honestEU, func(r *Record) { r.UpdatedAt = now }), "", ErrImmutable},
		{"older record with another copy source", []Record{tomb}, "eu-west-1", forged(func(r *Record) { r.UpdatedAt = regT0 }), "", ErrImmutable},
		// A store holding the review's forgery, taken before records were
		// checked: its home region's record replaces it; no one else's.
		{"home replaces a held record dated 2030", []Record{forged(func(*Record) {})}, "eu-west-1", honestEU, ChangeReplaced, nil},
		{"another region cannot replace it", []Record{forged(func(*Record) {})}, "us-east-1", honestEU, "", ErrImmutable},
		{"nor with a record of its own", []Record{forged(func(*Record) {})}, "us-east-1", with(honestEU, func(r *Record) { r.HomeRegion = "us-east-1" }), "", ErrHomeConflict},
		{"home deletes it with a tombstone dated now", []Record{forged(func(*Record) {})}, "eu-west-1", with(forged(func(*Record) {}), func(r *Record) { r.Deleted, r.UpdatedAt = true, now }), ChangeReplaced, nil},
		{"no home region", nil, "", with(honestEU, func(r *Record) { r.HomeRegion = "" }), "", ErrInvalidRecord},
		{"expired tombstone", nil, "eu-west-1", with(tomb, func(r *Record) { r.UpdatedAt = now.Add(-TombstoneRetention - time.Second) }), "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := NewRegistry(tc.local)
			next, changes, rejected := reg.MergeFrom(cat, []Record{tc.remote}, Origin{Peer: tc.peer, Now: now})
			var kind ChangeKind
			if len(changes) == 1 {
				kind = changes[0].Kind
			}
			if len(changes) > 1 || kind != tc.wantKind {
				t.Errorf("changes = %+v, want one of kind %q", changes, tc.wantKind)
			}
			switch {
			case tc.wantErr == nil && len(rejected) > 0:
				t.Errorf("rejected %v, want none", rejected)
			case tc.wantErr != nil && (len(rejected) != 1 || !errors.Is(rejected[0], tc.wantErr)):
				t.Errorf("rejected %v, want %v", rejected, tc.wantErr)
			}
			conflict := errors.Is(tc.wantErr, ErrHomeConflict)
			if tc.wantKind == "" && next != reg && !conflict {
				t.Errorf("a merge without a change returned a new registry")
			}
			if _, withdrawn := next.Conflicts()[tc.remote.ID]; withdrawn != conflict {
				t.Errorf("conflicts = %v, want the id withdrawn: %v", next.Conflicts(), conflict)
			}
		})
	}
}

// TestMergeFromChangeFields: an accepted update names what it changed.
func TestMergeFromChangeFields(t *testing.T) {
	t.Parallel()
	reg := NewRegistry([]Record{honestEU})
	upd := with(honestEU, func(r *Record) { r.Tags["team"], r.UpdatedAt = "fraud", regT0.Add(time.Minute) })
	_, changes, _ := reg.MergeFrom(testCatalog(t), []Record{upd}, Origin{Peer: "eu-west-1", Now: regT0})
	if len(changes) != 1 || len(changes[0].Fields) != 2 || changes[0].Fields[0] != "tags" || changes[0].Fields[1] != "updatedAt" {
		t.Errorf("changes = %+v, want one update of tags and updatedAt", changes)
	}
}

// TestRegistryCatalogHome: a record whose home region left the topology,
// or whose home could not have called its copy source, is not served.
func TestRegistryCatalogHome(t *testing.T) {
	t.Parallel()
	base := testCatalog(t)
	tests := []struct {
		name    string
		rec     Record
		wantErr error
	}{
		{"home in the topology", honestEU, nil},
		{"global copy from a global geography", with(honestEU, func(r *Record) { r.CopyFrom = "global.demo.chat-small" }), nil},
		{"home left the topology", with(honestEU, func(r *Record) { r.HomeRegion = "ap-south-1" }), ErrHomeGone},
		{"EU home copying a US profile", with(honestEU, func(r *Record) { r.CopyFrom = "us.demo.chat-small" }), ErrHomeScope},
		{"global copy from a geography without global routing", with(honestEU, func(r *Record) { r.CopyFrom, r.HomeRegion = "global.demo.chat-small", "us-gov-west-1" }), ErrHomeScope},
		{"model not deployed in the home region", with(honestEU, func(r *Record) { r.CopyFrom = "demo.chat-large" }), ErrHomeScope},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cat, skipped := NewRegistry([]Record{tc.rec}).Catalog(base)
			_, served := cat.Get(tc.rec.ID)
			if tc.wantErr == nil {
				if !served || len(skipped) != 0 {
					t.Errorf("served %v, skipped %v; want served", served, skipped)
				}
				return
			}
			if served || len(skipped) != 1 || !errors.Is(skipped[0], tc.wantErr) {
				t.Errorf("served %v, skipped %v; want not served, %v", served, skipped, tc.wantErr)
			}
		})
	}
}

// TestForgedRecordStaysInEU is invariant 1 for application profiles:
// once a node holds an application profile copying eu.demo.chat-small,
// no record any peer sends (from any region, with any copy source, home,
// dates or tombstone state) makes a call of it from an EU source resolve
// to, or pass the residency check of, a region outside the EU.
func TestForgedRecordStaysInEU(t *testing.T) {
	t.Parallel()
	base := testCatalog(t)
	now := regT0.Add(time.Hour)
	peers := []string{"us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "eu-north-1", "us-gov-west-1", "ap-south-1"}
	sources := []string{"global.demo.chat-large", "global.demo.chat-small", "us.demo.chat-small", "demo.chat-small",
		"arn:aws:bedrock:eu-west-1:111122223333:inference-profile/global.demo.chat-small"}
	dates := []time.Time{regT0, now, now.Add(MaxRecordSkew), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, peer := range peers {
		for _, src := range sources {
			for _, home := range []string{"eu-west-1", peer, "us-east-1"} {
				for _, at := range dates {
					forged := with(honestEU, func(r *Record) { r.CopyFrom, r.HomeRegion, r.UpdatedAt, r.CreatedAt = src, home, at, at })
					reg, _, _ := NewRegistry([]Record{honestEU}).MergeFrom(base, []Record{forged}, Origin{Peer: peer, Now: now})
					cat, _ := reg.Catalog(base)
					for _, source := range []string{"eu-west-1", "eu-central-1", "eu-north-1"} {
						res, err := cat.Resolve(source, honestEU.ID)
						if err != nil {
							// Withdrawn (two homes claim it): fails closed.
							if _, conflicted := reg.Conflicts()[honestEU.ID]; !conflicted {
								t.Fatalf("peer %s, copy %s, home %s, at %s: the honest profile no longer resolves from %s: %v", peer, src, home, at, source, err)
							}
							continue
						}
						for _, d := range res.Destinations {
							if base.Geography(d) != "eu" {
								t.Fatalf("peer %s, copy %s, home %s, at %s: called from %s, may run in %s", peer, src, home, at, source, d)
							}
						}
						for _, d := range []string{"us-east-1", "us-west-2", "us-gov-west-1"} {
							if err := cat.CheckDestination(honestEU.ID, source, d); err == nil {
								t.Fatalf("peer %s, copy %s, home %s, at %s: CheckDestination(%s -> %s) = %v, want a residency refusal", peer, src, home, at, source, d, err)
							}
						}
					}
				}
			}
		}
	}
}
