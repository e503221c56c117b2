package gateway

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// TestOverheadPartsAddUp: meridian_overhead_seconds's parts add up to its
// total, for local and forwarded requests alike: source is observed
// whenever total is (a local request's overhead is all the source's), link
// and destination for forwarded requests; an unreported forward observes
// nothing.
func TestOverheadPartsAddUp(t *testing.T) {
	t.Parallel()
	g := &Gateway{metrics: telemetry.NewMetrics("eu-west-1")}
	g.observeOverhead(dispatch.LocalOverhead(5*time.Millisecond, 4*time.Millisecond))
	g.observeOverhead(dispatch.ForwardedOverhead(20*time.Millisecond, 18*time.Millisecond, &dispatch.Timing{Total: 10 * time.Millisecond, Upstream: 9 * time.Millisecond}))
	g.observeOverhead(dispatch.ForwardedOverhead(20*time.Millisecond, 18*time.Millisecond, nil))
	sums := map[string]float64{}
	for part, want := range map[string]uint64{"total": 2, "source": 2, "link": 1, "destination": 1} {
		m := &dto.Metric{}
		if err := g.metrics.Overhead.WithLabelValues(part).(prometheus.Histogram).Write(m); err != nil {
			t.Fatal(err)
		}
		if got := m.GetHistogram().GetSampleCount(); got != want {
			t.Errorf("part %s: %d observations, want %d", part, got, want)
		}
		sums[part] = m.GetHistogram().GetSampleSum()
	}
	if parts := sums["source"] + sums["link"] + sums["destination"]; math.Abs(parts-sums["total"]) > 1e-12 {
		t.Errorf("sum of parts %.6f s, total %.6f s", parts, sums["total"])
	}
}
