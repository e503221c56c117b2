package otel

import (
	"context"
	"math"
	"testing"

	"github.com/meridian-gateway/meridian/internal/gateway"
)

// TestGenAIMetricValues: what each histogram observes for a record, and
// that a record of the destination side or of the control plane is not
// counted.
func TestGenAIMetricValues(t *testing.T) {
	t.Parallel()
	tel, _, reg := newTest(t, 1, false)
	ctx := context.Background()
	tel.Record(ctx, served("source"))                                                              // stream: 10 in, 5 out, TTFT 100ms, latency 300ms
	tel.Record(ctx, served("destination"))                                                         // counted at its source only
	tel.Record(ctx, &gateway.Record{Side: "source", Operation: gateway.OpListModels, Status: 200}) // runs no model
	failed := served("source")
	failed.Status, failed.ErrorCode, failed.Usage.InputTokens, failed.Usage.OutputTokens = 503, "unavailable", 0, 0
	tel.Record(ctx, failed)

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string][2]float64{} // family → (count, sum) over its series
	for _, f := range families {
		for _, m := range f.GetMetric() {
			h := m.GetHistogram()
			s := sums[f.GetName()]
			s[0] += float64(h.GetSampleCount())
			s[1] += h.GetSampleSum()
			sums[f.GetName()] = s
		}
	}
	for _, tc := range []struct {
		family     string
		count, sum float64
	}{
		{"gen_ai_client_token_usage", 2, 15},
		{"gen_ai_server_request_duration_seconds", 2, 0.6},
		{"gen_ai_server_time_to_first_token_seconds", 1, 0.1},
		{"gen_ai_server_time_per_output_token_seconds", 1, 0.05}, // (300ms - 100ms) / (5 - 1)
	} {
		got := sums[tc.family]
		if got[0] != tc.count || math.Abs(got[1]-tc.sum) > 1e-9 {
			t.Errorf("%s: count %g sum %g, want %g and %g", tc.family, got[0], got[1], tc.count, tc.sum)
		}
	}
}

// TestSampledRequestIsAnExemplar: a traced, sampled request's duration is
// recorded with its trace id as the histogram's exemplar, so a latency
// bucket links to a trace; an unsampled request leaves none.
func TestSampledRequestIsAnExemplar(t *testing.T) {
	for _, tc := range []struct {
		name        string
		traceparent string
		status      int
		want        string // the exemplar's trace id; "" for none
	}{
		{"sampled", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 200, "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"not sampled", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", 200, ""},
		// Not traced (see TestUnauthenticatedNotTraced): no exemplar names
		// a trace the collector never receives.
		{"sampled but unauthenticated", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tel, _, reg := newTest(t, 1, false)
			ctx := arrive(t, tel, tc.traceparent)
			rec := served("source")
			rec.Status = tc.status
			if tc.status == 401 {
				rec.PrincipalID = ""
			}
			if err := tel.Record(ctx, rec); err != nil {
				t.Fatal(err)
			}
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, mf := range mfs {
				if mf.GetName() != "gen_ai_server_request_duration_seconds" {
					continue
				}
				for _, m := range mf.GetMetric() {
					for _, b := range m.GetHistogram().GetBucket() {
						for _, l := range b.GetExemplar().GetLabel() {
							if l.GetName() == "trace_id" {
								got = l.GetValue()
							}
						}
					}
				}
			}
			if got != tc.want {
				t.Fatalf("exemplar trace id %q, want %q", got, tc.want)
			}
		})
	}
}
