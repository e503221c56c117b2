package bench

import (
	"fmt"
	"slices"
)

// Goal is one of the project's targets evaluated on a run.
type Goal struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Want  string `json:"want"`
	Met   bool   `json:"met"`
}

// cpuLevel is the closed-loop level whose CPU per request and throughput
// the targets use: busy enough that per-request costs dominate, and
// without the drops an open loop past a path's capacity counts.
const cpuLevel = 32

// evaluate checks the run against the project's targets, each a ratio or
// difference measured within the run. A target whose scenarios the run
// left out (see [Options.Scenarios]) is not listed.
func evaluate(r *Report) []Goal {
	var gs []Goal
	for i := range r.Modes {
		gs = append(gs, evaluateMode(&r.Modes[i])...)
	}
	if s := r.Streams; s != nil {
		gs = append(gs, Goal{Name: fmt.Sprintf("%d concurrent streams through one node: the node's RSS (process with the node minus without)", s.Streams),
			Value: fmt.Sprintf("%s (%s - %s)", mb(s.NodeRSSBytes()), mb(s.RSSBytes), mb(s.DirectRSSBytes)), Want: "< 150MB",
			Met: s.Errors == 0 && s.RSSBytes > 0 && s.NodeRSSBytes() < 150<<20})
		gs = append(gs, Goal{Name: "goroutines after the streams ended",
			Value: fmt.Sprintf("%d (baseline %d)", s.GoroutinesAfter, s.BaselineGoroutines), Want: "back to baseline", Met: s.Leaked() <= 0})
		if f := s.Forwarded; f != nil {
			gs = append(gs, Goal{Name: fmt.Sprintf("%d concurrent forwarded streams: the two nodes' RSS (process with the nodes minus without), every stream open at once", s.Streams),
				Value: fmt.Sprintf("%s (%s - %s), %d open, %d errors", mb(s.ForwardedRSSBytes()), mb(f.RSSBytes), mb(s.DirectRSSBytes), f.Open, f.Errors),
				Want:  fmt.Sprintf("< 150MB, %d open, 0 errors", s.Streams),
				Met:   f.Errors == 0 && f.Open == s.Streams && f.RSSBytes > 0 && s.ForwardedRSSBytes() < 150<<20})
			gs = append(gs, Goal{Name: "goroutines after the forwarded streams ended, beyond the local streams'",
				Value: fmt.Sprintf("%d (%d after, %d after the local streams)", s.ForwardedLeaked(), f.GoroutinesAfter, s.GoroutinesAfter),
				Want:  fmt.Sprintf("<= %d (the link's idle connections)", linkIdleAllowance(s.Streams)), Met: s.ForwardedLeaked() <= linkIdleAllowance(s.Streams)})
		}
	}
	return gs
}

func evaluateMode(m *ModeReport) []Goal {
	var gs []Goal
	has := func(names ...string) bool {
		for _, n := range names {
			if !slices.ContainsFunc(m.Scenarios, func(s ScenarioReport) bool { return s.Name == n && s.Sequential.Requests > 0 }) {
				return false
			}
		}
		return true
	}
	local, fwd, bare := m.scenario(MeridianLocal), m.scenario(MeridianForwarded), m.scenario(BareProxy)
	what := "added latency"
	if m.Mode == "streaming" {
		what = "added time to first token"
	}
	if has(Direct, BareProxy, MeridianLocal) {
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
	}
	if has(Direct, MeridianLocal, MeridianForwarded) {
		d := fwd.SequentialAdded.P50 - local.SequentialAdded.P50
		gs = append(gs, Goal{Name: m.Mode + ": forwarded over the link, sequential p50 beyond local",
			Value: us(d), Want: "<= 500µs", Met: d <= 0.5})
		if has(BareProxy) {
			b := bare.SequentialAdded.P50
			gs = append(gs, Goal{Name: m.Mode + ": forwarded over the link, sequential p50 beyond local, vs the bare proxy's own added p50",
				Value: fmt.Sprintf("%s vs %s = %s", us(d), us(b), x(ratio(d, b))),
				Want:  "<= 1.30x", Met: b > 0 && d <= 1.3*b})
		}
	}
	gs = append(gs, cpuGoals(m, has)...)
	return gs
}

// cpuGoals are the targets on CPU per request and throughput, read from the
// closed loop at [cpuLevel] in flight. Without that level, CPU per request
// comes from the comparison at one rate, and the throughput target is not
// listed.
func cpuGoals(m *ModeReport, has func(...string) bool) []Goal {
	var gs []Goal
	if !has(Direct, BareProxy) {
		return nil
	}
	var l *LevelReport
	for i := range m.Concurrency {
		if m.Concurrency[i].InFlight == cpuLevel {
			l = &m.Concurrency[i]
		}
	}
	for _, c := range []struct {
		name string
		max  float64
	}{{MeridianLocal, 2}, {MeridianForwarded, 3}} {
		if !has(c.name) {
			continue
		}
		where, r, added, bareAdded := fmt.Sprintf("at %.0f/s", m.CompareRate), m.scenario(c.name).CPURatio, m.scenario(c.name).AddedCPUPer1k, m.scenario(BareProxy).AddedCPUPer1k
		if l != nil && l.scenario(c.name) != nil && l.scenario(BareProxy) != nil {
			s, b := l.scenario(c.name), l.scenario(BareProxy)
			where, r, added, bareAdded = fmt.Sprintf("%d in flight", cpuLevel), s.CPURatio, s.AddedCPUPer1k, b.AddedCPUPer1k
		}
		gs = append(gs, Goal{Name: fmt.Sprintf("%s: %s CPU per request added over direct, vs bare-proxy (%s)", m.Mode, c.name, where),
			Value: fmt.Sprintf("%.3f vs %.3f CPU s/1k = %s", added, bareAdded, x(r)),
			Want:  fmt.Sprintf("<= %.2fx", c.max), Met: r > 0 && r <= c.max})
	}
	if l != nil && has(MeridianForwarded) {
		if s, b := l.scenario(MeridianForwarded), l.scenario(BareProxy); s != nil && b != nil {
			gs = append(gs, Goal{Name: fmt.Sprintf("%s: meridian-forwarded throughput at %d in flight vs bare-proxy", m.Mode, cpuLevel),
				Value: fmt.Sprintf("%.0f/s vs %.0f/s = %s, %d errors", s.Throughput, b.Throughput, x(s.ThroughputRatio), s.Errors),
				Want:  ">= 0.50x, 0 errors", Met: s.Errors == 0 && s.ThroughputRatio >= 0.5})
		}
	}
	return gs
}
