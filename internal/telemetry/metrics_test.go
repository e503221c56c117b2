package telemetry

import (
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// TestSeriesExistFromStart: a counter series that appears with its first
// event is invisible to Prometheus' increase(), so the first source-side
// residency rejection (a bug that should never happen) or queue refusal
// would not fire an alert. Every label value known at start is exported
// at 0 on a fresh node.
func TestSeriesExistFromStart(t *testing.T) {
	t.Parallel()
	m := NewMetrics("eu-west-1")
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]float64{}
	for _, f := range fams {
		for _, mt := range f.GetMetric() {
			if got[f.GetName()] == nil {
				got[f.GetName()] = map[string]float64{}
			}
			got[f.GetName()][labelOf(mt, f.GetName())] = mt.GetCounter().GetValue()
		}
	}
	tests := []struct {
		metric string
		values []string
	}{
		{"meridian_residency_rejections_total", []string{"source", "destination"}},
		{"meridian_queue_rejections_total", []string{"predicted_wait", "hopeless", "standing", "full", "timeout", "flex"}},
	}
	for _, tc := range tests {
		for _, v := range tc.values {
			val, ok := got[tc.metric][v]
			if !ok {
				t.Errorf("%s{%s} absent on a fresh node", tc.metric, v)
			} else if val != 0 {
				t.Errorf("%s{%s} = %v on a fresh node", tc.metric, v, val)
			}
		}
	}
}

// labelOf is the value of the metric's one variable label (region is
// constant).
func labelOf(m *dto.Metric, _ string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() != "region" {
			return l.GetValue()
		}
	}
	return ""
}

// TestNewCounters: the per-destination counters and the not-callable
// counter are registered with bounded labels and count what they are fed.
func TestNewCounters(t *testing.T) {
	t.Parallel()
	m := NewMetrics("eu-west-1")
	m.Attempts.WithLabelValues("eu-central-1", "upstream_error").Inc()
	m.Attempts.WithLabelValues("eu-west-1", "ok").Add(2)
	m.Skipped.WithLabelValues("eu-central-1", "failing").Inc()
	m.NotCallable.WithLabelValues("us.demo.chat-small").Inc()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]float64{
		"meridian_attempts_total":             {"destination_region=eu-central-1,outcome=upstream_error": 1, "destination_region=eu-west-1,outcome=ok": 2},
		"meridian_destinations_skipped_total": {"destination_region=eu-central-1,reason=failing": 1},
		"meridian_profile_not_callable_total": {"profile=us.demo.chat-small": 1},
	}
	for _, f := range fams {
		w, ok := want[f.GetName()]
		if !ok {
			continue
		}
		delete(want, f.GetName())
		for _, mt := range f.GetMetric() {
			key := ""
			for _, l := range mt.GetLabel() {
				if l.GetName() == "region" {
					if l.GetValue() != "eu-west-1" {
						t.Errorf("%s: region %q", f.GetName(), l.GetValue())
					}
					continue
				}
				if key != "" {
					key += ","
				}
				key += l.GetName() + "=" + l.GetValue()
			}
			if w[key] != mt.GetCounter().GetValue() {
				t.Errorf("%s{%s} = %v, want %v", f.GetName(), key, mt.GetCounter().GetValue(), w[key])
			}
		}
	}
	for name := range want {
		t.Errorf("%s not registered", name)
	}
}

func TestStatusClass(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code int
		want string
	}{{200, "2xx"}, {400, "4xx"}, {429, "4xx"}, {499, "4xx"}, {500, "5xx"}, {503, "5xx"}, {0, "5xx"}, {600, "5xx"}, {101, "1xx"}} {
		if got := StatusClass(tc.code); got != tc.want {
			t.Errorf("StatusClass(%d) = %q, want %q", tc.code, got, tc.want)
		}
	}
}
