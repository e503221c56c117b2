package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the result of a run; it marshals to the JSON of --out.
type Report struct {
	Machine  Machine      `json:"machine"`
	Started  time.Time    `json:"started"`
	Settings Settings     `json:"settings"`
	Modes    []ModeReport `json:"modes"`
	// Streams is the concurrent-streams memory scenario; nil when skipped.
	Streams *StreamsReport `json:"streams,omitempty"`
	// Targets are the goals, evaluated on this run.
	Targets []Goal `json:"targets"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpu_model"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
}

// Settings are the options a run used.
type Settings struct {
	Step        string  `json:"step"`
	Sequential  int     `json:"sequential"`
	StartRate   float64 `json:"start_rate"`
	MaxRate     float64 `json:"max_rate"`
	Rate        float64 `json:"rate,omitempty"`
	Timeout     string  `json:"timeout"`
	SLO         string  `json:"slo"`
	MaxInFlight int     `json:"max_in_flight"`
	MaxTokens   int     `json:"max_tokens"`
	// Concurrency lists the closed-loop sweep's levels, each run for
	// ConcurrencyStep per scenario.
	Concurrency     []int  `json:"concurrency"`
	ConcurrencyStep string `json:"concurrency_step"`
	// SequentialRounds and ConcurrencyRounds are how many interleaved
	// rounds the sequential phase and each closed-loop level run in for
	// the scenarios selected (see [ModeReport] for a mode's, which differ
	// when a peer failed its warm-up).
	SequentialRounds  int `json:"sequential_rounds"`
	ConcurrencyRounds int `json:"concurrency_rounds"`
	// Scenarios lists the scenarios the run was restricted to; empty
	// means all.
	Scenarios []string `json:"scenarios,omitempty"`
	// Without lists Meridian features turned off for this run; empty means
	// every feature was on.
	Without []string `json:"without,omitempty"`
	// UpstreamProcess says the latency phases' mockllm ran in a process
	// of its own rather than in the bench's.
	UpstreamProcess bool `json:"upstream_process,omitempty"`
	// GatewayProcess says the bare proxy and the nodes ran in a process
	// of their own, apart from the load generator: CPU per request is
	// then that process's CPU alone, peak RSS and the streams' memory its
	// own. False: everything shared the bench's process, and CPU per
	// request is the whole process's (the load generator's included).
	GatewayProcess bool `json:"gateway_process"`
}

func settingsOf(o Options) Settings {
	return Settings{Step: o.Step.String(), Sequential: o.Sequential, StartRate: o.StartRate, MaxRate: o.MaxRate, Rate: o.Rate,
		Timeout: o.Timeout.String(), SLO: o.SLO.String(), MaxInFlight: o.MaxInFlight, MaxTokens: o.MaxTokens, Without: o.Without, UpstreamProcess: len(o.UpstreamProcess) > 0,
		GatewayProcess: len(o.GatewayProcess) > 0, Concurrency: o.Concurrency, ConcurrencyStep: o.ConcurrencyStep.String(), Scenarios: o.Scenarios,
		SequentialRounds: o.sequentialRounds(o.scenarioCount()), ConcurrencyRounds: concurrencyRoundsFor(o.scenarioCount())}
}

// ModeReport holds every scenario of one mode (non-streaming or streaming).
type ModeReport struct {
	Mode string `json:"mode"`
	// CompareRate is the rate every scenario ran at for AtRate: the bare
	// proxy's highest sustained rate (or --rate).
	CompareRate float64 `json:"compare_rate"`
	// CompareRounds is how many interleaved rounds, pooled, the comparison
	// at CompareRate ran in (see [compareRoundsFor]).
	CompareRounds int              `json:"compare_rounds,omitempty"`
	Scenarios     []ScenarioReport `json:"scenarios"`
	// Skipped lists peer gateways that failed their warm-up, with why.
	Skipped []string `json:"skipped,omitempty"`
	// Concurrency is the closed-loop sweep, one entry per level.
	Concurrency []LevelReport `json:"concurrency,omitempty"`
	// SequentialRounds and ConcurrencyRounds are how many interleaved
	// rounds this mode's sequential phase and each of its closed-loop
	// levels ran in: the least multiple of the period of the rounds'
	// orders for the scenarios measured at or above a minimum (see
	// [schedule]).
	SequentialRounds  int `json:"sequential_rounds"`
	ConcurrencyRounds int `json:"concurrency_rounds,omitempty"`
}

func (m *ModeReport) scenario(name string) *ScenarioReport {
	for i := range m.Scenarios {
		if m.Scenarios[i].Name == name {
			return &m.Scenarios[i]
		}
	}
	return &ScenarioReport{}
}

// ScenarioReport is one path's measurements. "Added" values are the
// scenario's minus direct's at the same percentile; "Ratio" values divide
// by the bare proxy's.
type ScenarioReport struct {
	Name string `json:"name"`
	// Sequential is one request at a time, timed from the send: every
	// round's requests pooled.
	Sequential      Summary `json:"sequential"`
	SequentialAdded Latency `json:"sequential_added"`
	// SequentialRoundsP50 is the p50 of each round of the sequential
	// phase, in run order (0: no successful request in that round).
	SequentialRoundsP50 []float64 `json:"sequential_rounds_p50_ms,omitempty"`
	// SequentialRatio is the median over rounds of the round's added p50
	// (its p50 minus direct's in the same round) over the bare proxy's
	// added p50 in the same round; SequentialSpread holds every round's.
	SequentialRatio  float64 `json:"sequential_ratio"`
	SequentialSpread Spread  `json:"sequential_ratio_rounds"`
	// MaxRate is the highest sustained rate of the sweep, in requests/s.
	MaxRate      float64      `json:"max_rate"`
	MaxRateRatio float64      `json:"max_rate_ratio"`
	Sweep        []StepReport `json:"sweep,omitempty"`
	// AtRate is the open-loop step at the mode's CompareRate.
	AtRate      StepReport `json:"at_rate"`
	AtRateAdded Latency    `json:"at_rate_added"`
	// AddedCPUPer1k is CPU seconds per 1,000 requests above direct's; NaN
	// (null in the JSON, "-" in the table) when the scenario or direct had
	// no success at the rate.
	AddedCPUPer1k float64 `json:"added_cpu_seconds_per_1k"`
	CPURatio      float64 `json:"cpu_ratio"`
}

// MarshalJSON writes the ratios with +Inf (the median of rounds most of
// which failed) as null, as [Spread.MarshalJSON] does.
func (s ScenarioReport) MarshalJSON() ([]byte, error) {
	type plain ScenarioReport // without this method
	return json.Marshal(struct {
		plain
		SequentialRatio *float64 `json:"sequential_ratio"`
		MaxRateRatio    *float64 `json:"max_rate_ratio"`
		AddedCPUPer1k   *float64 `json:"added_cpu_seconds_per_1k"`
		CPURatio        *float64 `json:"cpu_ratio"`
	}{plain(s), finite(s.SequentialRatio), finite(s.MaxRateRatio), finite(s.AddedCPUPer1k), finite(s.CPURatio)})
}

// Summary is a latency distribution: for streams Latency is the time to the
// first content token and Total the whole response.
type Summary struct {
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	Latency  Latency `json:"latency"`
	Total    Latency `json:"total"`
}

// Latency holds percentiles in milliseconds.
type Latency struct {
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p99_9_ms"`
}

func (l Latency) minus(o Latency) Latency {
	return Latency{l.P50 - o.P50, l.P90 - o.P90, l.P99 - o.P99, l.P999 - o.P999}
}

// StepReport is one open-loop step at a constant arrival rate.
type StepReport struct {
	Rate       float64 `json:"rate"`
	Throughput float64 `json:"throughput"`
	Summary
	FirstError string `json:"first_error,omitempty"`
	// Sustained: no errors, throughput at least 90% of the rate and p99
	// within the SLO.
	Sustained bool `json:"sustained"`
	// RecoverySeconds is how long the path took to answer again after an
	// unsustained step (0 when sustained).
	RecoverySeconds float64 `json:"recovery_seconds,omitempty"`
	// Retry marks the second try of a rate whose first try failed.
	Retry bool `json:"retry,omitempty"`
	// CPUSecondsPer1k is process CPU seconds per 1,000 successful
	// requests: failures' CPU counts against the successes, so a path
	// failing fast does not look cheap; 0 without a success.
	CPUSecondsPer1k float64 `json:"cpu_seconds_per_1k"`
	PeakRSSBytes    int64   `json:"peak_rss_bytes"`
}

func (s StepReport) brief() string {
	verdict := "sustained"
	if !s.Sustained {
		verdict = "NOT sustained"
	}
	e := ""
	if s.FirstError != "" {
		e = " (first error: " + s.FirstError + ")"
	}
	if s.RecoverySeconds > 0.5 {
		e += fmt.Sprintf(" (answered again after %.1fs)", s.RecoverySeconds)
	}
	return fmt.Sprintf("%s, %.0f/s, p50 %s p99 %s, %d errors, %.3f CPU s/1k%s", verdict, s.Throughput, us(s.Latency.P50), us(s.Latency.P99), s.Errors, s.CPUSecondsPer1k, e)
}

func summarize(samples []sample, stream bool) Summary {
	var lat, tot []time.Duration
	s := Summary{Requests: len(samples)}
	for _, x := range samples {
		if x.err != nil {
			s.Errors++
			continue
		}
		tot = append(tot, x.latency)
		if stream {
			lat = append(lat, x.ttft)
		} else {
			lat = append(lat, x.latency)
		}
	}
	s.Latency, s.Total = percentiles(lat), percentiles(tot)
	return s
}

func percentiles(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	at := func(q float64) float64 {
		i := int(q*float64(len(d))+0.999999) - 1 // nearest rank
		i = min(max(i, 0), len(d)-1)
		return float64(d[i]) / float64(time.Millisecond)
	}
	return Latency{at(0.50), at(0.90), at(0.99), at(0.999)}
}

func stepReport(st step, stream bool, slo time.Duration) StepReport {
	r := StepReport{Rate: st.rate, Summary: summarize(st.samples, stream), PeakRSSBytes: st.peakRSS}
	for _, x := range st.samples {
		if x.err != nil {
			r.FirstError = x.err.Error()
			break
		}
	}
	ok := r.Requests - r.Errors
	if st.elapsed > 0 {
		r.Throughput = float64(ok) / st.elapsed.Seconds()
	}
	// CPU per successful request: the CPU the failures took counts
	// against the successes, so a path failing fast never looks cheap;
	// with no success there is no figure.
	if ok > 0 {
		r.CPUSecondsPer1k = st.cpu.Seconds() / float64(ok) * 1000
	}
	r.Sustained = r.Errors == 0 && r.Throughput >= 0.9*st.rate && r.Latency.P99 <= float64(slo)/float64(time.Millisecond)
	return r
}

// derive fills the added latencies and ratios: the sequential ratio per
// round, summarized (see [ModeReport.sequentialSpread]); the highest rate's
// and the comparison's CPU from their single figures.
func (m *ModeReport) derive() {
	direct, bare := m.scenario(Direct), m.scenario(BareProxy)
	bareCPU := bare.AtRate.CPUSecondsPer1k - direct.AtRate.CPUSecondsPer1k
	if direct.Sequential.Requests == 0 {
		return // a run restricted to other scenarios: nothing to subtract
	}
	hasBare := bare.Sequential.Requests > 0
	for i := range m.Scenarios {
		s := &m.Scenarios[i]
		s.SequentialAdded = s.Sequential.Latency.minus(direct.Sequential.Latency)
		s.AtRateAdded = s.AtRate.Latency.minus(direct.AtRate.Latency)
		s.AddedCPUPer1k = addedCPU(s.AtRate.Requests-s.AtRate.Errors, s.AtRate.CPUSecondsPer1k,
			direct.AtRate.Requests-direct.AtRate.Errors, direct.AtRate.CPUSecondsPer1k)
		if !hasBare {
			continue
		}
		s.SequentialSpread = m.sequentialSpread([]string{Direct, BareProxy, s.Name}, func(p50 []float64) (float64, bool) {
			return roundRatio(p50[2]-p50[0], p50[1]-p50[0])
		})
		s.SequentialRatio = s.SequentialSpread.Median
		s.MaxRateRatio = ratio(s.MaxRate, bare.MaxRate)
		if direct.AtRate.Errors == 0 && bare.AtRate.Errors == 0 && !math.IsNaN(s.AddedCPUPer1k) {
			// A baseline's failures raise its CPU per success: no ratio.
			s.CPURatio = ratio(s.AddedCPUPer1k, bareCPU)
		}
	}
}

// sequentialSpread computes f for each round of the sequential phase from
// that round's p50 of each named scenario (in the order named), the last
// being the path under test and the others the baselines f subtracts or
// divides by. Every figure of the sequential phase is bounded from above
// (latency): a round in which the path under test had no successful
// request scores +Inf (see [Spread.Failed]); one in which a baseline had
// none has no value.
func (m *ModeReport) sequentialSpread(names []string, f func(p50 []float64) (float64, bool)) Spread {
	rounds := make([][]float64, len(names))
	n := 0
	for i, name := range names {
		rounds[i] = m.scenario(name).SequentialRoundsP50
		n = max(n, len(rounds[i]))
	}
	return spreadOf(n, func(r int) (float64, bool) {
		p50 := make([]float64, len(names))
		for i, rs := range rounds {
			if r < len(rs) && rs[r] > 0 {
				p50[i] = rs[r]
			}
		}
		for _, v := range p50[:len(p50)-1] {
			if v == 0 {
				return 0, false // a baseline failed: nothing to compare with
			}
		}
		if p50[len(p50)-1] == 0 {
			return math.Inf(1), true // the path under test failed
		}
		return f(p50)
	})
}

// addedCPU is a path's CPU per 1,000 successful requests above direct's:
// NaN, no figure, when either had no success (its CPU s/1k is then 0,
// not a cost).
func addedCPU(ok int, cpu float64, directOK int, directCPU float64) float64 {
	if ok <= 0 || directOK <= 0 {
		return math.NaN()
	}
	return cpu - directCPU
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the human-readable tables: per mode, sequential and
// sweep results, then every scenario at the comparison rate, with ratios to
// the bare proxy; then the streams scenario and the targets.
func (r *Report) WriteTable(w io.Writer) error {
	bw := bufio.NewWriter(w)
	m := r.Machine
	fmt.Fprintf(bw, "machine: %d CPUs (GOMAXPROCS %d), %s, %s %s/%s\n", m.CPUs, m.GOMAXPROCS, m.CPUModel, m.GoVersion, m.OS, m.Arch)
	if r.Settings.GatewayProcess {
		fmt.Fprintln(bw, "gateway: bare proxy and nodes in a process of their own, apart from the load generator; CPU s/1k and peak RSS are that process's alone")
	} else {
		fmt.Fprintln(bw, "gateway: bare proxy and nodes in the bench's process, with the load generator; CPU s/1k and peak RSS are the whole process's")
	}
	if r.Settings.UpstreamProcess {
		fmt.Fprintln(bw, "upstream: mockllm in a process of its own (latency phases)")
	}
	if len(r.Settings.Without) > 0 {
		fmt.Fprintf(bw, "MERIDIAN FEATURES OFF for attribution: %s (the targets need every feature on)\n", strings.Join(r.Settings.Without, ", "))
	}
	for _, mr := range r.Modes {
		lat := "latency"
		if mr.Mode == "streaming" {
			lat = "time to first token"
		}
		fmt.Fprintf(bw, "\n%s (%s; + is added over direct; x is the ratio to the bare proxy; after +seq p50, x is the median of the ratios of each of %d rounds and range their min-max)\n",
			mr.Mode, lat, mr.SequentialRounds)
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "scenario\tseq p50\t+seq p50\tx\trange\tmax rate/s\tx\t\t+p50\t+p90\t+p99\t+p99.9\terrors\tCPU s/1k\t+CPU s/1k\tx\tpeak RSS\t")
		for _, s := range mr.Scenarios {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.0f\t%s\t@%.0f/s\t%s\t%s\t%s\t%s\t%d\t%.3f\t%s\t%s\t%s\t\n", s.Name,
				us(s.Sequential.Latency.P50), us(s.SequentialAdded.P50), xm(s.SequentialSpread), span(s.SequentialSpread), s.MaxRate, x(s.MaxRateRatio),
				mr.CompareRate, us(s.AtRateAdded.P50), us(s.AtRateAdded.P90), us(s.AtRateAdded.P99), us(s.AtRateAdded.P999),
				s.AtRate.Errors, s.AtRate.CPUSecondsPer1k, cpu(s.AddedCPUPer1k), x(s.CPURatio), mb(s.AtRate.PeakRSSBytes))
		}
		tw.Flush()
		for _, sk := range mr.Skipped {
			fmt.Fprintf(bw, "not measured: %s\n", sk)
		}
		if len(mr.Concurrency) > 0 {
			fmt.Fprintf(bw, "\n%s, closed loop at GOMAXPROCS %d (N requests always in flight, in %d rounds; figures pool the rounds; x is the median of each round's ratio to the bare proxy of the same round at the same N, range their min-max)\n",
				mr.Mode, m.GOMAXPROCS, mr.ConcurrencyRounds)
			tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "scenario\tin flight\trequests/s\tx\trange\tp50\tp99\terrors\tCPU s/1k\t+CPU s/1k\tx\trange\t")
			for _, l := range mr.Concurrency {
				for _, s := range l.Scenarios {
					fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%d\t%.3f\t%s\t%s\t%s\t\n", s.Name, l.InFlight, s.Throughput, xm(s.ThroughputSpread), span(s.ThroughputSpread),
						us(s.Latency.P50), us(s.Latency.P99), s.Errors, s.CPUSecondsPer1k, cpu(s.AddedCPUPer1k), xm(s.CPUSpread), span(s.CPUSpread))
				}
			}
			tw.Flush()
		}
	}
	if s := r.Streams; s != nil {
		proc := "process"
		if s.GatewayProcess {
			proc = "gateway process"
		}
		fmt.Fprintf(bw, "\nconcurrent streams: %d open through one node (%d errors): %s RSS %s, %s of it the node's (%s without the node; baseline %s);\n  Go heap %s; goroutines %d (%d without the node; baseline %d, %d after they ended)\n",
			s.Open, s.Errors, proc, mb(s.RSSBytes), mb(s.NodeRSSBytes()), mb(s.DirectRSSBytes), mb(s.BaselineRSSBytes), mb(s.HeapBytes),
			s.Goroutines, s.DirectGoroutines, s.BaselineGoroutines, s.GoroutinesAfter)
		if f := s.Forwarded; f != nil {
			fmt.Fprintf(bw, "  forwarded: %d of %d open at once through both nodes over the link, %.1fs after the first send (%d errors): %s RSS %s, %s of it the two nodes';\n  Go heap %s; goroutines %d (%d after they ended)\n",
				f.Open, s.Streams, f.OpenSeconds, f.Errors, proc, mb(f.RSSBytes), mb(s.ForwardedRSSBytes()), mb(f.HeapBytes), f.Goroutines, f.GoroutinesAfter)
			if f.FirstError != "" {
				fmt.Fprintf(bw, "  first forwarded stream error: %s\n", f.FirstError)
			}
		}
	}
	if s := r.Streams; s != nil && s.StackBytes > 0 {
		fmt.Fprintf(bw, "  goroutine stacks / heap objects: baseline %s / %s, direct %s / %s, local %s / %s",
			mb(s.BaselineStackBytes), mb(s.BaselineHeapObjectBytes), mb(s.DirectStackBytes), mb(s.DirectHeapObjectBytes),
			mb(s.StackBytes), mb(s.HeapObjectBytes))
		if f := s.Forwarded; f != nil && f.StackBytes > 0 {
			fmt.Fprintf(bw, ", forwarded %s / %s (%s / %s more than direct)",
				mb(f.StackBytes), mb(f.HeapObjectBytes), mb(s.ForwardedStackBytes()), mb(s.ForwardedHeapObjectBytes()))
		}
		fmt.Fprintln(bw)
	}
	if len(r.Targets) > 0 {
		fmt.Fprintln(bw, "\ntargets: met or MISSED when the median's interval (or the single figure) is on that side of the target, unsettled when it straddles it")
		for _, t := range r.Targets {
			v, side := t.Verdict.String(), ""
			switch t.Verdict {
			case Missed:
				v = "MISSED"
			case Unsettled:
				side = ", median misses it"
				if t.MedianMeets {
					side = ", median meets it"
				}
			}
			fmt.Fprintf(bw, "  %-9s %s: %s (target %s%s)\n", v, t.Name, t.Value, t.Want, side)
		}
	}
	return bw.Flush()
}

func us(ms float64) string {
	if ms == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0fµs", ms*1000)
}

func x(r float64) string {
	switch {
	case r == 0:
		return "-"
	case math.IsInf(r, 1): // the median of rounds most of which failed
		return "∞"
	}
	return fmt.Sprintf("%.2fx", r)
}

// xm is a spread's median ratio for the tables: "-" when no round had
// one, "0.00x" for a median of 0 (x reads 0 as no ratio).
func xm(s Spread) string {
	if len(s.Rounds)+s.Failed == 0 {
		return "-"
	}
	return xSigned(s.Median)
}

// cpu is a CPU figure for the tables: "-" when there is none (NaN).
func cpu(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.3f", v)
}

// span is a spread's min-max for the tables: "-" without a value.
func span(s Spread) string {
	if len(s.Rounds)+s.Failed == 0 {
		return "-"
	}
	t := fmt.Sprintf("%.2f–%.2f", s.Min, s.Max)
	if math.IsInf(s.Max, 1) {
		t = fmt.Sprintf("%.2f–∞", s.Min)
	}
	var notes []string
	if s.Failed > 0 {
		notes = append(notes, fmt.Sprintf("%d failed", s.Failed))
	}
	if s.Undefined > 0 {
		notes = append(notes, fmt.Sprintf("%d n/a", s.Undefined))
	}
	if len(notes) > 0 {
		t += " (" + strings.Join(notes, ", ") + ")"
	}
	return t
}

func mb(b int64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0fMB", float64(b)/(1<<20))
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range bytes.Lines(b) {
		if k, v, ok := strings.Cut(string(line), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
