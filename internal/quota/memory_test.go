package quota

import (
	"fmt"
	"testing"
	"time"
)

func TestMemoryStore(t *testing.T) {
	runStoreSuite(t, func(t *testing.T, clock Clock) func() Store {
		m := NewMemory(clock)
		return func() Store { return m }
	})
}

// TestMemoryRulesSharingACounter: rules of one claim with the same key and
// kind count in one counter, made by the first of them when the check
// found none (Reserve keeps what its check found for the update, and
// looks such rules up again): each rule's state reports the counter after
// the rules before it, and the counts settle to nothing.
func TestMemoryRulesSharingACounter(t *testing.T) {
	clk := newFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := NewMemory(clk)
	ctx := t.Context()
	rules := []Rule{
		{Key: "k", Kind: RequestsPerMinute, Limit: 10},
		{Key: "k", Kind: TokensPerMinute, Limit: 1000},
		{Key: "k", Kind: Concurrency, Limit: 10},
		{Key: "k", Kind: TokensPerDay, Limit: 1000},
		{Key: "k", Kind: RequestsPerMinute, Limit: 10},
		{Key: "k", Kind: TokensPerMinute, Limit: 1000},
		{Key: "k", Kind: Concurrency, Limit: 10},
		{Key: "k", Kind: TokensPerDay, Limit: 1000},
	}
	var held []Claim
	var windows [][]int64
	for n := int64(1); n <= 2; n++ {
		c := Claim{ID: fmt.Sprint("r", n), Rules: rules, Tokens: 10, Lease: time.Minute}
		out, err := m.Reserve(ctx, c)
		if err != nil || !out.Admitted {
			t.Fatalf("reservation %d: %+v, %v", n, out, err)
		}
		// Before this claim, 2(n-1) entries of each counter; the first
		// rule of each counter adds one, the second another.
		for i, st := range out.Rules {
			per := int64(1)
			if k := rules[i].Kind; k == TokensPerMinute || k == TokensPerDay {
				per = 10
			}
			want := (2*(n-1) + 1) * per
			if i >= 4 {
				want += per
			}
			if rules[i].Kind == Concurrency {
				// Leases are keyed by id: the second rule holds the
				// same lease again.
				want = n
			}
			if st.Used != want {
				t.Errorf("reservation %d, rule %d (%v): used %d, want %d", n, i, rules[i].Kind, st.Used, want)
			}
		}
		held, windows = append(held, c), append(windows, out.Windows)
	}
	for i, c := range held {
		if err := m.Release(ctx, c, windows[i]); err != nil {
			t.Fatal(err)
		}
	}
	if len(m.logs) != 0 || len(m.leases) != 0 || m.budgets[logKey{"k", TokensPerDay}].used != 0 {
		t.Errorf("after release: logs %v leases %v budget %+v", m.logs, m.leases, m.budgets[logKey{"k", TokensPerDay}])
	}
}
