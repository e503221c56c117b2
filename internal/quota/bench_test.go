package quota

import (
	"fmt"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// benchRequest carries a typical set of limits: the principal's rpm, tpm,
// concurrency and daily budget, and the deployment's capacity (7 rules).
var benchRequest = Request{
	Principal: "bench", Limits: Limits{RPM: 1 << 40, TPM: 1 << 50, MaxConcurrency: 1 << 30, TokensPerDay: 1 << 50},
	Model: "demo.chat-small", Profile: "eu.demo.chat-small",
	Deployment: "eu-west-1/demo.chat-small", Capacity: Capacity{MaxConcurrency: 1 << 30, RPM: 1 << 40, TPM: 1 << 50},
	InputTokens: 200, MaxTokens: 256,
}

// benchAdmission measures one request's quota cost: Admit, then Commit. It
// reports the Admit part alone as ns/admit.
func benchAdmission(b *testing.B, s Store) {
	l, err := New(Config{}, s, Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	var admit time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		r, err := l.Admit(ctx, benchRequest)
		admit += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Commit(ctx, inference.Usage{InputTokens: 200, OutputTokens: 100}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(admit.Nanoseconds())/float64(b.N), "ns/admit")
}

func BenchmarkAdmission(b *testing.B) {
	b.Run("memory", func(b *testing.B) { benchAdmission(b, NewMemory(nil)) })
	b.Run("redis", func(b *testing.B) {
		srv := startRedis(b)
		s := srv.newClient(b, "bench:", nil)
		// The memory store is the baseline, measured in the same run (a
		// nested testing.Benchmark would deadlock on the benchmark lock).
		memNs := min(baselineNs(b, NewMemory(nil), 20000), baselineNs(b, NewMemory(nil), 20000), baselineNs(b, NewMemory(nil), 20000))
		b.ResetTimer()
		benchAdmission(b, s)
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/memNs, "x-memory")
	})
	b.Run("cluster", func(b *testing.B) {
		s := sharedRedisCluster(b).newClient(b, "bench:", nil)
		memNs := min(baselineNs(b, NewMemory(nil), 20000), baselineNs(b, NewMemory(nil), 20000), baselineNs(b, NewMemory(nil), 20000))
		b.ResetTimer()
		benchAdmission(b, s)
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/memNs, "x-memory")
	})
}

// baselineNs returns the mean time of n Admit+Commit cycles on s.
func baselineNs(b *testing.B, s Store, n int) float64 {
	l, err := New(Config{}, s, Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	start := time.Now()
	for range n {
		r, err := l.Admit(ctx, benchRequest)
		if err != nil {
			b.Fatal(err)
		}
		r.Commit(ctx, inference.Usage{InputTokens: 200, OutputTokens: 100})
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

// BenchmarkAdmissionParallel measures throughput with many requests at once
// (the Redis client pipelines nothing; each admission is one round trip).
func BenchmarkAdmissionParallel(b *testing.B) {
	run := func(b *testing.B, s Store) {
		l, err := New(Config{}, s, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			ctx := b.Context()
			for pb.Next() {
				r, err := l.Admit(ctx, benchRequest)
				if err != nil {
					b.Error(err)
					return
				}
				r.Commit(ctx, inference.Usage{InputTokens: 200, OutputTokens: 100})
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
	}
	b.Run("memory", func(b *testing.B) { run(b, NewMemory(nil)) })
	b.Run("redis", func(b *testing.B) { run(b, startRedis(b).newClient(b, "benchp:", nil)) })
	// One store, one slot: a cluster serves it from one primary, like a
	// single server (docs/quotas.md, Redis Cluster).
	b.Run("cluster", func(b *testing.B) { run(b, sharedRedisCluster(b).newClient(b, "benchp:", nil)) })
}

// BenchmarkAdmissionFullWindow measures admission at a steady rate with the
// 60-second window full (3,000 requests/s: 180,000 entries per log), where
// each admission also expires one entry. Its cost must not grow with the
// rate; it is reported next to an empty-window run of the same store.
func BenchmarkAdmissionFullWindow(b *testing.B) {
	const rate = 3000
	step := time.Second / rate
	run := func(b *testing.B, prefill bool) {
		clk := newFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
		s := NewMemory(clk)
		l, err := New(Config{}, s, Options{Clock: clk})
		if err != nil {
			b.Fatal(err)
		}
		ctx := b.Context()
		if prefill {
			for range rate * 60 {
				r, _ := l.Admit(ctx, benchRequest)
				r.Commit(ctx, inference.Usage{InputTokens: 200, OutputTokens: 100})
				clk.Advance(step)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			r, err := l.Admit(ctx, benchRequest)
			if err != nil {
				b.Fatal(err)
			}
			r.Commit(ctx, inference.Usage{InputTokens: 200, OutputTokens: 100})
			clk.Advance(step)
		}
	}
	b.Run("empty", func(b *testing.B) { run(b, false) })
	b.Run("full", func(b *testing.B) { run(b, true) })
}

// TestAdmitAllocs pins one request's quota cost on the memory store, Admit
// then Commit of benchRequest's 7 rules, its window logs steady (the clock
// steps a second a request, so that each admission's entry replaces one a
// minute old). What it allocates: the reservation id, the store's rule
// states and windows (together), and the reservation with the claim's
// rules in it (4 before they shared one allocation); the
// counter keys are kept from the first request, and the concurrency
// leases reuse the set the previous request emptied.
func TestAdmitAllocs(t *testing.T) {
	clk := newFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l, err := New(Config{}, NewMemory(clk), Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	cycle := func() {
		clk.Advance(time.Second)
		r, err := l.Admit(ctx, benchRequest)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Commit(ctx, inference.Usage{InputTokens: 200, OutputTokens: 100}); err != nil {
			t.Fatal(err)
		}
	}
	for range 200 { // fill the window
		cycle()
	}
	if n := testing.AllocsPerRun(600, cycle); n != 3 {
		t.Errorf("Admit+Commit: %v allocations, want 3", n)
	}
}

// TestCounterKeys: a counter key is prefix+name whether kept, formatted
// past the bound, or formatted without a cache, and the cache never holds
// more than maxCounterKeys.
func TestCounterKeys(t *testing.T) {
	t.Parallel()
	var k counterKeys
	for i := range maxCounterKeys + 10 {
		name := fmt.Sprint("principal-", i)
		for range 2 { // formatted, then kept (or formatted again past the bound)
			if got := k.get("p/", name); got != "p/"+name {
				t.Fatalf("get(p/, %s) = %q", name, got)
			}
		}
	}
	if len(k.keys) != maxCounterKeys {
		t.Errorf("%d keys kept, want the bound %d", len(k.keys), maxCounterKeys)
	}
	if got := (*counterKeys)(nil).get("d/", "eu-west-1/m"); got != "d/eu-west-1/m" {
		t.Errorf("nil get = %q", got)
	}
	if got := k.get("d/", "principal-1"); got != "d/principal-1" {
		t.Errorf("get(d/, principal-1) = %q: prefixes must not share keys", got)
	}
}
