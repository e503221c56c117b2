package bench

import "fmt"

// Goal is one of the targets evaluated on a run.
type Goal struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Want  string `json:"want"`
	Met   bool   `json:"met"`
}

// evaluate checks the run against issue 10's targets, each a ratio or
// difference measured within the run.
func evaluate(r *Report) []Goal {
	var gs []Goal
	for _, m := range r.Modes {
		local, fwd, bare := m.scenario(MeridianLocal), m.scenario(MeridianForwarded), m.scenario(BareProxy)
		what := "added latency"
		if m.Mode == "streaming" {
			what = "added time to first token"
		}
		gs = append(gs, Goal{Name: m.Mode + ": sequential " + what + " p50, meridian-local vs bare-proxy",
			Value: fmt.Sprintf("%s vs %s = %s", us(local.SequentialAdded.P50), us(bare.SequentialAdded.P50), x(local.SequentialRatio)),
			Want:  "<= 1.30x", Met: local.SequentialRatio > 0 && local.SequentialRatio <= 1.3})
		if bare.MaxRate > 0 {
			gs = append(gs, Goal{Name: m.Mode + ": highest error-free rate, meridian-local vs bare-proxy",
				Value: fmt.Sprintf("%.0f/s vs %.0f/s = %s", local.MaxRate, bare.MaxRate, x(local.MaxRateRatio)),
				Want:  ">= 0.80x", Met: local.MaxRateRatio >= 0.8})
		}
		gs = append(gs, Goal{Name: fmt.Sprintf("%s: meridian-local at %.0f/s (bare proxy's rate): errors and p99 %s", m.Mode, m.CompareRate, what),
			Value: fmt.Sprintf("%d errors, p99 %s", local.AtRate.Errors, us(local.AtRateAdded.P99)),
			Want:  "0 errors, p99 < 1000µs", Met: local.AtRate.Errors == 0 && local.AtRate.Requests > 0 && local.AtRateAdded.P99 < 1})
		d := fwd.SequentialAdded.P50 - local.SequentialAdded.P50
		gs = append(gs, Goal{Name: m.Mode + ": forwarded over the link, sequential p50 beyond local",
			Value: us(d), Want: "<= 500µs", Met: fwd.Sequential.Requests > 0 && d <= 0.5})
	}
	if s := r.Streams; s != nil {
		gs = append(gs, Goal{Name: fmt.Sprintf("%d concurrent streams through one node: the node's RSS (process with the node minus without)", s.Streams),
			Value: fmt.Sprintf("%s (%s - %s)", mb(s.NodeRSSBytes()), mb(s.RSSBytes), mb(s.DirectRSSBytes)), Want: "< 150MB",
			Met: s.Errors == 0 && s.RSSBytes > 0 && s.NodeRSSBytes() < 150<<20})
		gs = append(gs, Goal{Name: "goroutines after the streams ended",
			Value: fmt.Sprintf("%d (baseline %d)", s.GoroutinesAfter, s.BaselineGoroutines), Want: "back to baseline", Met: s.Leaked() <= 0})
	}
	return gs
}
