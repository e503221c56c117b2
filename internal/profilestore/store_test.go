package profilestore

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func TestSaveLoadRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := Open(dir, "eu-west-1")
	if got, err := s.Load(); err != nil || got != nil {
		t.Fatalf("Load(empty) = %v, %v; want nil, nil", got, err)
	}
	recs := []Record{
		{ID: "a1", Name: "team-a", CopyFrom: "eu.demo.chat-small", Tags: map[string]string{"cost": "a"}, HomeRegion: "eu-west-1", CreatedAt: t0, UpdatedAt: t0, ClientRequestToken: "tok"},
		{ID: "b2", Name: "gone", CopyFrom: "demo.chat-small", HomeRegion: "eu-west-1", CreatedAt: t0, UpdatedAt: t0.Add(time.Minute), Deleted: true},
	}
	if err := s.Save(recs); err != nil {
		t.Fatal(err)
	}
	got, err := Open(dir, "eu-west-1").Load()
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(recs, got); d != "" {
		t.Errorf("Load after Save (-want +got):\n%s", d)
	}
	if _, err := os.Stat(filepath.Join(dir, "eu-west-1", FileName)); err != nil {
		t.Errorf("store file not in the region directory: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "eu-west-1", "*.tmp-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in string }{
		{"not json", "{"},
		{"wrong version", `{"version":2,"profiles":[]}`},
		{"unknown field", `{"version":1,"profiles":[],"extra":1}`},
		{"no id", `{"version":1,"profiles":[{"name":"x"}]}`},
		{"duplicate", `{"version":1,"profiles":[{"id":"a"},{"id":"a"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decode([]byte(tc.in)); err == nil {
				t.Errorf("Decode(%s) = nil error, want an error", tc.in)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	t.Parallel()
	a := Record{ID: "a", Name: "a", UpdatedAt: t0, HomeRegion: "eu-west-1"}
	aDel := Record{ID: "a", Name: "a", UpdatedAt: t0.Add(time.Second), HomeRegion: "eu-west-1", Deleted: true}
	b := Record{ID: "b", Name: "b", UpdatedAt: t0, HomeRegion: "us-east-1"}
	tests := []struct {
		name          string
		local, remote []Record
		want          []Record
		changed       bool
	}{
		{"new remote", []Record{a}, []Record{b}, []Record{a, b}, true},
		{"newer tombstone wins", []Record{a}, []Record{aDel}, []Record{aDel}, true},
		{"older record loses", []Record{aDel}, []Record{a}, []Record{aDel}, false},
		{"same record", []Record{a, b}, []Record{b}, []Record{a, b}, false},
		{"tie: tombstone wins", []Record{a}, []Record{{ID: "a", UpdatedAt: t0, Deleted: true}}, []Record{{ID: "a", UpdatedAt: t0, Deleted: true}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := Merge(tc.local, tc.remote)
			if d := cmp.Diff(tc.want, got); d != "" || changed != tc.changed {
				t.Errorf("Merge(%v, %v) changed=%v, want %v; diff (-want +got):\n%s", tc.local, tc.remote, changed, tc.changed, d)
			}
			// Commutative: the other order yields the same records.
			back, _ := Merge(tc.remote, tc.local)
			if d := cmp.Diff(got, back); d != "" {
				t.Errorf("Merge is not commutative (-ab +ba):\n%s", d)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"version":1,"region":"eu-west-1","profiles":[{"id":"a","name":"n","copyFrom":"eu.demo.chat-small","homeRegion":"eu-west-1","createdAt":"2026-11-25T10:00:00Z","updatedAt":"2026-11-25T10:00:00Z"}]}`))
	f.Add([]byte(`{"version":1,"profiles":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := Decode(b)
		if err != nil {
			return
		}
		// Whatever decodes merges with itself to itself.
		m, changed := Merge(recs, recs)
		if changed || len(m) != len(recs) {
			t.Fatalf("Merge(x, x) changed=%v len=%d, want unchanged len %d", changed, len(m), len(recs))
		}
	})
}

// TestConflictsRoundTrip: the ids two home regions claimed are saved with
// the records and loaded back; a registry opened on the store holds them;
// a file without them has none.
func TestConflictsRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := Open(dir, "eu-west-3")
	recs := []Record{{ID: "a1", Name: "team-a", CopyFrom: "eu.demo.chat-small", HomeRegion: "eu-west-1", CreatedAt: t0, UpdatedAt: t0}}
	if err := s.Save(recs); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LoadConflicts(); err != nil || got != nil {
		t.Fatalf("LoadConflicts without conflicts = %v, %v", got, err)
	}
	conflicts := map[string][]string{"a1": {"eu-central-1", "eu-west-1"}}
	if err := s.SaveWithConflicts(recs, conflicts); err != nil {
		t.Fatal(err)
	}
	got, err := Open(dir, "eu-west-3").LoadConflicts()
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(conflicts, got); d != "" {
		t.Errorf("LoadConflicts after SaveWithConflicts (-want +got):\n%s", d)
	}
	if d := cmp.Diff(conflicts, NewRegistry(Open(dir, "eu-west-3")).Snapshot().Conflicts()); d != "" {
		t.Errorf("registry's conflicts (-want +got):\n%s", d)
	}
}
