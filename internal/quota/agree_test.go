package quota

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestStoresAgree drives Memory, Redis and a Redis Cluster with the same
// random sequence of reservations, commits, releases and clock moves
// (crossing a day and a month boundary) and requires identical outcomes at
// every step: the differential form of "identical semantics".
func TestStoresAgree(t *testing.T) {
	srv := startRedis(t)
	cluster := sharedRedisCluster(t)
	names := []string{"memory", "redis", "cluster"}
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			ctx := t.Context()
			clock := newFakeClock(time.Date(2026, 11, 30, 23, 40, 0, 0, time.UTC))
			stores := []Store{NewMemory(clock), srv.newClient(t, fmt.Sprintf("agree%d:", seed), clock), cluster.newClient(t, fmt.Sprintf("agree%d:", seed), clock)}
			rng := rand.New(rand.NewPCG(seed, 9))

			type slot struct {
				key  string
				kind Kind
			}
			var slots []slot
			limits := map[slot]int64{}
			for _, k := range []string{"p/a", "p/a/m/x", "p/b", "d/r/x"} {
				for kind := RequestsPerMinute; kind <= TokensPerMonth; kind++ {
					s := slot{k, kind}
					slots = append(slots, s)
					switch kind {
					case RequestsPerMinute, Concurrency:
						limits[s] = 2 + rng.Int64N(8)
					default:
						limits[s] = 100 + rng.Int64N(900)
					}
				}
			}
			type held struct {
				c Claim
				w []int64
			}
			var live []held
			for step := range 2000 {
				switch op := rng.IntN(10); {
				case op < 5:
					c := Claim{ID: fmt.Sprint("r", step), Tokens: rng.Int64N(120), Lease: time.Duration(30+rng.IntN(90)) * time.Second}
					for _, i := range rng.Perm(len(slots))[:1+rng.IntN(4)] {
						s := slots[i]
						c.Rules = append(c.Rules, Rule{Key: s.key, Kind: s.kind, Limit: limits[s]})
					}
					outs := make([]Outcome, len(stores))
					for i, s := range stores {
						o, err := s.Reserve(ctx, c)
						if err != nil {
							t.Fatal(err)
						}
						outs[i] = o
					}
					for i := 1; i < len(stores); i++ {
						if diff := cmp.Diff(outs[0], outs[i]); diff != "" {
							t.Fatalf("step %d: Reserve(%+v) memory vs %s (-memory +%[3]s):\n%s", step, c, names[i], diff)
						}
					}
					if outs[0].Admitted {
						live = append(live, held{c, outs[0].Windows})
					}
				case op < 8 && len(live) > 0:
					i := rng.IntN(len(live))
					h := live[i]
					live = append(live[:i], live[i+1:]...)
					actual := rng.Int64N(200)
					switch rng.IntN(40) {
					case 0: // absurd usage reported back: clamped alike
						actual = 1<<63 - 1
					case 1:
						actual = -1 << 62
					case 2:
						actual = 1<<53 + 1
					}
					release := op == 7
					for _, s := range stores {
						var err error
						if release {
							err = s.Release(ctx, h.c, h.w)
						} else {
							err = s.Commit(ctx, h.c, h.w, actual)
						}
						if err != nil {
							t.Fatal(err)
						}
					}
				default:
					d := time.Duration(rng.Int64N(int64(15 * time.Second)))
					if rng.IntN(20) == 0 {
						d = time.Duration(rng.Int64N(int64(10 * time.Minute)))
					}
					clock.Advance(d.Truncate(time.Microsecond))
				}
			}
			if end := clock.Now(); end.Month() == 11 {
				t.Errorf("the sequence ended at %v, before the month boundary it should cross", end)
			}
		})
	}
}
