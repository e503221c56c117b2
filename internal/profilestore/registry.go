package profilestore

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridian-gateway/meridian/internal/profile"
)

// Errors of [Registry]; callers branch on them with errors.Is.
var (
	// ErrUnavailable: the store could not be read at start-up. Changes are
	// refused so that they cannot overwrite what it holds; the error wraps
	// the read error.
	ErrUnavailable = errors.New("profile store unavailable")
	// ErrNotSaved: a change could not be saved, so it was not applied
	// either; the error wraps the write error.
	ErrNotSaved = errors.New("profile change not saved")
)

// Backing is where a [Registry] keeps its records; [*Store] implements it.
type Backing interface {
	// Load returns every record persisted (nil when there is none).
	Load() ([]Record, error)
	// Save replaces what is persisted with recs, atomically.
	Save(recs []Record) error
}

// ConflictBacking is a Backing that also keeps the ids two home regions
// claimed (profile.Registry.Conflicts), so that a restarted node keeps
// them withdrawn; [*Store] implements it.
type ConflictBacking interface {
	Backing
	// LoadConflicts returns the conflicts persisted (nil when none).
	LoadConflicts() (map[string][]string, error)
	// SaveWithConflicts replaces what is persisted, atomically.
	SaveWithConflicts(recs []Record, conflicts map[string][]string) error
}

var _ ConflictBacking = (*Store)(nil)

// Registry is a node's application-profile registry: a [profile.Registry]
// whose every change is saved to its Backing before it is served, and then
// handed to its subscribers (the node, which derives each gateway's
// catalog from it). Reads are lock-free; changes are serialised, and the
// subscribers see them in the order they were saved. It is safe for
// concurrent use.
type Registry struct {
	backing Backing
	// loadErr, when set, refuses changes (ErrUnavailable).
	loadErr error
	cur     atomic.Pointer[profile.Registry]

	// mu serialises changes and the calls to subscribers.
	mu      sync.Mutex
	subs    map[uint64]func(*profile.Registry)
	nextSub uint64
}

// NewRegistry loads b's records. When they cannot be read, the registry
// starts empty and refuses every change ([Registry.Err] says why), so a
// damaged file is left for an operator to repair rather than overwritten.
func NewRegistry(b Backing) *Registry {
	r := &Registry{backing: b, subs: map[uint64]func(*profile.Registry){}}
	recs, err := b.Load()
	var conflicts map[string][]string
	if cb, ok := b.(ConflictBacking); ok && err == nil {
		conflicts, err = cb.LoadConflicts()
	}
	if err != nil {
		r.loadErr = err
		recs, conflicts = nil, nil
	}
	r.cur.Store(profile.NewRegistryWithConflicts(recs, conflicts))
	return r
}

// Err returns why the registry refuses changes (the store could not be
// read at start-up), or nil.
func (r *Registry) Err() error { return r.loadErr }

// Snapshot returns the registry in force, which never changes.
func (r *Registry) Snapshot() *profile.Registry { return r.cur.Load() }

// Records returns every record, tombstones included, sorted by id.
func (r *Registry) Records() []Record { return r.Snapshot().Records() }

// Get returns the live record of id.
func (r *Registry) Get(id string) (Record, bool) { return r.Snapshot().Get(id) }

// Subscribe calls fn with the registry in force now and again after every
// change, until cancel is called. Calls are serialised with changes: fn
// must not call back into the registry's changing methods, and should be
// quick (it runs while the change's caller waits). Subscribers are called
// in the order they subscribed, so that one subscribed later (a test
// waiting for a change) runs after one subscribed before it (the node's
// catalog feed) has applied the change.
func (r *Registry) Subscribe(fn func(*profile.Registry)) (cancel func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.nextSub
	r.nextSub++
	r.subs[id] = fn
	fn(r.cur.Load())
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.subs, id)
	}
}

// Create adds rec at now ([profile.Registry.Create]), saves and serves it.
// created is false for an idempotent retry (rec's token was used before
// for the same request); out is then the earlier record.
func (r *Registry) Create(cat *profile.Catalog, rec Record, now time.Time) (out Record, created bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.usableLocked(); err != nil {
		return rec, false, err
	}
	next, out, created, err := r.cur.Load().Create(cat, rec, now)
	if err != nil || !created {
		return out, false, err
	}
	if err := r.commitLocked(next); err != nil {
		return rec, false, err
	}
	return out, true, nil
}

// Delete replaces id's live record with a tombstone dated now, saves and
// serves it, and returns the tombstone. It returns [profile.ErrNoRecord]
// when id has no live record.
func (r *Registry) Delete(id string, now time.Time) (Record, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.usableLocked(); err != nil {
		return Record{}, err
	}
	next, tomb, err := r.cur.Load().Delete(id, now)
	if err != nil {
		return Record{}, err
	}
	if err := r.commitLocked(next); err != nil {
		return Record{}, err
	}
	return tomb, nil
}

// Merge is [Registry.MergeFrom] for the node's own sources
// (profile.Origin{}). It reports whether anything changed.
func (r *Registry) Merge(cat *profile.Catalog, remote []Record) (changed bool, rejected []*profile.RecordError, err error) {
	changes, rejected, err := r.MergeFrom(cat, remote, profile.Origin{})
	return len(changes) > 0, rejected, err
}

// MergeFrom applies records received from from ([profile.Registry.MergeFrom];
// cat checks them), saves and serves the result. It returns the records
// accepted and those left out; the caller logs both.
func (r *Registry) MergeFrom(cat *profile.Catalog, remote []Record, from profile.Origin) (changes []profile.Change, rejected []*profile.RecordError, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.usableLocked(); err != nil {
		return nil, nil, err
	}
	cur := r.cur.Load()
	next, changes, rejected := cur.MergeFrom(cat, remote, from)
	if next == cur {
		return nil, rejected, nil
	}
	// next differs: records accepted, or expired tombstones pruned.
	if err := r.commitLocked(next); err != nil {
		return nil, rejected, err
	}
	return changes, rejected, nil
}

func (r *Registry) usableLocked() error {
	if r.loadErr != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, r.loadErr)
	}
	return nil
}

// commitLocked saves next, then serves it: a change a client was told
// about survives a restart.
func (r *Registry) commitLocked(next *profile.Registry) error {
	save := func() error { return r.backing.Save(next.Records()) }
	if cb, ok := r.backing.(ConflictBacking); ok {
		save = func() error { return cb.SaveWithConflicts(next.Records(), next.Conflicts()) }
	}
	if err := save(); err != nil {
		return fmt.Errorf("%w: %w", ErrNotSaved, err)
	}
	r.cur.Store(next)
	for _, id := range slices.Sorted(maps.Keys(r.subs)) {
		r.subs[id](next)
	}
	return nil
}
