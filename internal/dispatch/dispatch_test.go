package dispatch

import (
	"net/http"
	"testing"
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
