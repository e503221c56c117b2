package bench

import (
	"context"
	"runtime/metrics"
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

// heapAllocs returns the process's cumulative count of heap allocations
// (cheap to read: it does not stop the world as ReadMemStats does).
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// BenchmarkOwnAllocs pins Meridian's own allocations: per request, per
// whole stream of 16 tokens, and per streamed token, on the local and the forwarded path (the forwarded figure
// counts both nodes and the link). Each iteration sends the same request
// straight to mockllm and through Meridian and subtracts: what remains is
// what the node(s) allocate, since client and mockllm do the same work on
// both. Per token, each iteration does so for a long and a short stream and
// divides the difference by the tokens between them, which cancels the
// per-request part.
//
//	go test -run XXX -bench OwnAllocs -benchtime 500x ./bench/
func BenchmarkOwnAllocs(b *testing.B) {
	const short, long = 16, 272
	c, err := StartCluster(context.Background(), ClusterOptions{Upstream: UpstreamConfig(long)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	direct := newTarget(Direct, c.Upstream, "", 4, 30*time.Second)
	defer direct.close()
	for _, tc := range []struct{ name, key string }{{MeridianLocal, c.LocalKey}, {MeridianForwarded, c.ForwardedKey}} {
		t := newTarget(tc.name, c.Source, tc.key, 4, 30*time.Second)
		defer t.close()
		// allocs sends body to target and returns the process's
		// allocations during the request.
		errs := 0
		allocs := func(b *testing.B, target *Target, body []byte, stream bool) float64 {
			a := heapAllocs()
			if s := target.do(b.Context(), body, stream, time.Now()); s.err != nil {
				if errs++; errs > 10 { // counted, not fatal: a busy machine is no reason to fail
					b.Fatalf("%d errors; last: %v", errs, s.err)
				}
			}
			return float64(heapAllocs() - a)
		}
		b.Run("request/"+tc.name, func(b *testing.B) {
			body := RequestBody(false, short)
			t.sequential(b.Context(), body, false, 20)
			direct.sequential(b.Context(), body, false, 20)
			var own float64
			b.ReportAllocs()
			for b.Loop() {
				own += allocs(b, t, body, false) - allocs(b, direct, body, false)
			}
			b.ReportMetric(own/float64(b.N), "own-allocs/req")
		})
		// A whole stream of the bench's default length, its per-request
		// and per-event parts together, as the closed loop's streaming
		// phase sends it.
		b.Run("stream/"+tc.name, func(b *testing.B) {
			body := RequestBody(true, short)
			t.sequential(b.Context(), body, true, 20)
			direct.sequential(b.Context(), body, true, 20)
			var own float64
			b.ReportAllocs()
			for b.Loop() {
				own += allocs(b, t, body, true) - allocs(b, direct, body, true)
			}
			b.ReportMetric(own/float64(b.N), "own-allocs/stream")
		})
		b.Run("token/"+tc.name, func(b *testing.B) {
			s, l := RequestBody(true, short), RequestBody(true, long)
			for _, body := range [][]byte{s, l} {
				t.sequential(b.Context(), body, true, 10)
				direct.sequential(b.Context(), body, true, 10)
			}
			var own float64
			b.ReportAllocs()
			for b.Loop() {
				own += (allocs(b, t, l, true) - allocs(b, direct, l, true)) - (allocs(b, t, s, true) - allocs(b, direct, s, true))
			}
			b.ReportMetric(own/float64(b.N)/(long-short), "own-allocs/token")
		})
	}
}
