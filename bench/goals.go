package bench

import (
	"fmt"
	"math"
	"slices"
)

// Goal is one of the project's targets evaluated on a run.
type Goal struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Want  string `json:"want"`
	// Met says whether the run settles the target as met: Verdict is Met.
	Met bool `json:"met"`
	// MedianMeets says whether the figure the target uses meets it: for
	// a target judged per round, the median of the rounds, whatever the
	// verdict; for the others, the single figure (then equal to Met).
	MedianMeets bool `json:"median_meets"`
	// Verdict is Met or Missed when the run settles the target, Unsettled
	// when it does not (see [judge]).
	Verdict Verdict `json:"verdict"`
	// Rounds holds the per-round figures of a target judged per round;
	// nil for the others.
	Rounds *Spread `json:"rounds,omitempty"`
	// noFigure marks a target of one figure that the run could not
	// compute (a baseline had errors): it stays Unsettled.
	noFigure bool
}

// Verdict is how a run settles a target.
type Verdict int

const (
	// Unsettled: the target is judged per round and the median's
	// interval straddles the bound, or there is no interval; Goal.Met
	// is false and Goal.MedianMeets tells the median's side.
	Unsettled Verdict = iota
	// Met: the median's interval (with 8 rounds, every round), or the
	// single figure, meets the target.
	Met
	// Missed: the median's interval (with 8 rounds, every round), or the
	// single figure, is on the wrong side of the target.
	Missed
)

var verdictNames = [...]string{Unsettled: "unsettled", Met: "met", Missed: "missed"}

// String returns the verdict's name: met, missed or unsettled.
func (v Verdict) String() string {
	if v < 0 || int(v) >= len(verdictNames) {
		return fmt.Sprintf("Verdict(%d)", int(v))
	}
	return verdictNames[v]
}

// MarshalText writes the verdict's name, so that the JSON reads "met",
// "missed" or "unsettled".
func (v Verdict) MarshalText() ([]byte, error) {
	if v < 0 || int(v) >= len(verdictNames) {
		return nil, fmt.Errorf("verdict %d out of range", int(v))
	}
	return []byte(v.String()), nil
}

// UnmarshalText reads a name MarshalText wrote.
func (v *Verdict) UnmarshalText(b []byte) error {
	for i, n := range verdictNames {
		if string(b) == n {
			*v = Verdict(i)
			return nil
		}
	}
	return fmt.Errorf("verdict %q: want met, missed or unsettled", b)
}

// bound is a target's limit on a figure: at most (or, with atLeast, at
// least) limit.
type bound struct {
	limit   float64
	atLeast bool
}

func (b bound) meets(v float64) bool {
	if b.atLeast {
		return v >= b.limit
	}
	return v <= b.limit
}

// minConfidence is the coverage the median's interval needs for a verdict:
// with fewer than 6 rounds (--sequential 5) even the whole range falls
// short, and the target stays unsettled.
const minConfidence = 0.95

// judge applies b to a figure computed per round. The target uses the
// median (met reports its side); the verdict is Met when the median's
// confidence interval (Spread.Low to Spread.High) lies wholly on the side
// of the bound that meets it, Missed when it lies wholly on the other, and
// Unsettled when it straddles the bound or there is no interval covering
// the median with at least 95% (no round, fewer than 6 rounds, or too many
// rounds without a value). A failed round (+Inf, see [Spread.Failed]) is
// on the wrong side of an at-most bound. With the 4 built-in scenarios'
// 8 closed-loop rounds the interval is the rounds' whole range: Met when
// every round meets the bound, Missed when none does. With their 12
// sequential rounds it leaves out the two lowest and the two highest. The
// rule is the same for every scenario and every target: were a path's
// true value exactly on the bound, a run would call it settled, either
// way, in about 1 run in 128 with 8 rounds and 1 in 26 with 12.
func judge(s Spread, b bound) (met bool, v Verdict) {
	if len(s.Rounds)+s.Failed == 0 {
		return false, Unsettled
	}
	met = b.meets(s.Median)
	if s.Confidence < minConfidence {
		return met, Unsettled
	}
	switch low, high := b.meets(s.Low), b.meets(s.High); {
	case low && high:
		return met, Met
	case !low && !high:
		return met, Missed
	}
	return met, Unsettled
}

// single is the verdict of a target computed from one figure.
func single(met bool) Verdict {
	if met {
		return Met
	}
	return Missed
}

// cpuLevel is the closed-loop level whose CPU per request and throughput
// the targets use: busy enough that per-request costs dominate, and
// without the drops an open loop past a path's capacity counts.
const cpuLevel = 32

// evaluate checks the run against the project's targets, each a ratio or
// difference measured within the run; those of the sequential phase and
// the closed loop are judged per round (see [judge]). A target whose
// scenarios the run left out (see [Options.Scenarios]) is not listed.
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
	for i := range gs {
		if gs[i].Rounds == nil && !gs[i].noFigure { // one figure: it settles the target
			gs[i].Verdict = single(gs[i].Met)
			gs[i].MedianMeets = gs[i].Met
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
	local, bare := m.scenario(MeridianLocal), m.scenario(BareProxy)
	what := "added latency"
	if m.Mode == "streaming" {
		what = "added time to first token"
	}
	if has(Direct, BareProxy, MeridianLocal) {
		gs = append(gs, perRoundGoal(m.Mode+": sequential "+what+" p50, meridian-local vs bare-proxy",
			fmt.Sprintf("%s vs %s pooled", us(local.SequentialAdded.P50), us(bare.SequentialAdded.P50)),
			local.SequentialSpread, xSigned, bound{limit: 1.3}, "<= 1.30x"))
		if bare.MaxRate > 0 {
			met := local.MaxRateRatio >= 0.8
			gs = append(gs, Goal{Name: m.Mode + ": highest error-free rate, meridian-local vs bare-proxy",
				Value: fmt.Sprintf("%.0f/s vs %.0f/s = %s", local.MaxRate, bare.MaxRate, x(local.MaxRateRatio)),
				Want:  ">= 0.80x", Met: met})
		}
		met := local.AtRate.Errors == 0 && local.AtRate.Requests > 0 && local.AtRateAdded.P99 < 1
		gs = append(gs, Goal{Name: fmt.Sprintf("%s: meridian-local at %.0f/s (bare proxy's rate): errors and p99 %s", m.Mode, m.CompareRate, what),
			Value: fmt.Sprintf("%d errors, p99 %s", local.AtRate.Errors, us(local.AtRateAdded.P99)),
			Want:  "0 errors, p99 < 1000µs", Met: met})
	}
	if has(Direct, MeridianLocal, MeridianForwarded) {
		// Forwarded beyond local, per round: the two paths' p50s of the
		// same round.
		pooled := m.scenario(MeridianForwarded).SequentialAdded.P50 - local.SequentialAdded.P50
		beyond := m.sequentialSpread([]string{MeridianLocal, MeridianForwarded}, func(p50 []float64) (float64, bool) {
			return p50[1] - p50[0], true
		})
		gs = append(gs, perRoundGoal(m.Mode+": forwarded over the link, sequential p50 beyond local",
			us(pooled)+" pooled", beyond, usSigned, bound{limit: 0.5}, "<= 500µs"))
		if has(BareProxy) {
			vsBare := m.sequentialSpread([]string{Direct, BareProxy, MeridianLocal, MeridianForwarded}, func(p50 []float64) (float64, bool) {
				return roundRatio(p50[3]-p50[2], p50[1]-p50[0])
			})
			gs = append(gs, perRoundGoal(m.Mode+": forwarded over the link, sequential p50 beyond local, vs the bare proxy's own added p50",
				fmt.Sprintf("%s vs %s pooled", us(pooled), us(bare.SequentialAdded.P50)), vsBare, xSigned, bound{limit: 1.3}, "<= 1.30x"))
		}
	}
	gs = append(gs, cpuGoals(m, has)...)
	return gs
}

// perRoundGoal is a target judged per round (see [judge]): pooled is the
// pooled figures for context, s the per-round values, shown with f.
func perRoundGoal(name, pooled string, s Spread, f func(float64) string, b bound, want string) Goal {
	met, v := judge(s, b)
	value := pooled + "; no round measured"
	if n := len(s.Rounds) + s.Failed; n > 0 {
		value = fmt.Sprintf("%s; median of %d rounds %s (rounds %s to %s", pooled, n, f(s.Median), f(s.Min), f(s.Max))
		switch {
		case s.Confidence == 0:
			value += "; no interval"
		case s.Low == s.Min && s.High == s.Max:
			value += fmt.Sprintf(", the median's %.0f%% interval", 100*s.Confidence)
		default:
			value += fmt.Sprintf("; the median's %.0f%% interval %s to %s", 100*s.Confidence, f(s.Low), f(s.High))
		}
		value += ")"
	}
	switch {
	case s.Failed == 1:
		value += ", 1 round in which the path failed"
	case s.Failed > 1:
		value += fmt.Sprintf(", %d rounds in which the path failed", s.Failed)
	}
	switch {
	case s.Undefined == 1:
		value += ", 1 round without a value"
	case s.Undefined > 1:
		value += fmt.Sprintf(", %d rounds without a value", s.Undefined)
	}
	return Goal{Name: name, Value: value, Want: want, Met: v == Met, MedianMeets: met, Verdict: v, Rounds: &s}
}

// usSigned formats milliseconds as microseconds, zero and negative
// included (a difference of two paths may be either); a failed round's
// +Inf is ∞.
func usSigned(ms float64) string {
	if math.IsInf(ms, 1) {
		return "∞"
	}
	return fmt.Sprintf("%.0fµs", ms*1000)
}

// xSigned formats a ratio, zero and negative included; a failed round's
// +Inf is ∞.
func xSigned(r float64) string {
	if math.IsInf(r, 1) {
		return "∞"
	}
	return fmt.Sprintf("%.2fx", r)
}

// cpuGoals are the targets on CPU per request and throughput, read from the
// closed loop at [cpuLevel] in flight and judged per round. Without that
// level, CPU per request comes from the comparison at one rate (pooled, one
// figure), and the throughput target is not listed.
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
		name := func(where string) string {
			return fmt.Sprintf("%s: %s CPU per request added over direct, vs bare-proxy (%s)", m.Mode, c.name, where)
		}
		want := fmt.Sprintf("<= %.2fx", c.max)
		if l != nil && l.scenario(c.name) != nil && l.scenario(BareProxy) != nil && l.scenario(Direct) != nil {
			s, b := l.scenario(c.name), l.scenario(BareProxy)
			gs = append(gs, perRoundGoal(name(fmt.Sprintf("%d in flight", cpuLevel)),
				fmt.Sprintf("%s vs %s CPU s/1k pooled", cpu(s.AddedCPUPer1k), cpu(b.AddedCPUPer1k)), s.CPUSpread, xSigned, bound{limit: c.max}, want))
			continue
		}
		s, b := m.scenario(c.name), m.scenario(BareProxy)
		met := s.CPURatio > 0 && s.CPURatio <= c.max
		g := Goal{Name: name(fmt.Sprintf("at %.0f/s", m.CompareRate)),
			Value: fmt.Sprintf("%s vs %s CPU s/1k = %s", cpu(s.AddedCPUPer1k), cpu(b.AddedCPUPer1k), x(s.CPURatio)),
			Want:  want, Met: met}
		if d := m.scenario(Direct); d.AtRate.Errors > 0 || b.AtRate.Errors > 0 {
			// A baseline's failures raise its CPU per success: no
			// ratio (see [ModeReport.derive]), nothing to settle.
			g.Value += fmt.Sprintf(" (no ratio: %d errors for direct, %d for the bare proxy)", d.AtRate.Errors, b.AtRate.Errors)
			g.noFigure = true
		}
		gs = append(gs, g)
	}
	if l != nil && has(MeridianForwarded) {
		if s, b := l.scenario(MeridianForwarded), l.scenario(BareProxy); s != nil && b != nil {
			g := perRoundGoal(fmt.Sprintf("%s: meridian-forwarded throughput at %d in flight vs bare-proxy", m.Mode, cpuLevel),
				fmt.Sprintf("%.0f/s vs %.0f/s pooled, %d errors", s.Throughput, b.Throughput, s.Errors), s.ThroughputSpread, xSigned, bound{limit: 0.5, atLeast: true}, ">= 0.50x, 0 errors")
			if s.Errors > 0 {
				// Errors settle it whatever the rounds say.
				g.Met, g.Verdict = false, Missed
			}
			gs = append(gs, g)
		}
	}
	return gs
}
