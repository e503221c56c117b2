package quota

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLeaseSetExpire: a concurrency key's leases are walked for expired
// ones only once one may have expired, and the count stays exact: a lease
// counts until its expiry (exclusive) whatever was released before it, and
// a clock that steps back expires nothing.
func TestLeaseSetExpire(t *testing.T) {
	type step struct {
		add     map[string]int64 // id → expiry
		release []string
		now     int64
		walked  bool
		held    int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"held leases, none expired: no walk", []step{
			{add: map[string]int64{"a": 100, "b": 200, "c": 300}, now: 10, walked: false, held: 3},
			{now: 99, walked: false, held: 3},
		}},
		{"the earliest expires at its expiry", []step{
			{add: map[string]int64{"a": 100, "b": 200}, now: 100, walked: true, held: 1},
			{now: 150, walked: false, held: 1},
			{now: 200, walked: true, held: 0},
		}},
		{"released earliest: a walk finds none expired, then the next bound", []step{
			{add: map[string]int64{"a": 100, "b": 200}, release: []string{"a"}, now: 120, walked: true, held: 1},
			{now: 199, walked: false, held: 1},
			{now: 200, walked: true, held: 0},
		}},
		{"a later lease with an earlier expiry lowers the bound", []step{
			{add: map[string]int64{"a": 500}, now: 10, walked: false, held: 1},
			{add: map[string]int64{"b": 50}, now: 50, walked: true, held: 1},
			{now: 499, walked: false, held: 1},
		}},
		{"clock stepping back expires nothing", []step{
			{add: map[string]int64{"a": 100}, now: 200, walked: true, held: 0},
			{add: map[string]int64{"b": 300}, now: 50, walked: false, held: 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ls := newLeaseSet()
			for i, s := range tt.steps {
				for id, exp := range s.add {
					ls.add(id, exp)
				}
				for _, id := range s.release {
					delete(ls.ids, id)
				}
				if walked := ls.expire(s.now); walked != s.walked || len(ls.ids) != s.held {
					t.Errorf("step %d: expire(%d) walked %v, %d held; want %v, %d", i, s.now, walked, len(ls.ids), s.walked, s.held)
				}
			}
		})
	}
}

// TestMemoryLeasesNotWalkedPerRequest: with many requests in flight on one
// concurrency key, a reservation counts them without walking their leases
// (which made admission cost grow with the requests in flight, under the
// store's one lock), and the count stays exact up to the limit.
func TestMemoryLeasesNotWalkedPerRequest(t *testing.T) {
	clk := newFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := NewMemory(clk)
	rule := Rule{Key: "p/k", Kind: Concurrency, Limit: 256}
	ctx := t.Context()
	for i := range 256 {
		out, err := m.Reserve(ctx, Claim{ID: fmt.Sprint("r", i), Rules: []Rule{rule}, Lease: time.Minute})
		if err != nil || !out.Admitted || out.Rules[0].Used != int64(i+1) {
			t.Fatalf("reservation %d: %+v, %v; want admitted, %d used", i, out, err, i+1)
		}
		clk.Advance(time.Millisecond)
	}
	ls := m.leases["p/k"]
	if walked := ls.expire(clk.Now().UnixMicro()); walked {
		t.Errorf("256 leases, none expired: expire walked them")
	}
	out, err := m.Reserve(ctx, Claim{ID: "over", Rules: []Rule{rule}, Lease: time.Minute})
	if err != nil || out.Admitted || out.Rules[0].Used != 256 {
		t.Errorf("257th: %+v, %v; want refused with 256 used", out, err)
	}
	// The first lease expires a minute after it was taken; the others a
	// millisecond apart after it.
	clk.Advance(time.Minute - 256*time.Millisecond)
	out, err = m.Reserve(ctx, Claim{ID: "after", Rules: []Rule{rule}, Lease: time.Minute})
	if err != nil || !out.Admitted || out.Rules[0].Used != 256 {
		t.Errorf("after the first lease expired: %+v, %v; want admitted with 256 used", out, err)
	}
}

// TestMemorySettleManyInFlight: with many claims in flight, several
// admitted in one microsecond and one after the clock stepped back, each
// commit and release settles its own entries exactly.
func TestMemorySettleManyInFlight(t *testing.T) {
	clk := newFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := NewMemory(clk)
	rules := []Rule{{Key: "k", Kind: RequestsPerMinute, Limit: 1000}, {Key: "k", Kind: TokensPerMinute, Limit: 1 << 30}}
	ctx := t.Context()
	type held struct {
		c       Claim
		windows []int64
	}
	var all []held
	for i := range 300 {
		if i%3 == 0 {
			clk.Advance(time.Microsecond)
		}
		if i == 150 {
			clk.t = clk.t.Add(-time.Millisecond) // steps back
		}
		c := Claim{ID: fmt.Sprint("r", i), Rules: rules, Tokens: 100}
		out, err := m.Reserve(ctx, c)
		if err != nil || !out.Admitted {
			t.Fatalf("reserve %d: %+v, %v", i, out, err)
		}
		all = append(all, held{c, out.Windows})
	}
	// Commit the even ones at i tokens, release the odd ones.
	var want int64
	for i, h := range all {
		if i%2 == 0 {
			if err := m.Commit(ctx, h.c, h.windows, int64(i)); err != nil {
				t.Fatal(err)
			}
			want += int64(i)
		} else if err := m.Release(ctx, h.c, h.windows); err != nil {
			t.Fatal(err)
		}
	}
	tpm := m.logs[logKey{"k", TokensPerMinute}]
	rpm := m.logs[logKey{"k", RequestsPerMinute}]
	if tpm.sum != want || len(tpm.entries) != 150 || rpm.sum != 150 || len(rpm.entries) != 150 {
		t.Errorf("tokens %d in %d entries, requests %d in %d; want %d in 150, 150 in 150", tpm.sum, len(tpm.entries), rpm.sum, len(rpm.entries), want)
	}
	for j, e := range tpm.entries {
		var i int64
		fmt.Sscanf(tpm.id(j), "r%d", &i)
		if i%2 != 0 || e.amount != i {
			t.Errorf("entry %s: %d tokens; want committed at %d", tpm.id(j), e.amount, i)
		}
	}
}

// TestMemoryConcurrencyExactUnderContention: goroutines reserving and
// settling one concurrency key at once never hold more slots than its
// limit, and every slot is free at the end (under -race: the lease sets
// and their expiry bound).
func TestMemoryConcurrencyExactUnderContention(t *testing.T) {
	const limit, workers, rounds = 8, 32, 200
	clk := newFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := NewMemory(clk)
	rule := Rule{Key: "p/k", Kind: Concurrency, Limit: limit}
	ctx := t.Context()
	var held, most atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				c := Claim{ID: fmt.Sprint(w, "/", i), Rules: []Rule{rule}, Lease: time.Minute}
				out, err := m.Reserve(ctx, c)
				if err != nil {
					t.Error(err)
					return
				}
				if !out.Admitted {
					continue
				}
				n := held.Add(1)
				for {
					old := most.Load()
					if n <= old || most.CompareAndSwap(old, n) {
						break
					}
				}
				held.Add(-1)
				var err2 error
				if i%2 == 0 {
					err2 = m.Commit(ctx, c, out.Windows, 0)
				} else {
					err2 = m.Release(ctx, c, out.Windows)
				}
				if err2 != nil {
					t.Error(err2)
					return
				}
			}
		})
	}
	wg.Wait()
	if most.Load() > limit {
		t.Errorf("%d slots held at once; limit %d", most.Load(), limit)
	}
	out, err := m.Reserve(ctx, Claim{ID: "last", Rules: []Rule{rule}, Lease: time.Minute})
	if err != nil || !out.Admitted || out.Rules[0].Used != 1 {
		t.Errorf("after all settled: %+v, %v; want admitted with 1 used", out, err)
	}
}
