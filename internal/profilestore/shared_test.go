package profilestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// memSet is an in-memory RecordSet; down makes it fail like an outage.
type memSet struct {
	fields map[string]string
	down   bool
	puts   int
}

func (m *memSet) Records(_ context.Context, name string) (map[string]string, error) {
	if m.down {
		return nil, errors.New("store down")
	}
	out := map[string]string{}
	for k, v := range m.fields {
		out[k] = v
	}
	return out, nil
}

func (m *memSet) PutRecords(_ context.Context, name string, fields map[string]string) error {
	if m.down {
		return errors.New("store down")
	}
	m.puts++
	for k, v := range fields {
		m.fields[k] = v
	}
	return nil
}

func TestSharedSync(t *testing.T) {
	t.Parallel()
	cat := testCatalog(t)
	remote := Record{ID: "bbbbbbbbbbbb", Name: "b", CopyFrom: "demo.chat-small", HomeRegion: "eu-west-1", CreatedAt: t0, UpdatedAt: t0}
	rb, _ := json.Marshal(remote)
	set := &memSet{fields: map[string]string{
		remote.ID:      string(rb),
		"broken":       "{",
		"wrongid":      string(rb), // the field and the record disagree
		"eu.lookalike": `{"id":"eu.lookalike","copyFrom":"global.demo.chat-small"}`,
	}}
	var logs bytes.Buffer
	s := &Shared{Set: set, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	reg := NewRegistry(&failing{})
	local, _, err := reg.Create(cat, Record{ID: "aaaaaaaaaaaa", Name: "a", CopyFrom: "eu.demo.chat-small", HomeRegion: "eu-west-1"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for range 3 {
		if err := s.Sync(ctx, reg, cat); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := reg.Get(remote.ID); !ok {
		t.Errorf("the shared record was not merged")
	}
	if _, ok := set.fields[local.ID]; !ok {
		t.Errorf("the local record was not written to the shared set")
	}
	if set.puts != 1 {
		t.Errorf("%d writes in three syncs, want 1 (only what the set lacks)", set.puts)
	}
	// Each bad field is logged once, not on every sync.
	for _, id := range []string{"broken", "wrongid", "eu.lookalike"} {
		if n := strings.Count(logs.String(), "profile="+id); n != 1 {
			t.Errorf("%s logged %d times, want once:\n%s", id, n, logs.String())
		}
	}
	if _, ok := reg.Get("eu.lookalike"); ok {
		t.Errorf("a lookalike id from the shared set was merged")
	}

	// An outage is not an error of Sync: the next sync tries again.
	set.down = true
	if err := s.Sync(ctx, reg, cat); err != nil {
		t.Errorf("Sync during an outage = %v, want nil", err)
	}
}

// TestSharedSyncKeepsCopySource: the shared set is trusted like the data
// directory, but it cannot change the copy source of a profile this
// replica holds (invariant 1): the change is refused and logged, the
// replica writes its own record back, and an honest change is logged.
func TestSharedSyncKeepsCopySource(t *testing.T) {
	t.Parallel()
	cat := testCatalog(t)
	reg := NewRegistry(&failing{})
	held, _, err := reg.Create(cat, Record{ID: "aaaaaaaaaaaa", Name: "a", CopyFrom: "eu.demo.chat-small", HomeRegion: "eu-west-1"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	forged := held
	forged.CopyFrom, forged.UpdatedAt = "global.demo.chat-small", t0.AddDate(4, 0, 0)
	fb, _ := json.Marshal(forged)
	other := held
	other.ID, other.Name = "bbbbbbbbbbbb", "b"
	db, _ := json.Marshal(other)
	set := &memSet{fields: map[string]string{forged.ID: string(fb), other.ID: string(db)}}
	var logs bytes.Buffer
	s := &Shared{Set: set, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	if err := s.Sync(t.Context(), reg, cat); err != nil {
		t.Fatal(err)
	}
	if got, _ := reg.Get(held.ID); got.CopyFrom != "eu.demo.chat-small" {
		t.Errorf("the shared set changed the copy source to %s", got.CopyFrom)
	}
	var back Record
	if err := json.Unmarshal([]byte(set.fields[held.ID]), &back); err != nil || back.CopyFrom != held.CopyFrom {
		t.Errorf("shared set holds %s, %v; want this replica's record written back", set.fields[held.ID], err)
	}
	if !strings.Contains(logs.String(), "profile="+held.ID) || !strings.Contains(logs.String(), "immutable") {
		t.Errorf("the refused change was not logged:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "application profile changed from the shared store") || !strings.Contains(logs.String(), "profile="+other.ID) {
		t.Errorf("the accepted record was not logged:\n%s", logs.String())
	}
}

// TestSharedSyncOwnRegionOnly: regions may share one Redis server, so a
// replica takes from the shared set only its own region's records, none
// dated beyond the skew of its clock, none without a home, and writes
// back only its region's records (other regions' come over the link).
func TestSharedSyncOwnRegionOnly(t *testing.T) {
	t.Parallel()
	cat := testCatalog(t)
	reg := NewRegistry(&failing{recs: []Record{
		{ID: "cccccccccccc", Name: "c", CopyFrom: "eu.demo.chat-small", HomeRegion: "eu-central-1", CreatedAt: t0, UpdatedAt: t0},
	}})
	rec := func(id, home string, at time.Time) string {
		b, _ := json.Marshal(Record{ID: id, Name: id, CopyFrom: "global.demo.chat-small", HomeRegion: home, CreatedAt: t0, UpdatedAt: at})
		return string(b)
	}
	set := &memSet{fields: map[string]string{
		"aaaaaaaaaaaa": rec("aaaaaaaaaaaa", "eu-west-1", t0),
		"bbbbbbbbbbbb": rec("bbbbbbbbbbbb", "us-east-1", t0),
		"dddddddddddd": rec("dddddddddddd", "eu-west-1", t0.AddDate(4, 0, 0)),
		"eeeeeeeeeeee": rec("eeeeeeeeeeee", "", t0),
	}}
	var logs bytes.Buffer
	s := &Shared{Set: set, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return t0 }, Region: "eu-west-1"}
	if err := s.Sync(t.Context(), reg, cat); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"aaaaaaaaaaaa": true, "bbbbbbbbbbbb": false, "dddddddddddd": false, "eeeeeeeeeeee": false} {
		if _, ok := reg.Get(id); ok != want {
			t.Errorf("%s taken from the shared set: %v, want %v\n%s", id, ok, want, logs.String())
		}
	}
	if _, ok := set.fields["cccccccccccc"]; ok {
		t.Errorf("another region's record was written to the shared set")
	}
}

// namedSets is an in-memory RecordSet that keeps each set apart, as the
// quota store does (one Redis hash per name).
type namedSets map[string]map[string]string

func (m namedSets) Records(_ context.Context, name string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range m[name] {
		out[k] = v
	}
	return out, nil
}

func (m namedSets) PutRecords(_ context.Context, name string, fields map[string]string) error {
	if m[name] == nil {
		m[name] = map[string]string{}
	}
	for k, v := range fields {
		m[name][k] = v
	}
	return nil
}

// TestSharedSetPerRegion: with one Redis server and prefix for every
// region, each region's replicas read and write only their region's set
// (SharedSetOf), so a record another region writes into its own set, an
// EU-homed one included, never reaches an EU replica. The set all regions
// shared before is read once, read-only, while the region's set is empty
// (migration), and not again once the replica has written its records.
func TestSharedSetPerRegion(t *testing.T) {
	t.Parallel()
	cat := testCatalog(t)
	rec := func(id, home, copyFrom string) string {
		b, _ := json.Marshal(Record{ID: id, Name: id, CopyFrom: copyFrom, HomeRegion: home, CreatedAt: t0, UpdatedAt: t0})
		return string(b)
	}
	sets := namedSets{
		SharedSet: {"aaaaaaaaaaaa": rec("aaaaaaaaaaaa", "eu-west-1", "eu.demo.chat-small")},
		// written by a US node into its region's set: an EU-homed
		// record repointed to a global profile.
		SharedSetOf("us-east-1"): {"ffffffffffff": rec("ffffffffffff", "eu-west-1", "global.demo.chat-small")},
	}
	reg := NewRegistry(&failing{})
	s := &Shared{Set: sets, Now: func() time.Time { return t0 }, Region: "eu-west-1"}
	if err := s.Sync(t.Context(), reg, cat); err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.Get("aaaaaaaaaaaa"); !ok {
		t.Errorf("the record of the set all regions shared was not migrated")
	}
	if _, ok := reg.Get("ffffffffffff"); ok {
		t.Errorf("a record in another region's set was taken")
	}
	if _, ok := sets[SharedSetOf("eu-west-1")]["aaaaaaaaaaaa"]; !ok {
		t.Errorf("the region's set after the first sync: %v", sets[SharedSetOf("eu-west-1")])
	}
	if len(sets[SharedSet]) != 1 {
		t.Errorf("the old set was written: %v", sets[SharedSet])
	}
	// Written into the old set after the migration: not read again, by
	// this replica nor by a fresh one (the region's set is not empty).
	sets[SharedSet]["bbbbbbbbbbbb"] = rec("bbbbbbbbbbbb", "eu-west-1", "global.demo.chat-small")
	fresh := NewRegistry(&failing{})
	for _, tc := range []struct {
		s   *Shared
		reg *Registry
	}{{s, reg}, {&Shared{Set: sets, Now: func() time.Time { return t0 }, Region: "eu-west-1"}, fresh}} {
		if err := tc.s.Sync(t.Context(), tc.reg, cat); err != nil {
			t.Fatal(err)
		}
		if _, ok := tc.reg.Get("bbbbbbbbbbbb"); ok {
			t.Errorf("a record written into the old set after the migration was taken")
		}
	}
	if _, ok := fresh.Get("aaaaaaaaaaaa"); !ok {
		t.Errorf("a fresh replica did not take its region's set")
	}
}
