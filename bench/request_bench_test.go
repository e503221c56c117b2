package bench

import (
	"context"
	"testing"
	"time"
)

// BenchmarkRequestPath sends sequential requests down each path of one
// cluster. allocs/op counts the whole process (client, proxy or node, and
// mockllm), so a Meridian path's allocations are its figure minus direct's,
// measured in the same run.
func BenchmarkRequestPath(b *testing.B) {
	c, err := StartCluster(context.Background(), ClusterOptions{Upstream: UpstreamConfig(16)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for _, mode := range []struct {
		name   string
		stream bool
	}{{"non-streaming", false}, {"streaming", true}} {
		body := RequestBody(mode.stream, 16)
		for _, tc := range []struct{ name, base, key string }{
			{Direct, c.Upstream, ""}, {BareProxy, c.Proxy, ""},
			{MeridianLocal, c.Source, c.LocalKey}, {MeridianForwarded, c.Source, c.ForwardedKey},
		} {
			b.Run(mode.name+"/"+tc.name, func(b *testing.B) {
				t := newTarget(tc.name, tc.base, tc.key, 16, 30*time.Second)
				defer t.close()
				t.sequential(b.Context(), body, mode.stream, 20) // warm
				b.ReportAllocs()
				errs := 0
				for b.Loop() {
					if s := t.do(b.Context(), body, mode.stream, time.Now()); s.err != nil {
						// A few errors are counted, not fatal: on a
						// busy machine a benchmark measures, it does
						// not judge.
						if errs++; errs > 10 {
							b.Fatalf("%d errors; last: %v", errs, s.err)
						}
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
				b.ReportMetric(float64(errs), "errors")
			})
		}
	}
}
