package bench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultConcurrency is the closed-loop sweep of a default run: one request
// at a time, a busy service, and far more requests than cores.
var DefaultConcurrency = []int{1, 32, 256}

// maxConcurrency bounds one level of the closed-loop sweep: loopback only,
// and every in-flight request holds a connection in each hop.
const maxConcurrency = 4096

// maxConcurrencyStep bounds how long one scenario runs at one level.
const maxConcurrencyStep = 5 * time.Minute

// maxClosedRequests bounds the requests of one closed-loop run, a guard
// against a level that answers faster than anything this harness expects.
const maxClosedRequests = 500_000

// LevelReport is one level of the closed-loop concurrency sweep: every
// scenario with the same number of requests in flight.
type LevelReport struct {
	InFlight  int             `json:"in_flight"`
	Scenarios []LevelScenario `json:"scenarios"`
}

// LevelScenario is one scenario at one concurrency level. Throughput is
// completed requests per second; the ratios divide by the bare proxy's at
// the same level in the same run. Latency is per request (time to first
// token for streams), measured from its send: a closed loop has no
// intended send time, the next request waits for the previous one.
type LevelScenario struct {
	Name            string  `json:"name"`
	Requests        int     `json:"requests"`
	Errors          int     `json:"errors"`
	FirstError      string  `json:"first_error,omitempty"`
	Throughput      float64 `json:"throughput"`
	ThroughputRatio float64 `json:"throughput_ratio"`
	Latency         Latency `json:"latency"`
	CPUSecondsPer1k float64 `json:"cpu_seconds_per_1k"`
	// AddedCPUPer1k is CPU seconds per 1,000 requests above direct's at
	// the same level; CPURatio divides it by the bare proxy's.
	AddedCPUPer1k float64 `json:"added_cpu_seconds_per_1k"`
	CPURatio      float64 `json:"cpu_ratio"`
}

func (l *LevelReport) scenario(name string) *LevelScenario {
	for i := range l.Scenarios {
		if l.Scenarios[i].Name == name {
			return &l.Scenarios[i]
		}
	}
	return nil
}

// closedLoop keeps inFlight requests outstanding for d: each of inFlight
// workers sends its next request as soon as the previous one has ended.
// It then waits for the last ones, so elapsed runs to the last completion.
func (t *Target) closedLoop(ctx context.Context, body []byte, stream bool, inFlight int, d time.Duration) step {
	per := make([][]sample, inFlight)
	limit := max(maxClosedRequests/inFlight, 1)
	var wg sync.WaitGroup
	cpu0 := cpuTime() + procCPU(t.pid)
	start := time.Now()
	deadline := start.Add(d)
	for w := range inFlight {
		wg.Go(func() {
			for len(per[w]) < limit && ctx.Err() == nil && time.Now().Before(deadline) {
				per[w] = append(per[w], t.do(ctx, body, stream, time.Now()))
			}
		})
	}
	wg.Wait()
	st := step{elapsed: time.Since(start), cpu: cpuTime() + procCPU(t.pid) - cpu0}
	for _, s := range per {
		st.samples = append(st.samples, s...)
	}
	return st
}

// runConcurrency measures every target at each level, in two interleaved
// rounds per level whose samples are pooled (as the comparison at one rate
// does). Before a level each target runs briefly at it unmeasured, so that
// its connections exist.
func runConcurrency(ctx context.Context, targets []*Target, body []byte, stream bool, opts Options, mode string) []LevelReport {
	var out []LevelReport
	const rounds = 2
	for _, n := range opts.Concurrency {
		if ctx.Err() != nil {
			break
		}
		for _, t := range targets {
			recoverTarget(ctx, t, body, stream) // the sweep or a higher level may have overloaded it
			t.closedLoop(ctx, body, stream, n, min(opts.ConcurrencyStep/4, 200*time.Millisecond))
		}
		pooled := make([]step, len(targets))
		for range rounds {
			for i, t := range targets {
				st := t.closedLoop(ctx, body, stream, n, opts.ConcurrencyStep/rounds)
				p := &pooled[i]
				p.samples = append(p.samples, st.samples...)
				p.elapsed += st.elapsed
				p.cpu += st.cpu
			}
		}
		lr := LevelReport{InFlight: n}
		for i, t := range targets {
			sr := stepReport(pooled[i], stream, opts.SLO)
			ls := LevelScenario{Name: t.Name, Requests: sr.Requests, Errors: sr.Errors, FirstError: sr.FirstError,
				Throughput: sr.Throughput, Latency: sr.Latency, CPUSecondsPer1k: sr.CPUSecondsPer1k}
			lr.Scenarios = append(lr.Scenarios, ls)
			opts.progress("%s %-20s %4d in flight: %.0f/s, p50 %s p99 %s, %d errors, %.3f CPU s/1k", mode, t.Name, n,
				ls.Throughput, us(ls.Latency.P50), us(ls.Latency.P99), ls.Errors, ls.CPUSecondsPer1k)
		}
		lr.derive()
		out = append(out, lr)
	}
	return out
}

// derive fills the ratios to the bare proxy and the CPU added over direct.
func (l *LevelReport) derive() {
	var direct, bare LevelScenario
	if d := l.scenario(Direct); d != nil {
		direct = *d
	}
	if b := l.scenario(BareProxy); b != nil {
		bare = *b
	}
	bareCPU := bare.CPUSecondsPer1k - direct.CPUSecondsPer1k
	for i := range l.Scenarios {
		s := &l.Scenarios[i]
		s.ThroughputRatio = ratio(s.Throughput, bare.Throughput)
		if direct.Requests > 0 {
			s.AddedCPUPer1k = s.CPUSecondsPer1k - direct.CPUSecondsPer1k
			s.CPURatio = ratio(s.AddedCPUPer1k, bareCPU)
		}
	}
}

// ParseConcurrency parses a comma-separated list of in-flight counts such
// as "1,32,256"; "none" is the empty list, which skips the sweep.
func ParseConcurrency(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "none" {
		return []int{}, nil
	}
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > maxConcurrency {
			return nil, fmt.Errorf("concurrency %q: want comma-separated counts from 1 to %d, or none", f, maxConcurrency)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}
