package profile

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestCheckRecordBounds: a record beyond Bedrock's bounds of
// CreateInferenceProfile could not have been created through the API.
func TestCheckRecordBounds(t *testing.T) {
	t.Parallel()
	base := testCatalog(t)
	tags := func(n, k, v int) map[string]string {
		m := map[string]string{}
		for i := range n {
			m[fmt.Sprintf("%0*d", k, i)] = strings.Repeat("v", v)
		}
		return m
	}
	tests := []struct {
		name string
		rec  Record
		want error
	}{
		{"the largest the API creates", with(honestEU, func(r *Record) {
			r.Name, r.Description, r.Tags = strings.Repeat("n", MaxName), strings.Repeat("d", MaxDescription), tags(MaxTags, MaxTagKey, MaxTagValue)
		}), nil},
		{"too many tags", with(honestEU, func(r *Record) { r.Tags = tags(MaxTags+1, 4, 1) }), ErrTooLarge},
		{"a tag key too long", with(honestEU, func(r *Record) { r.Tags = tags(1, MaxTagKey+1, 1) }), ErrTooLarge},
		{"a tag value too long", with(honestEU, func(r *Record) { r.Tags = tags(1, 4, MaxTagValue+1) }), ErrTooLarge},
		{"an empty tag key", with(honestEU, func(r *Record) { r.Tags = map[string]string{"": "x"} }), ErrTooLarge},
		{"description too long", with(honestEU, func(r *Record) { r.Description = strings.Repeat("d", MaxDescription+1) }), ErrTooLarge},
		{"name too long", with(honestEU, func(r *Record) { r.Name = strings.Repeat("n", MaxName+1) }), ErrTooLarge},
		{"copy source too long", with(honestEU, func(r *Record) { r.CopyFrom = strings.Repeat("c", 4096) }), ErrTooLarge},
		{"token too long", with(honestEU, func(r *Record) { r.ClientRequestToken = strings.Repeat("t", 257) }), ErrTooLarge},
		{"no home", with(honestEU, func(r *Record) { r.HomeRegion = "" }), ErrInvalidRecord},
		{"a home too long", with(honestEU, func(r *Record) { r.HomeRegion = strings.Repeat("h", 65) }), ErrInvalidRecord},
	}
	for _, tc := range tests {
		if err := CheckRecord(base, tc.rec); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: CheckRecord = %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestPerHomeBounds: a home region holds at most MaxPerHome live
// profiles, here and at every peer, and Create refuses a profile that
// would take its records beyond MaxHomeBytes (what its state may carry).
func TestPerHomeBounds(t *testing.T) {
	t.Parallel()
	base := testCatalog(t)
	now := regT0.Add(time.Second)
	full := make([]Record, MaxPerHome)
	for i := range full {
		full[i] = with(honestEU, func(r *Record) { r.ID, r.Name, r.Tags = fmt.Sprintf("p%011d", i), fmt.Sprintf("n%d", i), nil })
	}
	reg := NewRegistry(full)
	more := with(honestEU, func(r *Record) { r.ID, r.Name = "zzzzzzzzzzzz", "more" })
	if _, changes, rejected := reg.MergeFrom(base, []Record{more}, Origin{Peer: "eu-west-1", Now: now}); len(changes) != 0 || len(rejected) != 1 || !errors.Is(rejected[0], ErrTooLarge) {
		t.Errorf("a record beyond MaxPerHome from its home: changes %d, rejected %v", len(changes), rejected)
	}
	// Another home is not limited by this one's profiles.
	other := with(honestEU, func(r *Record) { r.ID, r.Name, r.HomeRegion = "yyyyyyyyyyyy", "other", "eu-central-1" })
	if _, changes, rejected := reg.MergeFrom(base, []Record{other}, Origin{Peer: "eu-central-1", Now: now}); len(changes) != 1 || len(rejected) != 0 {
		t.Errorf("another home's record: changes %d, rejected %v", len(changes), rejected)
	}
	if _, _, _, err := reg.Create(base, draft("zzzzzzzzzzzz", "more", "eu.demo.chat-small", ""), now); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Create beyond MaxPerHome = %v, want ErrTooLarge", err)
	}

	// Large tags: the home's records stay within MaxHomeBytes.
	big := map[string]string{}
	for i := range MaxTags {
		big[fmt.Sprintf("%0*d", MaxTagKey, i)] = strings.Repeat("v", MaxTagValue)
	}
	var r *Registry
	created := 0
	for i := 0; ; i++ {
		rec := draft(fmt.Sprintf("b%011d", i), fmt.Sprintf("big%d", i), "eu.demo.chat-small", "")
		rec.Tags = big
		next, _, _, err := r.Create(base, rec, now)
		if errors.Is(err, ErrTooLarge) {
			break
		}
		if err != nil || i > 100 {
			t.Fatalf("Create #%d = %v", i, err)
		}
		r, created = next, created+1
	}
	if n := r.bytesIn("eu-west-1"); n > MaxHomeBytes || created == 0 {
		t.Errorf("%d large profiles take %d bytes, bound %d", created, n, MaxHomeBytes)
	}
	t.Logf("%d profiles with %d tags of the largest size fit in %d bytes", created, MaxTags, MaxHomeBytes)
}

// TestTombstonesPruned: a tombstone older than TombstoneRetention is
// dropped by a merge that knows the time and by Create, and an expired
// tombstone received is nothing new.
func TestTombstonesPruned(t *testing.T) {
	t.Parallel()
	base := testCatalog(t)
	tomb := with(honestEU, func(r *Record) { r.Deleted = true })
	now := tomb.UpdatedAt.Add(TombstoneRetention + time.Second)
	reg := NewRegistry([]Record{tomb})
	if next, _, _ := reg.MergeFrom(base, nil, Origin{Peer: "eu-west-1", Now: tomb.UpdatedAt.Add(TombstoneRetention)}); len(next.Records()) != 1 {
		t.Errorf("a tombstone pruned before its retention ended")
	}
	next, changes, _ := reg.MergeFrom(base, nil, Origin{Peer: "eu-west-1", Now: now})
	if next == reg || len(next.Records()) != 0 || len(changes) != 0 {
		t.Errorf("after the retention: records %+v, changes %+v; want none", next.Records(), changes)
	}
	if _, changes, rejected := (*Registry)(nil).MergeFrom(base, []Record{tomb}, Origin{Peer: "eu-west-1", Now: now}); len(changes)+len(rejected) != 0 {
		t.Errorf("an expired tombstone received: changes %+v, rejected %v", changes, rejected)
	}
	created, _, _, err := reg.Create(base, draft("aaaaaaaaaaaa", "a", "eu.demo.chat-small", ""), now)
	if err != nil || len(created.Records()) != 1 {
		t.Errorf("Create after the retention: %v, records %+v", err, created.Records())
	}
}

// TestTombstoneFloodBounded: a peer that publishes tombstones of ids it
// makes up (no live record is counted) gets at most MaxRecordsPerHome
// records and MaxHomeBytes held here; the excess is refused
// (ErrTooLarge), and a tombstone of a record held is still taken at the
// bound. Large live records are bounded by bytes the same way.
func TestTombstoneFloodBounded(t *testing.T) {
	t.Parallel()
	base := testCatalog(t)
	now := regT0.Add(time.Hour)
	held := with(honestEU, func(r *Record) {
		r.ID, r.Name, r.HomeRegion, r.CopyFrom = "heldheldheld", "held", "eu-central-1", "eu.demo.chat-small"
	})
	reg := NewRegistry([]Record{held})
	tests := []struct {
		name string
		rec  func(i int) Record
	}{
		{"small tombstones", func(i int) Record {
			return with(held, func(r *Record) {
				r.ID, r.Name, r.Deleted, r.Tags = fmt.Sprintf("t%011d", i), fmt.Sprintf("n%d", i), true, nil
			})
		}},
		{"tombstones with large tags", func(i int) Record {
			return with(held, func(r *Record) {
				r.ID, r.Name, r.Deleted = fmt.Sprintf("t%011d", i), fmt.Sprintf("n%d", i), true
				r.Tags = map[string]string{"k": strings.Repeat("v", MaxTagValue)}
			})
		}},
		{"live records with large tags", func(i int) Record {
			return with(held, func(r *Record) {
				r.ID, r.Name = fmt.Sprintf("t%011d", i), fmt.Sprintf("n%d", i)
				r.Tags = map[string]string{"k": strings.Repeat("v", MaxTagValue)}
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := reg
			refused := 0
			for b := range 3 {
				recs := make([]Record, 3*MaxPerHome)
				for i := range recs {
					recs[i] = tt.rec(b*len(recs) + i)
				}
				next, _, rejected := r.MergeFrom(base, recs, Origin{Peer: "eu-central-1", Now: now})
				for _, e := range rejected {
					if !errors.Is(e, ErrTooLarge) {
						t.Fatalf("refused for %v, want ErrTooLarge", e)
					}
				}
				r, refused = next, refused+len(rejected)
			}
			if n, b := r.recordsIn("eu-central-1", now), r.bytesIn("eu-central-1"); n > MaxRecordsPerHome || b > MaxHomeBytes || refused == 0 {
				t.Errorf("held %d records, %d bytes of one home after 3 floods (refused %d); bounds %d, %d", n, b, refused, MaxRecordsPerHome, MaxHomeBytes)
			}
			tomb := with(held, func(r *Record) { r.Deleted, r.UpdatedAt = true, now })
			next, changes, rejected := r.MergeFrom(base, []Record{tomb}, Origin{Peer: "eu-central-1", Now: now})
			if len(changes) != 1 || len(rejected) != 0 {
				t.Errorf("the tombstone of a record held at the bound: changes %+v, rejected %v", changes, rejected)
			}
			if got, ok := next.Get(held.ID); ok {
				t.Errorf("still live: %+v", got)
			}
		})
	}
}
