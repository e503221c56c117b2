package profilestore

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/topology"
)

func testCatalog(t *testing.T) *profile.Catalog {
	t.Helper()
	cfg, err := topology.Parse([]byte(`account: "111122223333"
geographies: {eu: {name: EU}}
regions:
  - {id: eu-west-1, geography: eu, location: {lat: 53, lon: -6}, listen: "127.0.0.1:1", link: "127.0.0.1:2"}
models: [{id: demo.chat-small}]
deployments:
  - {model: demo.chat-small, region: eu-west-1, backend: {type: mock}}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := profile.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// failing is a Backing whose saves fail while fail is set.
type failing struct {
	recs []Record
	fail bool
}

func (f *failing) Load() ([]Record, error) { return f.recs, nil }
func (f *failing) Save(recs []Record) error {
	if f.fail {
		return errors.New("disk full")
	}
	f.recs = recs
	return nil
}

// TestRegistrySavesBeforeServing: a change that cannot be saved is neither
// served nor announced, so nothing a client was told about is lost in a
// restart; a saved change is announced once, in order.
func TestRegistrySavesBeforeServing(t *testing.T) {
	t.Parallel()
	cat := testCatalog(t)
	b := &failing{}
	reg := NewRegistry(b)
	var seen []int
	stop := reg.Subscribe(func(r *profile.Registry) { seen = append(seen, len(r.Records())) })
	rec := Record{ID: "aaaaaaaaaaaa", Name: "a", CopyFrom: "eu.demo.chat-small", HomeRegion: "eu-west-1"}

	b.fail = true
	if _, _, err := reg.Create(cat, rec, t0); !errors.Is(err, ErrNotSaved) {
		t.Fatalf("Create with a failing store = %v, want ErrNotSaved", err)
	}
	if _, ok := reg.Get(rec.ID); ok {
		t.Errorf("a record that was not saved is served")
	}
	b.fail = false
	if _, created, err := reg.Create(cat, rec, t0); err != nil || !created {
		t.Fatalf("Create = %v, %v", created, err)
	}
	if len(b.recs) != 1 {
		t.Errorf("saved %d records, want 1", len(b.recs))
	}
	b.fail = true
	if _, err := reg.Delete(rec.ID, t0.Add(time.Second)); !errors.Is(err, ErrNotSaved) {
		t.Errorf("Delete with a failing store = %v, want ErrNotSaved", err)
	}
	if _, ok := reg.Get(rec.ID); !ok {
		t.Errorf("a deletion that was not saved is served")
	}
	b.fail = false
	if _, err := reg.Delete(rec.ID, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	stop()
	if _, _, err := reg.Merge(cat, []Record{{ID: "bbbbbbbbbbbb", CopyFrom: "demo.chat-small", UpdatedAt: t0}}); err != nil {
		t.Fatal(err)
	}
	// Subscribe's first call, the create, the delete; nothing after stop.
	if want := []int{0, 1, 1}; !slices.Equal(seen, want) {
		t.Errorf("subscriber saw record counts %v, want %v", seen, want)
	}
}

// TestRegistrySubscribersInOrder: every change reaches the subscribers in
// the order they subscribed (the node's catalog feed before a test that
// waits for the change to be served), whatever their number.
func TestRegistrySubscribersInOrder(t *testing.T) {
	t.Parallel()
	cat := testCatalog(t)
	reg := NewRegistry(&failing{})
	var order []int
	const n = 16
	for i := range n {
		reg.Subscribe(func(*profile.Registry) { order = append(order, i) })
	}
	order = order[:0]
	rec := Record{ID: "aaaaaaaaaaaa", Name: "a", CopyFrom: "eu.demo.chat-small", HomeRegion: "eu-west-1"}
	if _, _, err := reg.Create(cat, rec, t0); err != nil {
		t.Fatal(err)
	}
	for i := range order {
		if order[i] != i {
			t.Fatalf("subscribers called in order %v, want the order they subscribed", order)
		}
	}
	if len(order) != n {
		t.Fatalf("%d subscribers called, want %d", len(order), n)
	}
}

// TestRegistryUnreadableStore: a store that cannot be read at start-up
// refuses every change, so the file is left for an operator to repair.
func TestRegistryUnreadableStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := Open(dir, "eu-west-1")
	if err := os.MkdirAll(filepath.Dir(s.Path()), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.Path(), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := NewRegistry(s)
	if reg.Err() == nil {
		t.Fatal("Err() = nil for an unreadable store")
	}
	cat := testCatalog(t)
	rec := Record{ID: "aaaaaaaaaaaa", Name: "a", CopyFrom: "eu.demo.chat-small", HomeRegion: "eu-west-1"}
	if _, _, err := reg.Create(cat, rec, t0); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Create = %v, want ErrUnavailable", err)
	}
	if _, _, err := reg.Merge(cat, []Record{rec}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Merge = %v, want ErrUnavailable", err)
	}
	if _, err := reg.Delete(rec.ID, t0); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Delete = %v, want ErrUnavailable", err)
	}
	if b, _ := os.ReadFile(s.Path()); string(b) != "{not json" {
		t.Errorf("the unreadable file was overwritten: %q", b)
	}
}

// TestRegistrySurvivesRestart: what one registry saved, the next loads.
func TestRegistrySurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cat := testCatalog(t)
	reg := NewRegistry(Open(dir, "eu-west-1"))
	rec, _, err := reg.Create(cat, Record{ID: "aaaaaaaaaaaa", Name: "a", CopyFrom: "eu.demo.chat-small", HomeRegion: "eu-west-1"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	again := NewRegistry(Open(dir, "eu-west-1"))
	if got, ok := again.Get(rec.ID); !ok || !got.CreatedAt.Equal(t0) {
		t.Errorf("after restart Get(%s) = %+v, %v", rec.ID, got, ok)
	}
}
