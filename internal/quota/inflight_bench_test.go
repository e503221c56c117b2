package quota

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkMemoryInFlight is one request's reservation and commit on the
// memory store while n others of the same principal are in flight (their
// concurrency leases held, their window entries after it): the store's
// work under its one lock, which every request of the node waits for.
func BenchmarkMemoryInFlight(b *testing.B) {
	rules := []Rule{
		{Key: "p/bench", Kind: RequestsPerMinute, Limit: 1 << 40},
		{Key: "p/bench", Kind: TokensPerMinute, Limit: 1 << 50},
		{Key: "p/bench", Kind: Concurrency, Limit: 1 << 30},
	}
	for _, n := range []int{0, 32, 256} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			clk := newFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			m := NewMemory(clk)
			ctx := b.Context()
			reserve := func(id string) (Claim, Outcome) {
				c := Claim{ID: id, Rules: rules, Tokens: 300, Lease: time.Hour}
				out, err := m.Reserve(ctx, c)
				if err != nil || !out.Admitted {
					b.Fatal(out, err)
				}
				return c, out
			}
			// The n in flight: a ring, the oldest settled as each request
			// comes, so that n requests are always admitted after the one
			// settled.
			ring := make([]Claim, n)
			outs := make([]Outcome, n)
			for i := range ring {
				ring[i], outs[i] = reserve(fmt.Sprint("w", i))
			}
			ids := make([]string, b.N)
			for i := range ids {
				ids[i] = fmt.Sprint("r", i)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				clk.Advance(time.Microsecond)
				c, out := reserve(ids[i])
				if n == 0 {
					m.Commit(ctx, c, out.Windows, 200)
					continue
				}
				k := i % n
				m.Commit(ctx, ring[k], outs[k].Windows, 200)
				ring[k], outs[k] = c, out
			}
		})
	}
}
