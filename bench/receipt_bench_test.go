package bench

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/receipt"
)

// BenchmarkReceipts measures what a residency receipt costs a request:
// the same sequential requests with and without x-meridian-receipt: true,
// locally served and forwarded, in one cluster and one run, so that the
// difference between "off" and "on" is the receipt (hashing the request and
// the answer, one ECDSA P-256 signature, a few kilobytes more on the wire,
// and for a forwarded request its trip back over the link).
//
//	go test -run XXX -bench Receipts -benchtime 300x ./bench/
func BenchmarkReceipts(b *testing.B) {
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
		for _, path := range []struct{ name, key string }{{MeridianLocal, c.LocalKey}, {MeridianForwarded, c.ForwardedKey}} {
			for _, on := range []bool{false, true} {
				name := mode.name + "/" + path.name + "/receipts-off"
				if on {
					name = mode.name + "/" + path.name + "/receipts-on"
				}
				b.Run(name, func(b *testing.B) {
					t := newTarget(path.name, c.Source, path.key, 4, 30*time.Second)
					defer t.close()
					if on {
						t.Header = http.Header{receipt.Header: {"true"}}
					}
					t.sequential(b.Context(), body, mode.stream, 20) // warm
					b.ReportAllocs()
					errs := 0
					for b.Loop() {
						if s := t.do(b.Context(), body, mode.stream, time.Now()); s.err != nil {
							if errs++; errs > 10 {
								b.Fatalf("%d errors; last: %v", errs, s.err)
							}
						}
					}
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
				})
			}
		}
	}
}
