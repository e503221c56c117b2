package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
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

// LevelScenario is one scenario at one concurrency level. Throughput,
// latency and CPU pool the level's rounds: throughput is completed
// requests per second; latency is per request (time to first token for
// streams), measured from its send: a closed loop has no intended send
// time, the next request waits for the previous one. The ratios are
// medians over rounds of the ratio to the bare proxy at the same level in
// the same round (see [LevelReport.derive]).
type LevelScenario struct {
	Name       string  `json:"name"`
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Throughput float64 `json:"throughput"`
	// ThroughputRatio is the median of ThroughputSpread, each round's
	// throughput over the bare proxy's in that round.
	ThroughputRatio  float64 `json:"throughput_ratio"`
	ThroughputSpread Spread  `json:"throughput_ratio_rounds"`
	Latency          Latency `json:"latency"`
	// CPUSecondsPer1k is process CPU seconds per 1,000 successful
	// requests (see [stepReport]); 0 without a success.
	CPUSecondsPer1k float64 `json:"cpu_seconds_per_1k"`
	// AddedCPUPer1k is CPU seconds per 1,000 requests above direct's at
	// the same level, pooled over the rounds; NaN (null in the JSON, "-"
	// in the table) when the scenario or direct had no success. CPURatio is the median of
	// CPUSpread: in each round, the scenario's CPU per request minus
	// direct's, over the bare proxy's minus direct's, all three from that
	// round.
	AddedCPUPer1k float64 `json:"added_cpu_seconds_per_1k"`
	CPURatio      float64 `json:"cpu_ratio"`
	CPUSpread     Spread  `json:"cpu_ratio_rounds"`
	// Rounds holds the scenario's figures in each round, in run order.
	Rounds []RoundFigures `json:"rounds,omitempty"`
}

// MarshalJSON writes the ratios, medians of spreads, with +Inf (most
// rounds failed) as null, as [Spread.MarshalJSON] does.
func (s LevelScenario) MarshalJSON() ([]byte, error) {
	type plain LevelScenario // without this method
	return json.Marshal(struct {
		plain
		ThroughputRatio *float64 `json:"throughput_ratio"`
		AddedCPUPer1k   *float64 `json:"added_cpu_seconds_per_1k"`
		CPURatio        *float64 `json:"cpu_ratio"`
	}{plain(s), finite(s.ThroughputRatio), finite(s.AddedCPUPer1k), finite(s.CPURatio)})
}

// RoundFigures are one scenario's figures in one round of a level.
type RoundFigures struct {
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	Throughput float64 `json:"throughput"`
	// CPUSecondsPer1k is per 1,000 successful requests.
	CPUSecondsPer1k float64 `json:"cpu_seconds_per_1k"`
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
// It then waits for the last ones. The step's elapsed is the time the
// workers were busy (see [busyElapsed]), not the time to the last
// completion: while the last requests drain, fewer than inFlight are
// outstanding, and counting that tail would understate a path's throughput
// by about half a request's latency over d, more for a slower path and
// more for a shorter round.
func (t *Target) closedLoop(ctx context.Context, body []byte, stream bool, inFlight int, d time.Duration) step {
	per := make([][]sample, inFlight)
	busy := make([]time.Duration, inFlight)
	limit := max(maxClosedRequests/inFlight, 1)
	var wg sync.WaitGroup
	cpu0 := t.cpuNow()
	start := time.Now()
	deadline := start.Add(d)
	for w := range inFlight {
		wg.Go(func() {
			for len(per[w]) < limit && ctx.Err() == nil && time.Now().Before(deadline) {
				per[w] = append(per[w], t.do(ctx, body, stream, time.Now()))
			}
			busy[w] = time.Since(start)
		})
	}
	wg.Wait()
	st := step{elapsed: time.Since(start), cpu: t.cpuNow() - cpu0}
	ok := make([]int, inFlight)
	for w, s := range per {
		st.samples = append(st.samples, s...)
		for _, x := range s {
			if x.err == nil {
				ok[w]++
			}
		}
	}
	if e := busyElapsed(ok, busy); e > 0 {
		st.elapsed = e
	}
	return st
}

// busyElapsed is the duration over which the workers' completed requests
// give the closed loop's throughput: each worker w completed ok[w]
// requests back to back over busy[w], a rate of ok[w]/busy[w]; the loop's
// rate is the sum of the workers' (inFlight over the mean latency, by
// Little's law), and busyElapsed is the total completed over that rate. It
// is 0 when no worker completed a request.
func busyElapsed(ok []int, busy []time.Duration) time.Duration {
	var n int
	var rate float64 // requests per second
	for w := range ok {
		if ok[w] > 0 && busy[w] > 0 {
			n += ok[w]
			rate += float64(ok[w]) / busy[w].Seconds()
		}
	}
	if rate == 0 {
		return 0
	}
	return time.Duration(float64(n) / rate * float64(time.Second))
}

// runConcurrency measures every target at each level, in R interleaved
// rounds per level ([concurrencyRoundsFor] the number of targets, which it
// returns) of ConcurrencyStep/R each, the order changing every round (see
// [schedule]), every slot after a [settleSlot]. The absolute figures pool the
// rounds; the ratios are taken within each round (see
// [LevelReport.derive]). Before a level each target runs briefly at it
// unmeasured, so that its connections exist.
func runConcurrency(ctx context.Context, targets []*Target, body []byte, stream bool, opts Options, mode string) ([]LevelReport, int) {
	var out []LevelReport
	nRounds := concurrencyRoundsFor(len(targets))
	order := schedule(len(targets), nRounds)
	for _, n := range opts.Concurrency {
		if ctx.Err() != nil {
			break
		}
		for _, t := range targets {
			recoverTarget(ctx, t, body, stream) // the sweep or a higher level may have overloaded it
			t.closedLoop(ctx, body, stream, n, min(opts.ConcurrencyStep/4, 200*time.Millisecond))
		}
		rounds := make([][]step, len(targets)) // rounds[i][r]: target i in round r
		interleave(order, settleSlot, func(_, i int) {
			rounds[i] = append(rounds[i], targets[i].closedLoop(ctx, body, stream, n, opts.ConcurrencyStep/time.Duration(nRounds)))
		})
		lr := LevelReport{InFlight: n}
		for i, t := range targets {
			var pooled step
			ls := LevelScenario{Name: t.Name}
			for _, st := range rounds[i] {
				pooled.samples = append(pooled.samples, st.samples...)
				pooled.elapsed += st.elapsed
				pooled.cpu += st.cpu
				rs := stepReport(st, stream, opts.SLO)
				ls.Rounds = append(ls.Rounds, RoundFigures{Requests: rs.Requests, Errors: rs.Errors, Throughput: rs.Throughput, CPUSecondsPer1k: rs.CPUSecondsPer1k})
			}
			sr := stepReport(pooled, stream, opts.SLO)
			ls.Requests, ls.Errors, ls.FirstError = sr.Requests, sr.Errors, sr.FirstError
			ls.Throughput, ls.Latency, ls.CPUSecondsPer1k = sr.Throughput, sr.Latency, sr.CPUSecondsPer1k
			lr.Scenarios = append(lr.Scenarios, ls)
		}
		lr.derive()
		for _, ls := range lr.Scenarios {
			opts.progress("%s %-20s %4d in flight: %.0f/s (%s, rounds %s), p50 %s p99 %s, %d errors, %.3f CPU s/1k (added %s, rounds %s)", mode, ls.Name, n,
				ls.Throughput, xm(ls.ThroughputSpread), span(ls.ThroughputSpread), us(ls.Latency.P50), us(ls.Latency.P99), ls.Errors,
				ls.CPUSecondsPer1k, xm(ls.CPUSpread), span(ls.CPUSpread))
		}
		out = append(out, lr)
	}
	return out, nRounds
}

// derive fills the CPU added over direct (pooled; whenever direct ran, the
// bare proxy or not) and the ratios to the bare proxy, each the median over rounds of the ratio within a round: a
// scenario and the bare proxy of the same round ran next to each other,
// so drift of the machine between rounds cancels. A round in which the
// scenario completed no request successfully scores on the failing side
// (throughput ratio 0, CPU ratio +Inf: see [Spread.Failed]); one in which
// the bare proxy (for CPU, also direct) had any error, or in which the
// bare proxy's added CPU was not positive, has no ratio: a baseline's
// failures raise its CPU per success and lower its throughput, which
// would flatter every ratio to it.
func (l *LevelReport) derive() {
	var direct, bare LevelScenario
	if d := l.scenario(Direct); d != nil {
		direct = *d
	}
	if b := l.scenario(BareProxy); b != nil {
		bare = *b
	}
	// round is a scenario's figures in round r; ok is false when it
	// completed no request successfully in that round (or did not run).
	round := func(s *LevelScenario, r int) (RoundFigures, bool) {
		if r >= len(s.Rounds) || s.Rounds[r].Requests-s.Rounds[r].Errors <= 0 {
			return RoundFigures{}, false
		}
		return s.Rounds[r], true
	}
	// clean is a baseline's figures in round r; ok is false when it had
	// any error in that round: its CPU per success rose with the
	// failures and its throughput fell, which would bias every ratio to
	// it.
	clean := func(s *LevelScenario, r int) (RoundFigures, bool) {
		f, ok := round(s, r)
		return f, ok && f.Errors == 0
	}
	if direct.Requests > 0 {
		for i := range l.Scenarios {
			s := &l.Scenarios[i]
			s.AddedCPUPer1k = addedCPU(s.Requests-s.Errors, s.CPUSecondsPer1k, direct.Requests-direct.Errors, direct.CPUSecondsPer1k)
		}
	}
	if bare.Requests == 0 {
		return // a run restricted to other scenarios: nothing to divide by
	}
	for i := range l.Scenarios {
		s := &l.Scenarios[i]
		n := max(len(s.Rounds), len(bare.Rounds))
		s.ThroughputSpread = spreadOf(n, func(r int) (float64, bool) {
			br, ok := clean(&bare, r)
			if !ok {
				return 0, false
			}
			sr, ok := round(s, r)
			if !ok {
				return 0, true // failed: no throughput, the missing side of an at-least bound
			}
			return roundRatio(sr.Throughput, br.Throughput)
		})
		s.ThroughputRatio = s.ThroughputSpread.Median
		if direct.Requests == 0 {
			continue
		}
		s.CPUSpread = spreadOf(max(n, len(direct.Rounds)), func(r int) (float64, bool) {
			br, ok2 := clean(&bare, r)
			dr, ok3 := clean(&direct, r)
			if !ok2 || !ok3 {
				return 0, false
			}
			sr, ok := round(s, r)
			if !ok {
				// Failed: no CPU per successful request, the missing
				// side of an at-most bound.
				return math.Inf(1), true
			}
			return roundRatio(sr.CPUSecondsPer1k-dr.CPUSecondsPer1k, br.CPUSecondsPer1k-dr.CPUSecondsPer1k)
		})
		s.CPURatio = s.CPUSpread.Median
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
