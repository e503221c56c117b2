package dispatch

import (
	"net/http"
	"testing"
	"time"
)

func TestOverheadHeaders(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	tests := []struct {
		name           string
		o              *Overhead
		header, timing string
	}{
		{"not measured", nil, "", ""},
		{"local", LocalOverhead(812*ms+410*time.Microsecond, 812*ms), "0.410", "meridian-source;dur=0.410, upstream;dur=812.000"},
		{"local, sub-microsecond rounds", LocalOverhead(1500, 0), "0.002", "meridian-source;dur=0.002, upstream;dur=0.000"},
		{"upstream longer than the handling", LocalOverhead(ms, 2*ms), "0.000", "meridian-source;dur=0.000, upstream;dur=2.000"},
		{"forwarded", ForwardedOverhead(20*ms, 17*ms, &Timing{Total: 5 * ms, Upstream: 4 * ms}), "16.000",
			"meridian-source;dur=3.000, link;dur=12.000, meridian-destination;dur=1.000, upstream;dur=4.000"},
		{"forwarded, unreported", ForwardedOverhead(20*ms, 17*ms, nil), "", "meridian-source;dur=3.000"},
		{"forwarded, negative report", ForwardedOverhead(20*ms, 17*ms, &Timing{Total: -ms, Upstream: -ms}), "20.000",
			"meridian-source;dur=3.000, link;dur=17.000, meridian-destination;dur=0.000, upstream;dur=0.000"},
	}
	for _, tc := range tests {
		h := http.Header{}
		Route{RequestID: "r", SourceRegion: "eu-west-1", Overhead: tc.o}.SetHeaders(h)
		if got := h.Get(HeaderOverhead); got != tc.header {
			t.Errorf("%s: %s = %q, want %q", tc.name, HeaderOverhead, got, tc.header)
		}
		if got := h.Get(HeaderServerTiming); got != tc.timing {
			t.Errorf("%s: Server-Timing = %q, want %q", tc.name, got, tc.timing)
		}
	}
}

// TestForwardedOverheadAddsUp: the parts always sum to the handling time
// minus the upstream's, and none is negative, whatever the destination
// reports.
func TestForwardedOverheadAddsUp(t *testing.T) {
	t.Parallel()
	for _, total := range []time.Duration{0, 5, 100} {
		for _, forward := range []time.Duration{0, 3, 100, 200} {
			for _, dt := range []time.Duration{-1, 0, 2, 150, 300} {
				for _, up := range []time.Duration{-1, 0, 1, 150, 400} {
					o := ForwardedOverhead(total, forward, &Timing{Total: dt, Upstream: up})
					if o.Source < 0 || o.Link < 0 || o.Destination < 0 || o.Upstream < 0 {
						t.Fatalf("ForwardedOverhead(%d, %d, %d/%d) = %+v: a negative part", total, forward, dt, up, o)
					}
					if total >= forward && o.Total()+o.Upstream != total {
						t.Errorf("ForwardedOverhead(%d, %d, %d/%d) = %+v: total+upstream %d, want %d", total, forward, dt, up, o, o.Total()+o.Upstream, total)
					}
				}
			}
		}
	}
}
