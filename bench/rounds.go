package bench

import (
	"encoding/json"
	"math"
	"slices"
	"time"
)

// Rounds of the phases that interleave the scenarios. A host shared with
// other work drifts by up to 2x within a run, the bare proxy included; a
// ratio computed within one round compares two paths measured seconds
// apart, and the median over rounds tolerates a round that a burst from
// another process sank. The count is the least multiple of the period of
// the rounds' orders (see [schedule]) at or above these minimums, so that
// the order stays balanced over the whole phase: with the 4 built-in
// scenarios, 12 sequential rounds and 8 per closed-loop level; with 3 or
// 5 scenarios, 12 and 6, or 10 and 10.
const (
	// minSequentialRounds is the fewest rounds the sequential requests
	// of each scenario are split into (fewer only when there are fewer
	// requests): 10 rounds or more leave the lowest and the highest
	// round out of the median's 95% interval.
	minSequentialRounds = 10
	// minConcurrencyRounds is the fewest rounds each level of the
	// closed-loop sweep is split into, the fewest whose whole range is a
	// 95% interval of the median. Each scenario runs ConcurrencyStep/R
	// per round of R, so the level takes as long as one ConcurrencyStep
	// per scenario whatever R is.
	minConcurrencyRounds = 6
)

// settlePause is how long [settleSlot] waits: long enough on loopback for
// what a slot leaves running after its last response (a handler's tail
// such as the audit append, connections being put back or closed, the
// mock upstream finishing a write) to finish. It is outside every
// measurement: 20ms before each of the ~300 slots of a default run adds
// about 6s to a run of several minutes.
const settlePause = 20 * time.Millisecond

// settleSlot runs before each measured slot of an interleaved phase, outside
// its measurement. Client, proxy, nodes and mock upstream share this
// process, so the work still running after a slot would otherwise land
// in the next slot's CPU and latency, charging one scenario for the one
// before it: it lets that work end. It does not collect: a collection
// here would reset the heap goal before every slot, so that each slot
// paid only for the whole cycles inside it and the garbage it left at its
// end were collected here, charged to nobody, which favours the path that
// allocates more. Without it a slot's garbage is collected by the cycle
// it brings forward, within it or in a later slot; the balanced order
// (see [schedule]) spreads that carry-over evenly over the scenarios.
func settleSlot() {
	time.Sleep(settlePause)
}

// interleave runs slot(r, i) for each scenario i of each round r, in the
// order given (see [schedule]), calling settle before each slot, outside
// it.
func interleave(order [][]int, settle func(), slot func(r, i int)) {
	for r, o := range order {
		for _, i := range o {
			settle()
			slot(r, i)
		}
	}
}

// roundPeriod is how many rounds the orders of n scenarios take to repeat
// (see [roundOrder]): n, or 2n when n is odd.
func roundPeriod(n int) int {
	if n%2 == 1 {
		return 2 * n
	}
	return max(n, 1)
}

// roundsFor returns the least multiple of the period of n scenarios' orders
// that is at least least.
func roundsFor(n, least int) int {
	p := roundPeriod(n)
	return (max(least, 1) + p - 1) / p * p
}

// sequentialRoundsFor and concurrencyRoundsFor are the round counts of the
// sequential phase (before capping at the number of requests, see
// [Options.sequentialRounds]) and of a closed-loop level for n scenarios.
func sequentialRoundsFor(n int) int  { return roundsFor(n, minSequentialRounds) }
func concurrencyRoundsFor(n int) int { return roundsFor(n, minConcurrencyRounds) }

// minCompareRounds is the fewest rounds of the comparison at one rate,
// which pools them (no per-round ratio); compareRoundsFor is the least
// whole number of periods at or above it (4 with the 4 built-in
// scenarios, 6 with 3). Each slot runs Step over the count, so the phase
// takes one Step per scenario whatever the count.
const minCompareRounds = 3

func compareRoundsFor(n int) int { return roundsFor(n, minCompareRounds) }

// Spread is a figure computed once per round and summarized: the targets
// use Median, Min and Max show how far the rounds disagree, and Low to
// High is the interval the verdict uses (see [judge]).
type Spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	// Low and High bound the median with probability Confidence whatever
	// the distribution of the rounds (a sign-test interval): the k-th
	// lowest and the k-th highest round, k the largest rank that keeps
	// Confidence at 95% or more (k = 1, Min to Max, for 6 to 8 rounds and
	// for fewer than 6, where no interval reaches 95% and the verdict
	// stays unsettled; k = 2 for 9 to 11 rounds, k = 3 for 12 to 14). A
	// round without a value could lie anywhere, so each one moves both
	// ends out by a rank; a failed round ranks above every value. Confidence is 0 when there is no
	// interval: no defined round left to stand for an end (Low and High
	// are then 0), or a single round.
	Low        float64 `json:"low"`
	High       float64 `json:"high"`
	Confidence float64 `json:"confidence"`
	// Rounds holds the value of each round that had a finite one, in run
	// order.
	Rounds []float64 `json:"rounds"`
	// Failed counts the rounds in which the path under test had no
	// successful request, for a figure whose target is an upper bound
	// (latency, CPU): such a round scores +Inf, worse than any round, so
	// that a path failing in some rounds cannot meet a target on the
	// others. (A lower bound, throughput, scores such a round 0, an
	// ordinary value.) The median, Max and High may then be +Inf, written
	// as null in the JSON.
	Failed int `json:"failed,omitempty"`
	// Undefined counts the rounds that had no value: a ratio whose
	// denominator was not positive (the bare proxy's added cost lost in
	// that round's noise), or a round in which a baseline the figure
	// needs (direct, the bare proxy, or meridian-local for the forwarded
	// path's cost beyond it) measured no successful request.
	Undefined int `json:"undefined,omitempty"`
}

// MarshalJSON writes the spread with an infinite median, end or extreme
// (a failed round's) as null: JSON has no infinity.
func (s Spread) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Median     *float64  `json:"median"`
		Min        *float64  `json:"min"`
		Max        *float64  `json:"max"`
		Low        *float64  `json:"low"`
		High       *float64  `json:"high"`
		Confidence float64   `json:"confidence"`
		Rounds     []float64 `json:"rounds"`
		Failed     int       `json:"failed,omitempty"`
		Undefined  int       `json:"undefined,omitempty"`
	}{finite(s.Median), finite(s.Min), finite(s.Max), finite(s.Low), finite(s.High), s.Confidence, s.Rounds, s.Failed, s.Undefined})
}

// finite is v, or nil (null in the JSON) when v is infinite or NaN: a
// figure copied from a spread's median may be +Inf (see [Spread.Failed]),
// and JSON has no infinity.
func finite(v float64) *float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return nil
	}
	return &v
}

// spreadOf calls f for each of n rounds and summarizes the values of the
// rounds for which it reports ok; a value of +Inf is a failed round (see
// [Spread.Failed]), ranked above every other. With no such round, the
// zero Spread (plus the undefined count) is returned.
func spreadOf(n int, f func(r int) (v float64, ok bool)) Spread {
	var s Spread
	for r := range n {
		v, ok := f(r)
		switch {
		case ok && math.IsInf(v, 1):
			s.Failed++
		case !ok || math.IsNaN(v) || math.IsInf(v, -1):
			s.Undefined++
		default:
			s.Rounds = append(s.Rounds, v)
		}
	}
	if len(s.Rounds)+s.Failed == 0 {
		return s
	}
	sorted := slices.Sorted(slices.Values(s.Rounds))
	for range s.Failed {
		sorted = append(sorted, math.Inf(1))
	}
	s.Min, s.Max = sorted[0], sorted[len(sorted)-1]
	if k := len(sorted); k%2 == 1 {
		s.Median = sorted[k/2]
	} else {
		s.Median = (sorted[k/2-1] + sorted[k/2]) / 2
	}
	k, conf := medianRank(n)
	if k -= s.Undefined; k >= 1 {
		s.Low, s.High, s.Confidence = sorted[k-1], sorted[len(sorted)-k], conf
	}
	return s
}

// medianRank returns the rank k of the distribution-free confidence
// interval of the median of n values (the k-th lowest to the k-th
// highest) and its coverage: each value lies above the true median with
// probability 1/2, so the interval misses it with probability
// 2·P(Binomial(n, 1/2) <= k-1). k is the largest rank with a coverage of
// at least 95%, or 1 (the whole range) when none reaches it.
func medianRank(n int) (k int, coverage float64) {
	k, coverage = 1, 1-2*math.Pow(0.5, float64(n))
	cdf, term := 0.0, math.Pow(0.5, float64(n)) // P(X <= j), P(X = j)
	for j := 0; 2*(j+1) < n; j++ {
		cdf += term
		term = term * float64(n-j) / float64(j+1)
		// Rank j+2 misses the median with probability 2·P(X <= j+1).
		if c := 1 - 2*(cdf+term); c >= 0.95 {
			k, coverage = j+2, c
		} else {
			break
		}
	}
	return k, coverage
}

// roundRatio is a round's num/den for [spreadOf]; a denominator that is
// not positive gives no value (a ratio to nothing, or to a negative cost,
// says nothing about the numerator).
func roundRatio(num, den float64) (float64, bool) {
	if den <= 0 {
		return 0, false
	}
	return num / den, true
}

// schedule returns the order of n scenarios (indexes 0..n-1) in each of
// rounds rounds run back to back: the rows of [roundOrder]'s balanced
// Latin square, each used equally often (so every scenario runs equally
// often in each position when rounds is a multiple of the period), in an
// order chosen for the round boundaries. Within the rows every scenario
// runs directly after each other one equally often; across a boundary the
// last scenario of a round precedes the first of the next, and taking the
// rows in order would always pair the same scenarios there (with 4
// scenarios the bare proxy would follow meridian-local at every fourth
// boundary, and the leftover work of a slot lands in the next). So each
// next round is the row, among those still due, that starts with the
// scenario the previous round ended with (a scenario after itself biases
// no ratio), or else the one whose boundary pair has occurred least,
// lowest row first: over the round counts the phases use, every scenario
// then follows each other one equally often, give or take one, across the
// whole concatenated sequence.
func schedule(n, rounds int) [][]int {
	if n <= 0 || rounds <= 0 {
		return nil
	}
	p := roundPeriod(n)
	due := make([]int, p)
	for i := range due {
		due[i] = (rounds + p - 1) / p
	}
	boundary := map[[2]int]int{} // {last, first}: boundaries so far
	out := make([][]int, 0, rounds)
	for len(out) < rounds {
		best, bestCost := -1, 0
		for r := range p {
			if due[r] == 0 {
				continue
			}
			cost := 0
			if len(out) > 0 {
				if last, first := out[len(out)-1][n-1], roundOrder(n, r)[0]; last != first {
					cost = 1 + boundary[[2]int{last, first}]
				}
			}
			if best < 0 || cost < bestCost {
				best, bestCost = r, cost
			}
		}
		o := roundOrder(n, best)
		if len(out) > 0 {
			if last := out[len(out)-1][n-1]; last != o[0] {
				boundary[[2]int{last, o[0]}]++
			}
		}
		out = append(out, o)
		due[best]--
	}
	return out
}

// roundOrder returns the order in which n scenarios (indexes 0..n-1) run in
// row r of a balanced Latin square. The orders form a balanced Latin square (a Williams design):
// over n consecutive rounds (2n when n is odd) every scenario runs once in
// each position and directly after each other scenario equally often, so
// no scenario always runs after the same one (for instance after the
// heaviest, or first after a pause) and no position's bias lands on one
// scenario. The pattern repeats after that period.
func roundOrder(n, r int) []int {
	if n <= 0 {
		return nil
	}
	period := n
	if n%2 == 1 {
		period = 2 * n
	}
	r %= period
	order := make([]int, n)
	for j := range n {
		// The first row: 0, 1, n-1, 2, n-2, 3, …
		var b int
		switch {
		case j == 0:
			b = 0
		case j%2 == 1:
			b = (j + 1) / 2
		default:
			b = n - j/2
		}
		order[j] = (b + r) % n
	}
	if r >= n { // odd n: the second half of the period runs the rows backwards
		slices.Reverse(order)
	}
	return order
}
