package bench

import (
	"context"
	"testing"
	"time"
)

// BenchmarkOwnStreamAllocs is BenchmarkOwnAllocs for a whole stream of the
// bench's default length (16 tokens): Meridian's own allocations per
// streamed request, local and forwarded (both nodes and the link), its
// per-request and per-event parts together, as the closed loop's streaming
// phase sends them. Each iteration sends the same stream straight to
// mockllm and through Meridian and subtracts.
//
//	go test -run XXX -bench OwnStreamAllocs -benchtime 500x ./bench/
func BenchmarkOwnStreamAllocs(b *testing.B) {
	const tokens = 16
	c, err := StartCluster(context.Background(), ClusterOptions{Upstream: UpstreamConfig(tokens)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	direct := newTarget(Direct, c.Upstream, "", 4, 30*time.Second)
	defer direct.close()
	for _, tc := range []struct{ name, key string }{{MeridianLocal, c.LocalKey}, {MeridianForwarded, c.ForwardedKey}} {
		t := newTarget(tc.name, c.Source, tc.key, 4, 30*time.Second)
		defer t.close()
		errs := 0
		allocs := func(b *testing.B, target *Target, body []byte) float64 {
			a := heapAllocs()
			if s := target.do(b.Context(), body, true, time.Now()); s.err != nil {
				if errs++; errs > 10 { // counted, not fatal: a busy machine is no reason to fail
					b.Fatalf("%d errors; last: %v", errs, s.err)
				}
			}
			return float64(heapAllocs() - a)
		}
		b.Run("stream/"+tc.name, func(b *testing.B) {
			body := RequestBody(true, tokens)
			t.sequential(b.Context(), body, true, 20)
			direct.sequential(b.Context(), body, true, 20)
			var own float64
			b.ReportAllocs()
			for b.Loop() {
				own += allocs(b, t, body) - allocs(b, direct, body)
			}
			b.ReportMetric(own/float64(b.N), "own-allocs/stream")
		})
	}
}
