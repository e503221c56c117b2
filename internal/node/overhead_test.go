package node

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/audit"
)

// TestOverheadHeadersOnAForwardedRequest: a request forwarded over the real
// link (eu-west-1's upstream throttles, so eu-central-1 serves) carries
// x-meridian-overhead-ms and a Server-Timing split into source, link and
// destination whose parts are non-negative and add up to the total within
// rounding, streamed and not; the audit events carry the same split
// (overheadMs). Magnitudes are not asserted.
func TestOverheadHeadersOnAForwardedRequest(t *testing.T) {
	c := startCluster(t, threeRegions, "")
	c.mocks["eu-west-1"].SetThrottled(time.Minute)
	headers := map[string]float64{} // request id: x-meridian-overhead-ms
	for _, stream := range []bool{false, true} {
		status, h, body := c.post("eu-west-1", chatBody("eu.demo.chat-small", stream), c.key)
		if status != 200 {
			t.Fatalf("stream=%v: status %d: %s", stream, status, body)
		}
		if got := h.Get("X-Meridian-Inference-Region"); got != "eu-central-1" {
			t.Fatalf("stream=%v: served in %q, want eu-central-1 (forwarded)", stream, got)
		}
		total, err := strconv.ParseFloat(h.Get("X-Meridian-Overhead-Ms"), 64)
		if err != nil || total < 0 {
			t.Fatalf("stream=%v: x-meridian-overhead-ms = %q, want a non-negative number", stream, h.Get("X-Meridian-Overhead-Ms"))
		}
		parts := map[string]float64{}
		for m := range strings.SplitSeq(h.Get("Server-Timing"), ",") {
			name, dur, ok := strings.Cut(strings.TrimSpace(m), ";dur=")
			v, err := strconv.ParseFloat(dur, 64)
			if !ok || err != nil || v < 0 {
				t.Fatalf("stream=%v: Server-Timing metric %q is not name;dur=N with N >= 0", stream, m)
			}
			parts[name] = v
		}
		for _, name := range []string{"meridian-source", "link", "meridian-destination", "upstream"} {
			if _, ok := parts[name]; !ok {
				t.Errorf("stream=%v: Server-Timing %q lacks %s", stream, h.Get("Server-Timing"), name)
			}
		}
		// Each value is rounded to the microsecond: three roundings.
		if sum := parts["meridian-source"] + parts["link"] + parts["meridian-destination"]; math.Abs(sum-total) > 0.0015+1e-9 {
			t.Errorf("stream=%v: source+link+destination = %.3f, x-meridian-overhead-ms = %.3f", stream, sum, total)
		}
		headers[h.Get("X-Meridian-Request-Id")] = total
	}

	// Close the nodes so that every event is flushed.
	c.shutdown()
	seen := map[string]int{}
	if err := audit.Query(c.auditDir, audit.Filter{}, func(e *audit.Event) error {
		total, ok := headers[e.EventID]
		if !ok {
			return nil
		}
		o := e.OverheadMs
		if o == nil || o.Total == nil || o.Upstream == nil || o.Destination == nil {
			t.Errorf("%s event of %s: overheadMs %+v, want total, destination and upstream", e.Side, e.EventID, o)
			return nil
		}
		seen[string(e.Side)]++
		if e.Side == audit.SideSource {
			if o.Source == nil || o.Link == nil {
				t.Errorf("source event of %s: overheadMs %+v, want source and link", e.EventID, o)
			} else if *o.Total != total {
				t.Errorf("source event of %s: overheadMs.total %.3f, header %.3f", e.EventID, *o.Total, total)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if seen["source"] != 2 || seen["destination"] != 2 {
		t.Errorf("events with overheadMs: %v, want 2 source and 2 destination", seen)
	}
}
