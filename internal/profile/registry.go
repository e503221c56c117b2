package profile

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Registry is the set of application profiles created through the
// control-plane API, with the tombstones of deleted ones: one [Record] per
// id, newest wins ([MergeRecords]). It is immutable: every change returns a
// new Registry, so that its holder can persist the change first and serve
// it after (a profile a client was told about survives a restart). A nil
// *Registry is empty. It is safe for concurrent use.
//
// A Registry holds records, not profiles: [Registry.Catalog] derives the
// profiles from a base catalog (the topology's), so that an application
// profile's destinations always come from the local topology's copy source,
// whatever a peer sent (invariant 1).
type Registry struct {
	records []Record // sorted by id, one per id
}

// NewRegistry returns a registry of recs (for each id the newest record).
func NewRegistry(recs []Record) *Registry {
	out, _ := MergeRecords(nil, recs)
	return &Registry{records: out}
}

// Records returns every record, tombstones included, sorted by id: what a
// node persists and publishes to its peers (anti-entropy). The slice is
// the caller's.
func (r *Registry) Records() []Record {
	if r == nil {
		return nil
	}
	return slices.Clone(r.records)
}

// Get returns the live (not deleted) record of id.
func (r *Registry) Get(id string) (Record, bool) {
	i, ok := r.index(id)
	if !ok || r.records[i].Deleted {
		return Record{}, false
	}
	return r.records[i], true
}

func (r *Registry) index(id string) (int, bool) {
	if r == nil {
		return 0, false
	}
	return slices.BinarySearchFunc(r.records, id, func(r Record, id string) int { return strings.Compare(r.ID, id) })
}

// Create adds rec, an application profile created in rec.HomeRegion, at
// now (its CreatedAt and UpdatedAt). cat is the catalog in force in that
// region: the copy source must resolve there to a system profile or a
// deployed model. When rec.ClientRequestToken was already used in the same
// home region for the same name and source, Create returns the earlier
// record, r itself and created=false (an idempotent retry).
//
// Errors: [ErrTokenReused], [ErrNameTaken], [ErrCopyApplication], or the
// copy source's resolution error (wrapping [ErrNotFound], [ErrNotCallable],
// [ErrInvalidARN], ...).
func (r *Registry) Create(cat *Catalog, rec Record, now time.Time) (next *Registry, out Record, created bool, err error) {
	for _, o := range r.all() {
		if rec.ClientRequestToken != "" && o.ClientRequestToken == rec.ClientRequestToken && o.HomeRegion == rec.HomeRegion {
			if o.Name != rec.Name || o.CopyFrom != rec.CopyFrom || o.Deleted {
				return r, rec, false, ErrTokenReused
			}
			return r, o, false, nil
		}
		if !o.Deleted && o.Name == rec.Name && o.HomeRegion == rec.HomeRegion {
			return r, rec, false, ErrNameTaken
		}
	}
	res, err := cat.Resolve(rec.HomeRegion, rec.CopyFrom)
	if err != nil {
		return r, rec, false, err
	}
	if res.Profile != nil && res.Profile.Type == Application {
		return r, rec, false, ErrCopyApplication
	}
	if _, err := cat.newApplication(Profile{ID: rec.ID, CopyFrom: rec.CopyFrom, HomeRegion: rec.HomeRegion}); err != nil {
		return r, rec, false, err
	}
	rec.CreatedAt, rec.UpdatedAt, rec.Deleted = now.UTC(), now.UTC(), false
	if len(rec.Tags) == 0 {
		rec.Tags = nil
	}
	merged, _ := MergeRecords(r.all(), []Record{rec})
	return &Registry{records: merged}, rec, true, nil
}

// Delete replaces id's live record with a tombstone dated now (or just
// after the record's last change, should now not be later: the tombstone
// must supersede it everywhere). It returns [ErrNoRecord] when id has no
// live record (a profile of the topology file, or none).
func (r *Registry) Delete(id string, now time.Time) (*Registry, Record, error) {
	cur, ok := r.Get(id)
	if !ok {
		return r, Record{}, ErrNoRecord
	}
	tomb := cur
	tomb.Deleted, tomb.Tags = true, maps.Clone(cur.Tags)
	tomb.UpdatedAt = now.UTC()
	if !tomb.UpdatedAt.After(cur.UpdatedAt) {
		tomb.UpdatedAt = cur.UpdatedAt.Add(time.Millisecond)
	}
	merged, _ := MergeRecords(r.all(), []Record{tomb})
	return &Registry{records: merged}, tomb, nil
}

// RecordError says why a record was not merged or not served.
type RecordError struct {
	ID  string
	Err error
}

func (e *RecordError) Error() string { return "application profile " + e.ID + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *RecordError) Unwrap() error { return e.Err }

// Merge is [Registry.MergeFrom] for the node's own sources (Origin{}):
// changed reports whether the result differs from r.
func (r *Registry) Merge(cat *Catalog, remote []Record) (next *Registry, changed bool, rejected []*RecordError) {
	next, changes, rejected := r.MergeFrom(cat, remote, Origin{})
	return next, len(changes) > 0, rejected
}

// MergeFrom applies records received from elsewhere (another region's
// published state, the replicas' shared store, a previous generation):
// for each id the newest record wins. A record is left out, and reported
// in rejected, when it fails [CheckRecord] against cat; when from is a
// peer and the record is not homed in the peer's region
// ([ErrNotFromHome]); when it is dated too far ahead of from.Now
// ([ErrFutureRecord]); or when it would change what never changes once a
// profile exists: its copy source, home region, name, creation time and
// request token, or revive a tombstone ([ErrImmutable], also reported
// for an older record that disagrees on those). A copy of a record
// already held, or an older version of it, is nothing new: neither a
// change nor a rejection. changes lists every record accepted, for the
// caller to log (invariant 1: nothing changes what a profile may serve
// without a trace).
func (r *Registry) MergeFrom(cat *Catalog, remote []Record, from Origin) (next *Registry, changes []Change, rejected []*RecordError) {
	accepted := map[string]Record{}
	replaced := map[string]bool{}
	current := func(id string) (Record, bool) {
		if rec, ok := accepted[id]; ok {
			return rec, true
		}
		if i, ok := r.index(id); ok {
			return r.records[i], true
		}
		return Record{}, false
	}
	for _, rec := range remote {
		cur, ok := current(rec.ID)
		if ok && sameRecord(cur, rec) {
			continue
		}
		if err := CheckRecord(cat, rec); err != nil {
			rejected = append(rejected, &RecordError{ID: rec.ID, Err: err})
			continue
		}
		if ok && futureDated(cur, from.Now) && checkFrom(rec, from) == nil {
			// The record held is dated later than any honest node dates
			// one, so it was taken before records were checked (a store
			// from an earlier version): its home region's record replaces
			// it, whatever the dates and fields.
			accepted[rec.ID], replaced[rec.ID] = rec, true
			continue
		}
		if ok && !rec.Newer(cur) {
			// An older version: harmless unless it disagrees on what
			// never changes, which only a forgery can.
			if err := checkImmutable(cur, rec); err != nil && !errors.Is(err, errRevive) {
				rejected = append(rejected, &RecordError{ID: rec.ID, Err: err})
			}
			continue
		}
		if err := checkFrom(rec, from); err != nil {
			if ok {
				// A relay that contradicts the record held is a forgery,
				// not a late copy: say so.
				if ierr := checkImmutable(cur, rec); ierr != nil {
					err = fmt.Errorf("%w; %w", err, ierr)
				}
			}
			rejected = append(rejected, &RecordError{ID: rec.ID, Err: err})
			continue
		}
		if ok {
			if err := checkImmutable(cur, rec); err != nil {
				rejected = append(rejected, &RecordError{ID: rec.ID, Err: err})
				continue
			}
		}
		accepted[rec.ID] = rec
	}
	if len(accepted) == 0 {
		return r, nil, rejected
	}
	recs := make([]Record, 0, len(accepted))
	for _, id := range slices.Sorted(maps.Keys(accepted)) {
		rec := accepted[id]
		var cur Record
		i, ok := r.index(id)
		if ok {
			cur = r.records[i]
		}
		c := changeOf(cur, ok, rec)
		if replaced[id] {
			c.Kind = ChangeReplaced
		}
		changes = append(changes, c)
		recs = append(recs, rec)
	}
	held := r.all()
	if len(replaced) > 0 {
		held = slices.DeleteFunc(slices.Clone(held), func(x Record) bool { return replaced[x.ID] })
	}
	merged, _ := MergeRecords(held, recs)
	return &Registry{records: merged}, changes, rejected
}

// futureDated reports whether r is dated later than now allows
// ([MaxRecordSkew]); never when now is zero.
func futureDated(r Record, now time.Time) bool {
	limit := now.Add(MaxRecordSkew)
	return !now.IsZero() && (r.UpdatedAt.After(limit) || r.CreatedAt.After(limit))
}

// sameRecord reports whether a and b are the same version of a record.
func sameRecord(a, b Record) bool {
	return a.ID == b.ID && a.Name == b.Name && a.CopyFrom == b.CopyFrom && a.Description == b.Description &&
		maps.Equal(a.Tags, b.Tags) && a.HomeRegion == b.HomeRegion && a.CreatedAt.Equal(b.CreatedAt) &&
		a.UpdatedAt.Equal(b.UpdatedAt) && a.ClientRequestToken == b.ClientRequestToken && a.Deleted == b.Deleted
}

// Catalog returns base with every live record added as an application
// profile. A record base cannot serve (its copy source is not in this
// topology, its id clashes with one of base's) is left out and reported in
// skipped; it stays in the registry, so a later topology may serve it.
func (r *Registry) Catalog(base *Catalog) (cat *Catalog, skipped []*RecordError) {
	out := base.clone()
	for _, rec := range r.all() {
		if rec.Deleted {
			continue
		}
		if rec.HomeRegion != "" && base.Geography(rec.HomeRegion) == "" {
			// Whatever its home region published is no longer trusted
			// once that region leaves the topology.
			skipped = append(skipped, &RecordError{ID: rec.ID, Err: fmt.Errorf("%w: %q", ErrHomeGone, rec.HomeRegion)})
			continue
		}
		p, err := out.newApplication(Profile{ID: rec.ID, CopyFrom: rec.CopyFrom, Description: rec.Description,
			Tags: rec.Tags, CreatedAt: rec.CreatedAt, HomeRegion: rec.HomeRegion})
		if err != nil {
			skipped = append(skipped, &RecordError{ID: rec.ID, Err: err})
			continue
		}
		if rec.HomeRegion != "" && !p.CallableFrom(rec.HomeRegion) {
			// Create resolves the copy source in the home region: a record
			// whose home could not call it (an EU region copying a us.
			// profile) did not come from that API (invariant 1).
			skipped = append(skipped, &RecordError{ID: rec.ID, Err: fmt.Errorf("%w: %s from %s", ErrHomeScope, rec.CopyFrom, rec.HomeRegion)})
			continue
		}
		out.add(p)
	}
	out.seal()
	return out, skipped
}

// all returns the records (nil for a nil registry); callers must not
// modify them.
func (r *Registry) all() []Record {
	if r == nil {
		return nil
	}
	return r.records
}
