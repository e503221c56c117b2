package profile

import (
	"encoding/json"
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
	// conflicts are the ids two home regions claimed (ErrHomeConflict),
	// with the homes, sorted: withdrawn from service (CatalogAt). Its
	// holder persists it with the records (NewRegistryWithConflicts), so
	// that a restarted node does not serve the record it kept before the
	// second claimant publishes again.
	conflicts map[string][]string
}

// with returns a registry of recs with r's conflicts.
func (r *Registry) with(recs []Record) *Registry {
	out := &Registry{records: recs}
	if r != nil {
		out.conflicts = r.conflicts
	}
	return out
}

// Conflicts returns the ids two or more home regions claimed, each with
// the homes, sorted: they are not served (but a node serves the record
// homed in its own region, see [Registry.CatalogAt]).
func (r *Registry) Conflicts() map[string][]string {
	if r == nil {
		return nil
	}
	return maps.Clone(r.conflicts)
}

// NewRegistryWithConflicts returns a registry of recs with the conflicts
// a registry reported ([Registry.Conflicts]) before it was persisted: an
// id claimed by fewer than two homes is left out.
func NewRegistryWithConflicts(recs []Record, conflicts map[string][]string) *Registry {
	out := NewRegistry(recs)
	for id, homes := range conflicts {
		homes = slices.Compact(slices.Sorted(slices.Values(homes)))
		if len(homes) < 2 {
			continue
		}
		if out.conflicts == nil {
			out.conflicts = map[string][]string{}
		}
		out.conflicts[id] = homes
	}
	return out
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
// Tombstones older than [TombstoneRetention] at now are pruned.
//
// Errors: [ErrTokenReused], [ErrNameTaken], [ErrCopyApplication],
// [ErrTooLarge] (MaxPerHome, MaxHomeBytes), or the copy source's
// resolution error (wrapping [ErrNotFound], [ErrNotCallable],
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
	if r.liveIn(rec.HomeRegion) >= MaxPerHome {
		return r, rec, false, fmt.Errorf("%w: region %s holds %d application profiles, the most it may", ErrTooLarge, rec.HomeRegion, MaxPerHome)
	}
	if n := r.recordsIn(rec.HomeRegion, now); n >= MaxRecordsPerHome {
		return r, rec, false, fmt.Errorf("%w: region %s holds %d application profile records, tombstones included (kept %s), the most it may",
			ErrTooLarge, rec.HomeRegion, n, TombstoneRetention)
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
	if n := r.bytesIn(rec.HomeRegion) + recordBytes(rec); n > MaxHomeBytes {
		return r, rec, false, fmt.Errorf("%w: the application profiles of region %s would take %d bytes, more than the %d its state may carry; delete some (tombstones are kept %s) or use fewer or shorter tags",
			ErrTooLarge, rec.HomeRegion, n, MaxHomeBytes, TombstoneRetention)
	}
	merged, _ := MergeRecords(unexpired(r.all(), now), []Record{rec})
	return r.with(merged), rec, true, nil
}

// Delete replaces id's live record with a tombstone dated now (or just
// after the record's last change, should now not be later: the tombstone
// must supersede it everywhere). A record dated beyond [MaxRecordSkew]
// after now (a forgery taken by an earlier version) gets a tombstone dated
// now all the same, which replaces it here and at every peer (MergeFrom):
// one dated after it would be refused as future-dated. It returns
// [ErrNoRecord] when id has no live record (a profile of the topology
// file, or none).
func (r *Registry) Delete(id string, now time.Time) (*Registry, Record, error) {
	cur, ok := r.Get(id)
	if !ok {
		return r, Record{}, ErrNoRecord
	}
	tomb := cur
	tomb.Deleted, tomb.Tags = true, maps.Clone(cur.Tags)
	tomb.UpdatedAt = now.UTC()
	held := unexpired(r.all(), now)
	switch {
	case futureDated(cur, now):
		held = slices.DeleteFunc(slices.Clone(held), func(x Record) bool { return x.ID == id })
		if tomb.CreatedAt.After(tomb.UpdatedAt) {
			// A tombstone's dates must pass the skew check too.
			tomb.CreatedAt = tomb.UpdatedAt
		}
	case !tomb.UpdatedAt.After(cur.UpdatedAt):
		tomb.UpdatedAt = cur.UpdatedAt.Add(time.Millisecond)
	}
	merged, _ := MergeRecords(held, []Record{tomb})
	return r.with(merged), tomb, nil
}

// bytesIn returns the JSON size of the records homed in home.
func (r *Registry) bytesIn(home string) int {
	n := 0
	for _, x := range r.all() {
		if x.HomeRegion == home {
			n += recordBytes(x)
		}
	}
	return n
}

// recordBytes returns the JSON size of rec.
func recordBytes(rec Record) int {
	b, _ := json.Marshal(rec)
	return len(b)
}

// recordsIn counts the records homed in home, tombstones unexpired at now
// included.
func (r *Registry) recordsIn(home string, now time.Time) int {
	n := 0
	for _, x := range unexpired(r.all(), now) {
		if x.HomeRegion == home {
			n++
		}
	}
	return n
}

// liveIn counts the live records homed in home.
func (r *Registry) liveIn(home string) int {
	n := 0
	for _, x := range r.all() {
		if !x.Deleted && x.HomeRegion == home {
			n++
		}
	}
	return n
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
// ([ErrFutureRecord]); when the id is held with another home region
// ([ErrHomeConflict]: the record held stays, whichever came first, and is
// served only from its own home, see [Registry.Catalog]); when it is a new
// profile of a home region that holds [MaxPerHome] live records, or a new
// record (a tombstone too) of one that holds [MaxRecordsPerHome] records
// or would take more than [MaxHomeBytes] ([ErrTooLarge]); or
// when it would change what never changes once a profile exists: its
// copy source, home region, name, creation time and request token, or
// revive a tombstone ([ErrImmutable], also reported for an older record
// that disagrees on those). A record held dated beyond the skew (a
// forgery an earlier version took) is replaced by the next record its
// own home region sends, whatever that record's dates and fields. A copy
// of a record already held, or an older version of it, is nothing new:
// neither a change nor a rejection; so is a tombstone older than
// [TombstoneRetention], and when from.Now is set such tombstones held are
// pruned (next differs from r then, with no change listed). changes lists
// every record accepted, for the caller to log (invariant 1: nothing
// changes what a profile may serve without a trace).
func (r *Registry) MergeFrom(cat *Catalog, remote []Record, from Origin) (next *Registry, changes []Change, rejected []*RecordError) {
	accepted := map[string]Record{}
	replaced := map[string]bool{}
	var use map[string]*homeUse // records held per home, counted when first needed
	useOf := func(home string) *homeUse {
		if use == nil {
			use = map[string]*homeUse{}
			for _, x := range unexpired(r.all(), from.Now) {
				u := use[x.HomeRegion]
				if u == nil {
					u = &homeUse{}
					use[x.HomeRegion] = u
				}
				u.add(x, 1)
			}
		}
		u := use[home]
		if u == nil {
			u = &homeUse{}
			use[home] = u
		}
		return u
	}
	current := func(id string) (Record, bool) {
		if rec, ok := accepted[id]; ok {
			return rec, true
		}
		if i, ok := r.index(id); ok {
			return r.records[i], true
		}
		return Record{}, false
	}
	var conflicts map[string][]string // r.conflicts and new ones, copied on the first new one
	claim := func(id, a, b string) {
		homes := r.conflicts[id]
		if conflicts != nil {
			homes = conflicts[id]
		}
		next := slices.Clone(homes)
		for _, h := range []string{a, b} {
			if !slices.Contains(next, h) {
				next = append(next, h)
			}
		}
		if len(next) == len(homes) {
			return
		}
		slices.Sort(next)
		if conflicts == nil {
			conflicts = maps.Clone(r.all0().conflicts)
			if conflicts == nil {
				conflicts = map[string][]string{}
			}
		}
		conflicts[id] = next
	}
	reject := func(id string, err error) {
		rejected = append(rejected, &RecordError{ID: clip(id), Err: err})
	}
	for _, rec := range remote {
		cur, ok := current(rec.ID)
		if ok && sameRecord(cur, rec) {
			continue
		}
		if err := CheckRecord(cat, rec); err != nil {
			reject(rec.ID, err)
			continue
		}
		if rec.Deleted && expired(rec, from.Now) {
			continue
		}
		if ok && cur.HomeRegion != rec.HomeRegion {
			err := checkFrom(rec, from)
			if err == nil {
				claim(rec.ID, cur.HomeRegion, rec.HomeRegion)
				if from.Own && !rec.Deleted {
					// The node's own region's record (its replicas'
					// shared set) is what its callers created: it
					// replaces the other home's claim here.
					accepted[rec.ID], replaced[rec.ID] = rec, true
					continue
				}
				err = fmt.Errorf("%w: %s is held as homed in %s; %s claims it as its own too: withdrawn from service (a node of either home serves its own)",
					ErrHomeConflict, rec.ID, cur.HomeRegion, rec.HomeRegion)
			} else if ierr := checkImmutable(cur, rec); ierr != nil {
				// A relay that contradicts the record held is a forgery,
				// not a late copy: say so.
				err = fmt.Errorf("%w; %w", err, ierr)
			}
			reject(rec.ID, err)
			continue
		}
		if ok && futureDated(cur, from.Now) && checkFrom(rec, from) == nil {
			// The record held is dated later than any honest node dates
			// one, so it was taken before records were checked (a store
			// from an earlier version): its home region's record (the
			// home is the same, checked above) replaces it, whatever the
			// dates and fields.
			accepted[rec.ID], replaced[rec.ID] = rec, true
			continue
		}
		if ok && !rec.Newer(cur) {
			// An older version: harmless unless it disagrees on what
			// never changes, which only a forgery can.
			if err := checkImmutable(cur, rec); err != nil && !errors.Is(err, errRevive) {
				reject(rec.ID, err)
			}
			continue
		}
		if err := checkFrom(rec, from); err != nil {
			if ok {
				if ierr := checkImmutable(cur, rec); ierr != nil {
					err = fmt.Errorf("%w; %w", err, ierr)
				}
			}
			reject(rec.ID, err)
			continue
		}
		if ok {
			if err := checkImmutable(cur, rec); err != nil {
				reject(rec.ID, err)
				continue
			}
		}
		u := useOf(rec.HomeRegion)
		if err := u.admit(cur, ok, rec); err != nil {
			reject(rec.ID, err)
			continue
		}
		if ok {
			u.add(cur, -1)
		}
		u.add(rec, 1)
		accepted[rec.ID] = rec
	}
	held := unexpired(r.all(), from.Now)
	pruned := len(held) != len(r.all())
	build := func(recs []Record) *Registry {
		out := r.with(recs)
		if conflicts != nil {
			out.conflicts = conflicts
		}
		return out
	}
	if len(accepted) == 0 {
		if pruned || conflicts != nil {
			return build(held), nil, rejected
		}
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
	if len(replaced) > 0 {
		if !pruned {
			held = slices.Clone(held)
		}
		held = slices.DeleteFunc(held, func(x Record) bool { return replaced[x.ID] })
	}
	merged, _ := MergeRecords(held, recs)
	return build(merged), changes, rejected
}

// homeUse counts the records of one home region a registry holds.
type homeUse struct {
	live, all, bytes int
}

// add counts rec once more (sign 1) or once less (sign -1).
func (u *homeUse) add(rec Record, sign int) {
	u.all += sign
	u.bytes += sign * recordBytes(rec)
	if !rec.Deleted {
		u.live += sign
	}
}

// admit returns [ErrTooLarge] when rec, replacing cur (held when ok),
// would take its home region past [MaxPerHome] live records,
// [MaxRecordsPerHome] records or [MaxHomeBytes]: the bounds Create keeps
// at the home, which a peer's records cannot exceed here either,
// tombstones included. A tombstone of a record held is always admitted
// (it takes the record's place, and only a few bytes more).
func (u *homeUse) admit(cur Record, ok bool, rec Record) error {
	if ok && rec.Deleted {
		return nil
	}
	home := rec.HomeRegion
	if !ok && !rec.Deleted && u.live >= MaxPerHome {
		return fmt.Errorf("%w: home region %s already has %d application profiles here", ErrTooLarge, home, MaxPerHome)
	}
	if !ok && u.all >= MaxRecordsPerHome {
		return fmt.Errorf("%w: home region %s already has %d application profile records here, tombstones included", ErrTooLarge, home, MaxRecordsPerHome)
	}
	n := u.bytes + recordBytes(rec)
	if ok {
		n -= recordBytes(cur)
	}
	if n > MaxHomeBytes && (!ok || n > u.bytes) {
		return fmt.Errorf("%w: the application profile records of home region %s would take %d bytes here, more than %d", ErrTooLarge, home, n, MaxHomeBytes)
	}
	return nil
}

// all0 returns r, or an empty registry for a nil r.
func (r *Registry) all0() *Registry {
	if r == nil {
		return &Registry{}
	}
	return r
}

// unexpired returns recs without the tombstones expired at now (recs
// itself when there is none).
func unexpired(recs []Record, now time.Time) []Record {
	if !slices.ContainsFunc(recs, func(x Record) bool { return x.Deleted && expired(x, now) }) {
		return recs
	}
	return slices.DeleteFunc(slices.Clone(recs), func(x Record) bool { return x.Deleted && expired(x, now) })
}

// expired reports whether tombstone r is older than [TombstoneRetention]
// at now; never when now is zero.
func expired(r Record, now time.Time) bool {
	return !now.IsZero() && r.UpdatedAt.Before(now.Add(-TombstoneRetention))
}

// FutureDated reports whether r is dated more than [MaxRecordSkew] after
// now (never when now is zero): a record no merge accepts, which a
// registry may hold from an earlier version ([Registry.CatalogAt] does
// not serve it).
func FutureDated(r Record, now time.Time) bool { return futureDated(r, now) }

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
//
// An API-created application profile is served only to callers in its
// home region's geography, and its ARN names its home: from any other
// geography it is not callable, and a destination's residency re-check
// of a call from there fails (Catalog.CheckDestination). A record a
// rogue region publishes under another region's profile id, as its own,
// is therefore never served to callers of another geography whichever
// record a node received first; and once a node has seen both claims the
// id is withdrawn ([Registry.Conflicts]).
func (r *Registry) Catalog(base *Catalog) (cat *Catalog, skipped []*RecordError) {
	return r.CatalogAt(base, time.Time{}, "")
}

// CatalogAt is [Registry.Catalog] for a node of region local at now. It
// also leaves out (quarantines) every record dated more than
// [MaxRecordSkew] after now ([ErrFutureRecord]): a forgery taken by an
// earlier version, which a merge would refuse today; it stays in the
// registry until its home region replaces or deletes it (a zero now
// quarantines nothing). A conflicted id ([Registry.Conflicts]) is left
// out ([ErrHomeConflict]) unless the record held is homed in local: a
// node serves its own region's profiles.
func (r *Registry) CatalogAt(base *Catalog, now time.Time, local string) (cat *Catalog, skipped []*RecordError) {
	out := base.clone()
	for _, rec := range r.all() {
		if rec.Deleted {
			continue
		}
		if homes := r.conflicts[rec.ID]; len(homes) > 0 && (local == "" || rec.HomeRegion != local) {
			skipped = append(skipped, &RecordError{ID: rec.ID, Err: fmt.Errorf("%w: claimed by %s; not served", ErrHomeConflict, strings.Join(homes, " and "))})
			continue
		}
		if rec.HomeRegion == "" {
			skipped = append(skipped, &RecordError{ID: rec.ID, Err: fmt.Errorf("%w: no home region", ErrInvalidRecord)})
			continue
		}
		if futureDated(rec, now) {
			skipped = append(skipped, &RecordError{ID: rec.ID, Err: fmt.Errorf("%w: updatedAt %s; not served until its home region replaces or deletes it",
				ErrFutureRecord, rec.UpdatedAt.UTC().Format(time.RFC3339))})
			continue
		}
		if base.Geography(rec.HomeRegion) == "" {
			// Whatever its home region published is no longer trusted
			// once that region leaves the topology.
			skipped = append(skipped, &RecordError{ID: rec.ID, Err: fmt.Errorf("%w: %q", ErrHomeGone, clip(rec.HomeRegion))})
			continue
		}
		p, err := out.newApplication(Profile{ID: rec.ID, CopyFrom: rec.CopyFrom, Description: rec.Description,
			Tags: rec.Tags, CreatedAt: rec.CreatedAt, HomeRegion: rec.HomeRegion})
		if err != nil {
			skipped = append(skipped, &RecordError{ID: rec.ID, Err: err})
			continue
		}
		if !p.CallableFrom(rec.HomeRegion) {
			// Create resolves the copy source in the home region: a record
			// whose home could not call it (an EU region copying a us.
			// profile) did not come from that API (invariant 1).
			skipped = append(skipped, &RecordError{ID: rec.ID, Err: fmt.Errorf("%w: %s from %s", ErrHomeScope, clip(rec.CopyFrom), rec.HomeRegion)})
			continue
		}
		homeGeography(p, base)
		out.add(p)
	}
	out.seal()
	return out, skipped
}

// homeGeography narrows p's sources to the regions of its home region's
// geography (the home is one of them).
func homeGeography(p *Profile, base *Catalog) {
	geo := base.Geography(p.HomeRegion)
	in := func(r string) bool { return base.Geography(r) == geo }
	p.Sources = slices.DeleteFunc(slices.Clone(p.Sources), func(r string) bool { return !in(r) })
	if p.SingleRegion() {
		p.Destinations = p.Sources
		return
	}
	if p.PerSource != nil {
		per := make(map[string][]string, len(p.Sources))
		union := map[string]bool{}
		for _, src := range p.Sources {
			per[src] = p.PerSource[src]
			for _, d := range per[src] {
				union[d] = true
			}
		}
		p.PerSource, p.Destinations = per, slices.Sorted(maps.Keys(union))
	}
}

// all returns the records (nil for a nil registry); callers must not
// modify them.
func (r *Registry) all() []Record {
	if r == nil {
		return nil
	}
	return r.records
}
