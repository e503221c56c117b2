package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strings"
	"time"
)

// Scenario names, in report order.
const (
	Direct            = "direct"
	BareProxy         = "bare-proxy"
	MeridianLocal     = "meridian-local"
	MeridianForwarded = "meridian-forwarded"
)

// builtin are the scenarios every run has unless [Options.Scenarios]
// leaves them out.
var builtin = []string{Direct, BareProxy, MeridianLocal, MeridianForwarded}

// canonicalScenario maps the short names a flag accepts to the report's.
func canonicalScenario(s string) string {
	switch s {
	case "local":
		return MeridianLocal
	case "forwarded":
		return MeridianForwarded
	case "bare":
		return BareProxy
	}
	return s
}

// Options configure [Run]. The zero value of each field picks the default
// run of `meridian bench` (a few minutes).
type Options struct {
	// Step is how long each open-loop rate step sends. If zero, 2s.
	Step time.Duration
	// Sequential is the number of one-at-a-time requests per scenario.
	// If zero, 400.
	Sequential int
	// StartRate is the sweep's first rate, in requests per second. If zero, 500.
	StartRate float64
	// MaxRate caps the sweep. If zero, 20000.
	MaxRate float64
	// MaxSweep bounds the time one scenario's sweep may take. If zero, 25s.
	MaxSweep time.Duration
	// Refine is the number of bisection steps between the last sustained
	// and the first failed rate. If zero, 2; negative disables refinement.
	Refine int
	// Rate, if positive, skips the sweep: every scenario runs at Rate only
	// and the comparison happens there.
	Rate float64
	// Timeout bounds each request; a slower one is an error. If zero, 2s.
	Timeout time.Duration
	// SLO is the p99 latency (time to first token for streams) a step
	// must keep to count as sustained. If zero, 50ms: on a small shared
	// machine the p99 of even the direct path swings by milliseconds, so
	// the SLO only rules out queues building up.
	SLO time.Duration
	// MaxInFlight caps outstanding requests per scenario; a request due
	// beyond it is dropped and counts as an error. If zero, 2048.
	MaxInFlight int
	// MaxTokens is each request's max_tokens and the upstream's completion
	// length. If zero, 16.
	MaxTokens int
	// Modes lists "non-streaming" and/or "streaming". If empty, both.
	Modes []string
	// Concurrency lists the in-flight counts of the closed-loop sweep,
	// each run at the machine's GOMAXPROCS. If nil, [DefaultConcurrency];
	// if empty but not nil, the sweep is skipped.
	Concurrency []int
	// ConcurrencyStep is how long each scenario runs at each level. If
	// zero, Step.
	ConcurrencyStep time.Duration
	// Scenarios, if not empty, restricts the run to these scenarios
	// (names as in the report, or local, forwarded, bare): one path can
	// then be profiled on its own. Ratios and targets that need a missing
	// scenario are left out of the report.
	Scenarios []string
	// Streams is the number of concurrent slow streams of the memory
	// scenario (local, then forwarded). Zero skips it.
	Streams int
	// Peers are other gateways to measure on the same load (see
	// bench/peers). Their upstream must be [Cluster.Upstream]: PeerSetup
	// receives it.
	Peers []Peer
	// Logs receives the nodes' JSON logs. If nil, they are discarded
	// after formatting.
	Logs io.Writer
	// Progress receives one line per measurement. May be nil.
	Progress io.Writer
	// CPUProfile, if set, receives a pprof CPU profile of the load phases.
	CPUProfile io.Writer
	// Trace, if set, receives a runtime execution trace of the load phases
	// (go tool trace): where a sequential request waits, which a CPU
	// profile does not show.
	Trace io.Writer
	// Without turns Meridian features off to attribute their cost (see
	// [ClusterOptions.Without]); the report says so. Empty: all on.
	Without []string
	// UpstreamProcess, if not empty, runs the latency phases' mockllm in a
	// process of its own (see [ClusterOptions.UpstreamProcess]); the
	// report says so. The concurrent-streams scenario keeps its paced
	// upstream in this process (its memory is measured net of the direct
	// wave's either way).
	UpstreamProcess []string
	// GatewayProcess, if not empty, runs the bare proxy and the Meridian
	// nodes (of the latency phases and of the concurrent streams) in a
	// process of their own (see [ClusterOptions.GatewayProcess]) while
	// this one keeps the load generator: each step's CPU is then that
	// process's CPU over the step, the gateways' cost alone (direct's,
	// which does not pass through it, is near 0), its peak resident set
	// the step's peak, and the streams' memory and goroutines are its own.
	// A CPU profile (CPUProfile) is then that process's; the execution
	// trace (Trace) stays the load generator's. The report says so.
	GatewayProcess []string
}

// Peer is another gateway measured on the same requests.
type Peer struct {
	Name string
	// PID, if positive, is the peer's process, whose CPU time counts too.
	PID int
	// Start starts the peer in front of upstream (a base URL such as
	// http://127.0.0.1:port) and returns the base URL to send requests to,
	// headers to add, and a function that stops it.
	Start func(ctx context.Context, upstream string) (base string, header http.Header, stop func(), err error)
}

func (o *Options) defaults() {
	def := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	def(&o.Step, 2*time.Second)
	def(&o.MaxSweep, 25*time.Second)
	def(&o.Timeout, 2*time.Second)
	def(&o.SLO, 50*time.Millisecond)
	def(&o.ConcurrencyStep, o.Step)
	if o.Concurrency == nil {
		o.Concurrency = DefaultConcurrency
	}
	o.Scenarios = slices.Clone(o.Scenarios)
	for i, sc := range o.Scenarios {
		o.Scenarios[i] = canonicalScenario(sc)
	}
	if o.Sequential == 0 {
		o.Sequential = 2400
	}
	if o.StartRate == 0 {
		o.StartRate = 500
	}
	if o.MaxRate == 0 {
		o.MaxRate = 20000
	}
	if o.Refine == 0 {
		o.Refine = 2
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = 2048
	}
	if o.MaxTokens == 0 {
		o.MaxTokens = 16
	}
	if len(o.Modes) == 0 {
		o.Modes = []string{"non-streaming", "streaming"}
	}
}

// Validate reports every problem with the options at once.
func (o *Options) Validate() error {
	var errs []error
	if o.Step < 0 || o.MaxSweep < 0 || o.Timeout < 0 || o.SLO < 0 || o.ConcurrencyStep < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	if o.Sequential < 0 || o.StartRate < 0 || o.MaxRate < 0 || o.Rate < 0 || o.MaxInFlight < 0 || o.Streams < 0 || o.MaxTokens < 0 {
		errs = append(errs, errors.New("counts and rates must not be negative"))
	}
	if o.MaxRate > 0 && o.StartRate > o.MaxRate {
		errs = append(errs, fmt.Errorf("start rate %g is above the max rate %g", o.StartRate, o.MaxRate))
	}
	if o.Rate > 100000 || o.MaxRate > 100000 {
		errs = append(errs, errors.New("rates above 100000/s are refused (loopback benchmark bound)"))
	}
	if o.Streams > 20000 {
		errs = append(errs, errors.New("streams above 20000 are refused"))
	}
	for _, w := range o.Without {
		if w != "quota" && w != "audit" && w != "logs" {
			errs = append(errs, fmt.Errorf("without %q: use quota, audit or logs", w))
		}
	}
	if o.ConcurrencyStep > maxConcurrencyStep {
		errs = append(errs, fmt.Errorf("concurrency step %s is above the %s bound", o.ConcurrencyStep, maxConcurrencyStep))
	}
	for _, n := range o.Concurrency {
		if n < 1 || n > maxConcurrency {
			errs = append(errs, fmt.Errorf("concurrency %d: use counts from 1 to %d", n, maxConcurrency))
		}
	}
	for _, sc := range o.Scenarios {
		if !slices.Contains(builtin, canonicalScenario(sc)) && !slices.ContainsFunc(o.Peers, func(p Peer) bool { return p.Name == sc }) {
			errs = append(errs, fmt.Errorf("scenario %q: use %s, local, forwarded, bare or a peer's name", sc, strings.Join(builtin, ", ")))
		}
	}
	for _, m := range o.Modes {
		if m != "non-streaming" && m != "streaming" {
			errs = append(errs, fmt.Errorf("mode %q: use non-streaming or streaming", m))
		}
	}
	return errors.Join(errs...)
}

// Run starts a cluster, measures every scenario and returns the report.
func Run(ctx context.Context, opts Options) (*Report, error) {
	opts.defaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	rep := &Report{Machine: machine(), Started: time.Now().UTC(), Settings: settingsOf(opts)}
	if err := runModes(ctx, rep, opts); err != nil {
		return nil, err
	}
	if opts.Streams > 0 {
		// After the latency cluster is gone, so that its pools do not
		// count in the baseline.
		runtime.GC()
		debug.FreeOSMemory()
		sr, err := concurrentStreams(ctx, opts.Streams, opts.Progress, opts.GatewayProcess)
		if err != nil {
			return nil, err
		}
		rep.Streams = sr
	}
	rep.Targets = evaluate(rep)
	return rep, ctx.Err()
}

// runModes starts the latency cluster and the peers, measures each mode and
// stops them.
func runModes(ctx context.Context, rep *Report, opts Options) (err error) {
	c, err := StartCluster(ctx, ClusterOptions{Upstream: UpstreamConfig(opts.MaxTokens), Logs: opts.Logs, Without: opts.Without,
		UpstreamProcess: opts.UpstreamProcess, GatewayProcess: opts.GatewayProcess})
	if err != nil {
		return err
	}
	defer c.Close()
	gw := c.GatewayPID()
	if c.gateway != nil {
		parent := ctx
		var stop func()
		ctx, stop = c.gateway.watch(ctx)
		defer stop() // before Close stops the process
		defer func() {
			// What failed because the gateway process died: say so.
			if err != nil && parent.Err() == nil && ctx.Err() != nil {
				err = context.Cause(ctx)
			}
		}()
	}
	selected := func(name string) bool { return len(opts.Scenarios) == 0 || slices.Contains(opts.Scenarios, name) }
	var targets []*Target
	for _, t := range []*Target{
		newTarget(Direct, c.Upstream, "", opts.MaxInFlight, opts.Timeout),
		newTarget(BareProxy, c.Proxy, "", opts.MaxInFlight, opts.Timeout),
		newTarget(MeridianLocal, c.Source, c.LocalKey, opts.MaxInFlight, opts.Timeout),
		newTarget(MeridianForwarded, c.Source, c.ForwardedKey, opts.MaxInFlight, opts.Timeout),
	} {
		if selected(t.Name) {
			if gw > 0 {
				// What the gateway costs: its process's CPU, whatever
				// the load generator spends.
				t.measureIn(gw)
			}
			targets = append(targets, t)
		}
	}
	for _, p := range opts.Peers {
		if !selected(p.Name) {
			continue
		}
		if gw > 0 && p.PID <= 0 {
			// Its CPU and memory would be the bench's (the load
			// generator's), against paths charged their own process
			// alone: a column no one could compare.
			opts.progress("peer %s not measured: with the gateway in a process of its own, a peer's CPU is measured in its process; give --peer-pid %s=PID or run with --gateway-process=false", p.Name, p.Name)
			continue
		}
		base, hdr, stop, err := p.Start(ctx, c.Upstream)
		if err != nil {
			opts.progress("peer %s not measured: %v", p.Name, err)
			continue
		}
		defer stop()
		t := newTarget(p.Name, base, "", opts.MaxInFlight, opts.Timeout)
		t.Header, t.pid = hdr, p.PID
		if gw > 0 && p.PID > 0 {
			t.measureIn(p.PID) // alike: the peer's process alone
		}
		targets = append(targets, t)
	}
	defer func() {
		for _, t := range targets {
			t.close()
		}
	}()
	if opts.CPUProfile != nil && gw > 0 {
		// The gateway's profile: the process the paths under test run in.
		if _, err := c.gateway.call(gatewayRequest{Op: opCPUProfileStart}); err != nil {
			return err
		}
		defer func() {
			r, perr := c.gateway.call(gatewayRequest{Op: opCPUProfileStop})
			if perr == nil {
				_, perr = opts.CPUProfile.Write(r.Data)
			}
			if err == nil && perr != nil {
				err = fmt.Errorf("bench: the gateway's CPU profile: %w", perr)
			}
		}()
	} else if opts.CPUProfile != nil {
		if err := pprof.StartCPUProfile(opts.CPUProfile); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if opts.Trace != nil {
		if err := trace.Start(opts.Trace); err != nil {
			return err
		}
		defer trace.Stop()
	}
	for _, mode := range opts.Modes {
		mr, err := runMode(ctx, targets, mode == "streaming", opts, c.CloseIdleUpstreamConnections)
		if err != nil {
			return err
		}
		rep.Modes = append(rep.Modes, *mr)
	}
	return nil
}

// sequentialRounds is how many rounds the sequential phase of n scenarios
// runs in: [sequentialRoundsFor]; with fewer requests, the most whole
// periods of the rounds' orders that fit (see [roundPeriod]), so that the
// order stays balanced, when that is at least [minConcurrencyRounds]
// rounds (the fewest with a 95% interval); else one round per request, so
// that every round has a request of every scenario.
func (o *Options) sequentialRounds(n int) int {
	full := sequentialRoundsFor(n)
	if o.Sequential >= full {
		return full
	}
	if whole := o.Sequential / roundPeriod(n) * roundPeriod(n); whole >= minConcurrencyRounds {
		return whole
	}
	return max(o.Sequential, 1)
}

// scenarioCount is how many scenarios the run measures unless a peer fails
// its warm-up: the built-in ones and the peers [Options.Scenarios] selects.
func (o *Options) scenarioCount() int {
	n := 0
	for _, name := range builtin {
		if len(o.Scenarios) == 0 || slices.Contains(o.Scenarios, name) {
			n++
		}
	}
	for _, p := range o.Peers {
		if len(o.Scenarios) == 0 || slices.Contains(o.Scenarios, p.Name) {
			n++
		}
	}
	return n
}

func (o *Options) progress(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}

// runMode measures one mode. proxyIdle closes the idle connections the
// bare proxy and the nodes keep to their upstreams (nil: none), for
// [closeIdle].
func runMode(ctx context.Context, targets []*Target, stream bool, opts Options, proxyIdle func()) (*ModeReport, error) {
	name := "non-streaming"
	if stream {
		name = "streaming"
	}
	body := RequestBody(stream, opts.MaxTokens)
	mr := &ModeReport{Mode: name}
	all := targets
	drop := func() { closeIdle(all, proxyIdle) }
	drop() // what the previous mode's closed loop left open
	// Warm every path: connections, TLS sessions on the link, pools. A
	// peer gateway that fails here is left out of this mode and the report
	// says why; Meridian's and the baselines' failures end the run.
	targets = nil
warm:
	for _, t := range all {
		recoverTarget(ctx, t, body, stream) // a previous mode may have overloaded it
		for _, s := range t.sequential(ctx, body, stream, 50) {
			if s.err != nil {
				if slices.Contains(builtin, t.Name) {
					return nil, fmt.Errorf("%s %s warm-up: %w", name, t.Name, s.err)
				}
				mr.Skipped = append(mr.Skipped, fmt.Sprintf("%s: %v", t.Name, s.err))
				opts.progress("%s %s not measured: %v", name, t.Name, s.err)
				continue warm
			}
		}
		t.openLoop(ctx, body, stream, opts.StartRate, 300*time.Millisecond, opts.MaxInFlight)
		targets = append(targets, t)
	}
	// Sequential latency, interleaved in rounds so that noise from other
	// processes spreads over every scenario alike; the ratios to the bare
	// proxy are taken within each round (see [ModeReport.derive]).
	seq := make([][]sample, len(targets))
	roundsP50 := make([][]float64, len(targets))
	rounds := opts.sequentialRounds(len(targets))
	mr.SequentialRounds = rounds
	interleave(schedule(len(targets), rounds), settleSlot, func(r, i int) {
		n := opts.Sequential / rounds
		if r < opts.Sequential%rounds {
			n++
		}
		got := targets[i].sequential(ctx, body, stream, n)
		seq[i] = append(seq[i], got...)
		roundsP50[i] = append(roundsP50[i], summarize(got, stream).Latency.P50)
	})
	for i, t := range targets {
		sr := ScenarioReport{Name: t.Name, Sequential: summarize(seq[i], stream), SequentialRoundsP50: roundsP50[i]}
		opts.progress("%s %-20s sequential p50 %s", name, t.Name, us(sr.Sequential.Latency.P50))
		mr.Scenarios = append(mr.Scenarios, sr)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Rate sweep, then every scenario at the bare proxy's highest rate.
	// Each sweep starts without the connections the sweeps before it left
	// open (see [closeIdle]).
	sweepEach(len(targets), opts.Rate, func() { drop(); settleSlot() }, func(i int) {
		sr := &mr.Scenarios[i]
		sr.MaxRate, sr.Sweep = sweep(ctx, targets[i], body, stream, opts, name, func() { closeIdle(all, nil) })
	})
	if opts.Rate > 0 {
		for i := range mr.Scenarios {
			mr.Scenarios[i].MaxRate = opts.Rate
		}
	}
	mr.CompareRate = opts.Rate
	if mr.CompareRate == 0 {
		mr.CompareRate = mr.scenario(BareProxy).MaxRate
		if mr.CompareRate == 0 {
			mr.CompareRate = opts.StartRate
		}
	}
	// The comparison runs in interleaved rounds whose samples are pooled,
	// so that a burst from another process lands on every scenario alike;
	// a whole number of periods, so that the order is balanced.
	compareRounds := compareRoundsFor(len(targets))
	mr.CompareRounds = compareRounds
	pooled := make([]step, len(targets))
	for _, order := range schedule(len(targets), compareRounds) {
		for _, i := range order {
			t := targets[i]
			closeIdle(all, nil) // the load generator's, as in a sweep
			recoverTarget(ctx, t, body, stream)
			settleSlot()
			st := t.openLoop(ctx, body, stream, mr.CompareRate, opts.Step/time.Duration(compareRounds), opts.MaxInFlight)
			p := &pooled[i]
			p.rate = st.rate
			p.samples = append(p.samples, st.samples...)
			p.dropped += st.dropped
			p.elapsed += st.elapsed
			p.cpu += st.cpu
			p.peakRSS = max(p.peakRSS, st.peakRSS)
		}
	}
	for i, t := range targets {
		mr.Scenarios[i].AtRate = stepReport(pooled[i], stream, opts.SLO)
		if opts.Rate > 0 && !mr.Scenarios[i].AtRate.Sustained {
			mr.Scenarios[i].MaxRate = 0
		}
		opts.progress("%s %-20s at %.0f/s: %s", name, t.Name, mr.CompareRate, mr.Scenarios[i].AtRate.brief())
	}
	mr.derive()
	drop()
	mr.Concurrency, mr.ConcurrencyRounds = runConcurrency(ctx, targets, body, stream, opts, name)
	return mr, ctx.Err()
}

// sweepEach runs each of n targets' rate sweep in turn, after a settle
// (see [settleSlot]) so that what the previous phase or target left
// running does not land in its first step. With a fixed rate (--rate)
// there is no sweep.
func sweepEach(n int, rate float64, settle func(), sweep func(i int)) {
	if rate > 0 {
		return
	}
	for i := range n {
		settle()
		sweep(i)
	}
}

// closeIdle closes the idle connections of every target, and with
// proxyIdle (if not nil) those the bare proxy and the nodes keep to their
// upstreams, alike, so that no path starts a measurement warmer than
// another. An overloaded
// open-loop step opens a connection per request in flight, up to
// --max-in-flight, and the clients and the proxy keep them idle for 90 s:
// thousands of connections, each with its goroutines and buffers, that the
// collector then scans in every cycle of the shared process. Kept across
// scenarios, they charged the sweeps that run later (meridian-local's
// follows direct's and the bare proxy's, which overload at the highest
// rates) for the earlier ones' overload: each collection cycle, longer with
// them, stalled every request for tens of milliseconds (see "The local
// node at high rates" in docs/performance.md). Closing a client's idle
// connections ends the server's side of them too.
func closeIdle(targets []*Target, proxyIdle func()) {
	for _, t := range targets {
		t.close()
	}
	if proxyIdle != nil {
		proxyIdle()
	}
}

// sweep raises the rate geometrically until a step is not sustained, then
// bisects; it returns the highest sustained rate (0 if none). After a step
// that is not sustained it calls drop (if not nil) once the path answers
// again, so that the load generator's connections the overload opened do
// not weigh on the next steps. (What the path under test keeps, such as a
// node's or the proxy's pool to the upstream, stays: it is the path's own.)
func sweep(ctx context.Context, t *Target, body []byte, stream bool, opts Options, mode string, drop func()) (float64, []StepReport) {
	deadline := time.Now().Add(opts.MaxSweep)
	var steps []StepReport
	run := func(rate float64) bool {
		// A failed step is tried once more: on a shared machine a burst
		// from another process can sink one step of any scenario.
		for try := range 2 {
			st := stepReport(t.openLoop(ctx, body, stream, rate, opts.Step, opts.MaxInFlight), stream, opts.SLO)
			if !st.Sustained {
				// Overload can leave state behind (a cooled-down
				// destination): wait until the path answers again, and
				// report how long.
				st.RecoverySeconds = recoverTarget(ctx, t, body, stream).Seconds()
				if drop != nil {
					drop()
				}
			}
			st.Retry = try > 0
			steps = append(steps, st)
			opts.progress("%s %-20s sweep %.0f/s: %s", mode, t.Name, rate, st.brief())
			time.Sleep(100 * time.Millisecond) // let the previous step's stragglers and GC settle
			if st.Sustained || ctx.Err() != nil || !time.Now().Before(deadline) {
				return st.Sustained
			}
		}
		return false
	}
	best, failed := 0.0, 0.0
	for r := opts.StartRate; ctx.Err() == nil && time.Now().Before(deadline); {
		if !run(r) {
			failed = r
			break
		}
		best = r
		if r >= opts.MaxRate {
			break
		}
		r = math.Min(r*1.5, opts.MaxRate) // a gentle climb: overshooting far past capacity disturbs what follows
	}
	if best == 0 && failed > 0 {
		// Not even the start rate: walk down.
		for r := failed / 2; r >= 1 && ctx.Err() == nil && time.Now().Before(deadline); r /= 2 {
			if run(r) {
				best = r
				break
			}
			failed = r
		}
	}
	for range max(opts.Refine, 0) {
		if best == 0 || failed == 0 || ctx.Err() != nil || !time.Now().Before(deadline) {
			break
		}
		mid := math.Round(math.Sqrt(best*failed)/10) * 10
		if mid <= best || mid >= failed {
			break
		}
		if run(mid) {
			best = mid
		} else {
			failed = mid
		}
	}
	return best, steps
}

func machine() Machine {
	return Machine{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), CPUModel: cpuModel(),
		GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
}

// recoverTarget sends one request every 100ms until one succeeds (at most
// 20s) and returns how long that took.
func recoverTarget(ctx context.Context, t *Target, body []byte, stream bool) time.Duration {
	start := time.Now()
	for time.Since(start) < 20*time.Second && ctx.Err() == nil {
		if s := t.do(ctx, body, stream, time.Now()); s.err == nil {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start)
}
