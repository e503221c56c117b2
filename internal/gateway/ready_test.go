package gateway

import (
	"context"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/inference/inferencetest"
)

// TestOutcomeStreamTellsReadiness: the stream the gateway returns, served
// here or in another region (wrapped for the link's idle time-out), and
// wrapped to track and record it, still tells whether its next event is
// here: a wrapper that lost Ready would make every relay flush after each
// event again.
func TestOutcomeStreamTellsReadiness(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, region string
	}{{"local", "eu-west-1"}, {"forwarded", "eu-central-1"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, "")
			inner := make(inferencetest.ChanStream, 4)
			e.b.serve = func(_ context.Context, region string, _ int, _ *inference.Request) (*inference.Response, inference.Stream, error) {
				if region != tc.region {
					return nil, nil, unavailable(region)
				}
				return nil, inner, nil
			}
			out, err := e.invoke(t, "req-ready-"+tc.name, true)
			if err != nil {
				t.Fatal(err)
			}
			defer out.Stream.Close()
			if out.Route.InferenceRegion != tc.region {
				t.Fatalf("served in %s, want %s", out.Route.InferenceRegion, tc.region)
			}
			if inference.Ready(out.Stream) {
				t.Error("Ready with nothing waiting")
			}
			inner <- inference.Event{Kind: inference.EventDelta, Text: "hi"}
			if !inference.Ready(out.Stream) {
				t.Errorf("not Ready with an event waiting (%T does not pass Ready on)", out.Stream)
			}
		})
	}
}
