package quota

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	rtmetrics "runtime/metrics"
	"slices"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestWindowLogMatchesModel drives a window log through inserts (some out
// of time order), trims, releases and amount changes long enough for its id
// arena to be compacted many times, and checks it against a plain model
// after every step: the same entries in the same order, each with its own
// id and amount, and the same sum.
func TestWindowLogMatchesModel(t *testing.T) {
	type entry struct {
		at     int64
		id     string
		amount int64
	}
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0))
			l := &windowLog{}
			var model []entry
			var now int64
			compactions := 0
			for i := range 20000 {
				switch op := rng.IntN(10); {
				case op < 5: // insert, now and then behind the clock
					at := now
					if rng.IntN(20) == 0 {
						at -= rng.Int64N(1000)
					}
					id := fmt.Sprintf("replica-%d/%x-%d", seed, rng.Uint64(), i)
					amount := rng.Int64N(500)
					dead := l.dead
					l.insert(at, id, amount)
					if dead > 0 && l.dead == 0 {
						compactions++
					}
					j := len(model)
					for j > 0 && model[j-1].at > at {
						j--
					}
					model = slices.Insert(model, j, entry{at, id, amount})
				case op < 7: // trim the front, as Memory.trim does
					now += rng.Int64N(200)
					k := 0
					for k < len(l.entries) && l.entries[k].at <= now-2000 {
						l.sum -= l.entries[k].amount
						l.drop(l.entries[k])
						k++
					}
					l.entries = l.entries[k:]
					model = model[k:]
				case op < 9 && len(model) > 0: // release one
					m := model[rng.IntN(len(model))]
					j := l.find(m.id)
					if j < 0 {
						t.Fatalf("step %d: %s not found", i, m.id)
					}
					l.sum -= l.entries[j].amount
					l.drop(l.entries[j])
					l.entries = append(l.entries[:j], l.entries[j+1:]...)
					model = slices.DeleteFunc(model, func(e entry) bool { return e.id == m.id })
				case len(model) > 0: // commit another amount
					m := &model[rng.IntN(len(model))]
					j := l.find(m.id)
					if j < 0 {
						t.Fatalf("step %d: %s not found", i, m.id)
					}
					amount := rng.Int64N(500)
					l.sum += amount - l.entries[j].amount
					l.entries[j].amount, m.amount = amount, amount
				}
				var sum int64
				if len(l.entries) != len(model) {
					t.Fatalf("step %d: %d entries, model %d", i, len(l.entries), len(model))
				}
				for j, m := range model {
					e := l.entries[j]
					if e.at != m.at || e.amount != m.amount || l.id(j) != m.id {
						t.Fatalf("step %d: entry %d is (%d, %s, %d), model (%d, %s, %d)", i, j, e.at, l.id(j), e.amount, m.at, m.id, m.amount)
					}
					sum += m.amount
				}
				if l.sum != sum {
					t.Fatalf("step %d: sum %d, model %d", i, l.sum, sum)
				}
				if live := len(l.ids) - l.dead; live < 0 || l.dead < 0 {
					t.Fatalf("step %d: arena %d bytes, %d dead", i, len(l.ids), l.dead)
				}
			}
			if compactions == 0 {
				t.Errorf("the arena was never compacted: the test does not cover compact")
			}
		})
	}
}

// heapNow returns the live heap objects and scannable heap bytes after a
// full collection.
func heapNow() (objects, scannable uint64) {
	runtime.GC()
	runtime.GC()
	s := []rtmetrics.Sample{{Name: "/gc/heap/objects:objects"}, {Name: "/gc/scan/heap:bytes"}}
	rtmetrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

// TestMemoryRetainsNoObjectPerRequest pins what the memory store keeps for
// each request admitted and committed within the window: no heap object of
// its own (the reservation id lives in its logs' arenas) and nothing the
// collector scans (docs/performance.md, "Live heap per request"). With an
// id string per entry it kept one object and 40 scannable bytes per log per
// request. The bounds are loose (a few objects per thousand requests) so
// that what else the test binary runs does not make the test flaky: the
// counts are of objects, not times.
func TestMemoryRetainsNoObjectPerRequest(t *testing.T) {
	clk := newFakeClock(time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC))
	s := NewMemory(clk)
	l, err := New(Config{}, s, Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	admit := func(n int) {
		for range n {
			r, err := l.Admit(ctx, benchRequest)
			if err != nil {
				t.Fatal(err)
			}
			r.Commit(ctx, inference.Usage{InputTokens: 200, OutputTokens: 100})
			clk.Advance(time.Millisecond) // 20,000 requests: 20 s, all in the window
		}
	}
	admit(1000) // the logs and maps exist
	const n = 20000
	o0, s0 := heapNow()
	admit(n)
	o1, s1 := heapNow()
	runtime.KeepAlive(l)
	runtime.KeepAlive(s)
	entries := 0
	for _, lg := range s.logs {
		entries += len(lg.entries)
	}
	if entries < n {
		t.Fatalf("%d entries in the logs after %d requests: the window dropped some", entries, n)
	}
	objects := (float64(o1) - float64(o0)) * 1000 / n
	scan := (float64(s1) - float64(s0)) * 1000 / n
	t.Logf("per 1,000 requests retained: %.1f objects, %.0f scannable bytes (%d entries in %d logs)", objects, scan, entries, len(s.logs))
	if objects > 20 {
		t.Errorf("the store keeps %.1f heap objects per 1,000 requests; want about none", objects)
	}
	if scan > 4096 {
		t.Errorf("the store keeps %.0f scannable bytes per 1,000 requests; want about none", scan)
	}
}
