package dispatch

import (
	"net/http"
	"testing"
	"time"
)

// TestRouteSetHeaders: every inference response names its request, source
// region and, once known, where it ran, under which profile and why
// (invariant 5); unknown values are left out rather than sent empty.
func TestRouteSetHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		route Route
		want  map[string]string
	}{
		{"served", Route{RequestID: "r1", SourceRegion: "eu-west-1", InferenceRegion: "eu-central-1", ProfileID: "eu.m", Reason: "failover:throttled:eu-west-1"},
			map[string]string{HeaderRequestID: "r1", HeaderSourceRegion: "eu-west-1", HeaderInferenceRegion: "eu-central-1", HeaderInferenceProfile: "eu.m", HeaderRoute: "failover:throttled:eu-west-1"}},
		{"refused before routing", Route{RequestID: "r2", SourceRegion: "eu-west-1"},
			map[string]string{HeaderRequestID: "r2", HeaderSourceRegion: "eu-west-1", HeaderInferenceRegion: "", HeaderInferenceProfile: "", HeaderRoute: ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			tc.route.SetHeaders(h)
			for k, want := range tc.want {
				if got := h.Get(k); got != want {
					t.Errorf("SetHeaders(%+v): %s = %q, want %q", tc.route, k, got, want)
				}
				if _, set := h[http.CanonicalHeaderKey(k)]; want == "" && set {
					t.Errorf("SetHeaders(%+v): %s set although unknown", tc.route, k)
				}
			}
		})
	}
}

// TestHeaderNamesCanonical: SetHeaders keys the header with the constants
// as they are, so each must be spelled as http.Header keys it.
func TestHeaderNamesCanonical(t *testing.T) {
	t.Parallel()
	for _, k := range []string{HeaderRequestID, HeaderSourceRegion, HeaderInferenceRegion, HeaderInferenceProfile,
		HeaderRoute, HeaderOverhead, HeaderServerTiming} {
		if c := http.CanonicalHeaderKey(k); c != k {
			t.Errorf("header %q is not canonical (%q)", k, c)
		}
	}
}

// TestRouteSetHeadersAllocs pins the route headers' cost: one array of
// values shared by the seven fields, plus one string holding the overhead
// and Server-Timing values when the overhead is known. A header with room
// for the keys is reused, so that map growth is not counted.
func TestRouteSetHeadersAllocs(t *testing.T) {
	r := Route{RequestID: "r1", SourceRegion: "eu-west-1", InferenceRegion: "eu-central-1", ProfileID: "eu.m", Reason: "nearest"}
	for _, tc := range []struct {
		name     string
		overhead *Overhead
		want     float64
	}{
		{"no overhead", nil, 1},
		{"local", LocalOverhead(5*time.Millisecond, 3*time.Millisecond), 2},
		{"forwarded", ForwardedOverhead(9*time.Millisecond, 7*time.Millisecond, &Timing{Total: 5 * time.Millisecond, Upstream: 3 * time.Millisecond}), 2},
		{"unreported", ForwardedOverhead(9*time.Millisecond, 7*time.Millisecond, nil), 2},
	} {
		r.Overhead = tc.overhead
		h := http.Header{}
		r.SetHeaders(h)
		if n := testing.AllocsPerRun(100, func() { r.SetHeaders(h) }); n != tc.want {
			t.Errorf("%s: Route.SetHeaders: %v allocations, want %v", tc.name, n, tc.want)
		}
	}
}
