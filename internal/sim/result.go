package sim

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// Result is what clients saw under one strategy.
type Result struct {
	Strategy string `json:"strategy"`
	// Meridian reports whether the strategy is Meridian's (not a baseline).
	Meridian  bool `json:"meridian"`
	Requests  int  `json:"requests"`
	Completed int  `json:"completed"`
	// Throttled requests ended with a 429: every attempt was throttled or
	// no destination could take them.
	Throttled    int     `json:"throttled"`
	ThrottledPct float64 `json:"throttled_pct"`
	// Queued requests waited in their node's admission queue at least once
	// (Meridian's strategies only); those that timed out there are throttled.
	Queued int `json:"queued"`
	// QueueWait is the distribution of the total time queued requests
	// spent waiting.
	QueueWait Quantiles `json:"queue_wait"`
	// Retries counts throttled requests whose client retried once after the
	// Retry-After; RetryServedPct is the share of those retries served.
	Retries        int     `json:"retries"`
	RetryServedPct float64 `json:"retry_served_pct"`
	// Failed requests ended with another error (5xx, time-out, connect).
	Failed    int       `json:"failed"`
	FailedPct float64   `json:"failed_pct"`
	TTFT      Quantiles `json:"ttft"`
	E2E       Quantiles `json:"e2e"`
	// CrossRegionShare is the fraction of completed requests served outside
	// their source region.
	CrossRegionShare float64 `json:"cross_region_share"`
	// MeanAddedRTT is the mean RTT between source and serving region over
	// completed requests.
	MeanAddedRTT time.Duration `json:"mean_added_rtt_ns"`
	// Failovers counts attempts beyond each request's first.
	Failovers int `json:"failovers"`
	// ResidencyViolations counts requests served outside the profile's
	// destination set; it must be 0 for Meridian's strategies.
	ResidencyViolations int `json:"residency_violations"`
	// ServedByRegion counts completed requests per serving region.
	ServedByRegion map[string]int `json:"served_by_region"`
	// Tiers breaks the first tries down by service tier, when the
	// scenario's traffic has a tier other than default; nil otherwise.
	Tiers []TierResult `json:"tiers,omitempty"`
}

// TierResult is what the requests of one service tier saw (first tries:
// a client's retry after a 429 is not counted here).
type TierResult struct {
	Tier         string    `json:"tier"`
	Requests     int       `json:"requests"`
	Throttled    int       `json:"throttled"`
	ThrottledPct float64   `json:"throttled_pct"`
	TTFT         Quantiles `json:"ttft"`
}

// tierNames are the tiers in the order of [collector]'s arrays.
var tierNames = [...]inference.ServiceTier{inference.TierPriority, inference.TierDefault, inference.TierFlex}

func tierIndex(t inference.ServiceTier) int {
	switch t {
	case inference.TierPriority:
		return 0
	case inference.TierFlex:
		return 2
	}
	return 1
}

// Quantiles of a latency distribution.
type Quantiles struct {
	P50 time.Duration `json:"p50_ns"`
	P95 time.Duration `json:"p95_ns"`
	P99 time.Duration `json:"p99_ns"`
}

// collector accumulates one run's statistics.
type collector struct {
	requests, throttled, failed int
	queued                      int
	queueWait                   []float32 // ms
	retryServed, retryFailed    int
	ttft, e2e                   []float32 // ms
	cross, violations           int
	addedRTT                    int64
	failovers                   int
	byRegion                    []int
	// Per service tier (tierIndex), first tries only.
	tiered                  bool
	tierRequests, tierThrot [3]int
	tierTTFT                [3][]float32
}

// arrived counts a new request under its tier.
func (c *collector) arrived(r *request) {
	c.tierRequests[tierIndex(r.tier)]++
	if r.tier != inference.TierDefault {
		c.tiered = true
	}
}

// ended records the queue wait of a first try that queued.
func (c *collector) ended(r *request) {
	if r.everQueued && !r.retry {
		c.queueWait = append(c.queueWait, float32(r.waited)/1e6)
	}
}

func (c *collector) served(r *request, d int, done int64, w *world) {
	c.ended(r)
	if !w.reaches(r.src, d) {
		c.violations++
	}
	if r.retry {
		c.retryServed++
		return
	}
	c.ttft = append(c.ttft, float32(r.firstToken-r.arrival)/1e6)
	c.tierTTFT[tierIndex(r.tier)] = append(c.tierTTFT[tierIndex(r.tier)], float32(r.firstToken-r.arrival)/1e6)
	c.e2e = append(c.e2e, float32(done-r.arrival)/1e6)
	if d != r.src {
		c.cross++
		c.addedRTT += w.rtt[r.src][d]
	}
	c.failovers += int(r.attempts) - 1
	if c.byRegion == nil {
		c.byRegion = make([]int, len(w.regions))
	}
	c.byRegion[d]++
}

func (c *collector) result(strategy string, regions []string) *Result {
	done := len(c.ttft)
	r := &Result{
		Strategy: strategy, Meridian: Meridian(strategy),
		Requests: c.requests, Completed: done, Throttled: c.throttled, Failed: c.failed, Queued: c.queued,
		TTFT: quantiles(c.ttft), E2E: quantiles(c.e2e), QueueWait: quantiles(c.queueWait),
		Retries:   c.retryServed + c.retryFailed,
		Failovers: c.failovers, ResidencyViolations: c.violations,
		ServedByRegion: map[string]int{},
	}
	for i, n := range c.byRegion {
		if n > 0 {
			r.ServedByRegion[regions[i]] = n
		}
	}
	if c.requests > 0 {
		r.ThrottledPct = 100 * float64(c.throttled) / float64(c.requests)
		r.FailedPct = 100 * float64(c.failed) / float64(c.requests)
	}
	if r.Retries > 0 {
		r.RetryServedPct = 100 * float64(c.retryServed) / float64(r.Retries)
	}
	if done > 0 {
		r.CrossRegionShare = float64(c.cross) / float64(done)
		r.MeanAddedRTT = time.Duration(c.addedRTT / int64(done))
	}
	if c.tiered {
		for i, t := range tierNames {
			if c.tierRequests[i] == 0 {
				continue
			}
			r.Tiers = append(r.Tiers, TierResult{Tier: t.String(), Requests: c.tierRequests[i], Throttled: c.tierThrot[i],
				ThrottledPct: 100 * float64(c.tierThrot[i]) / float64(c.tierRequests[i]), TTFT: quantiles(c.tierTTFT[i])})
		}
	}
	return r
}

func quantiles(ms []float32) Quantiles {
	if len(ms) == 0 {
		return Quantiles{}
	}
	slices.Sort(ms)
	q := func(p float64) time.Duration {
		i := min(int(p*float64(len(ms))), len(ms)-1)
		return time.Duration(float64(ms[i]) * 1e6)
	}
	return Quantiles{P50: q(0.50), P95: q(0.95), P99: q(0.99)}
}

// Format names an output format of [Write].
type Format string

// Output formats.
const (
	Table Format = "table"
	CSV   Format = "csv"
	JSON  Format = "json"
)

var header = []string{"strategy", "completed", "queued", "queue_wait_p99", "throttled%", "retry_served%", "failed%",
	"ttft_p50", "ttft_p95", "ttft_p99", "e2e_p50", "e2e_p95", "e2e_p99",
	"cross_region%", "added_rtt", "failovers", "residency_violations"}

func (r *Result) row() []string {
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + "ms" }
	name := r.Strategy
	if !r.Meridian {
		name += " (baseline)"
	}
	return []string{name, strconv.Itoa(r.Completed), strconv.Itoa(r.Queued), ms(r.QueueWait.P99),
		fmt.Sprintf("%.2f", r.ThrottledPct), fmt.Sprintf("%.1f", r.RetryServedPct), fmt.Sprintf("%.2f", r.FailedPct),
		ms(r.TTFT.P50), ms(r.TTFT.P95), ms(r.TTFT.P99), ms(r.E2E.P50), ms(r.E2E.P95), ms(r.E2E.P99),
		fmt.Sprintf("%.1f", 100*r.CrossRegionShare), ms(r.MeanAddedRTT),
		strconv.Itoa(r.Failovers), strconv.Itoa(r.ResidencyViolations)}
}

// Report is the outcome of a comparison: the scenario and one result per
// strategy.
type Report struct {
	Scenario string    `json:"scenario"`
	Seed     uint64    `json:"seed"`
	Results  []*Result `json:"results"`
}

// Write renders rep in format f.
func Write(out io.Writer, rep *Report, f Format) error {
	switch f {
	case JSON:
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case CSV:
		cw := csv.NewWriter(out)
		rows := [][]string{append([]string{"scenario", "seed"}, header...)}
		for _, r := range rep.Results {
			rows = append(rows, append([]string{rep.Scenario, strconv.FormatUint(rep.Seed, 10)}, r.row()...))
		}
		return cw.WriteAll(rows)
	case Table, "":
		fmt.Fprintf(out, "scenario %s, seed %d, %d requests\n\n", rep.Scenario, rep.Seed, requests(rep))
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		line := func(cells []string) {
			for _, c := range cells {
				fmt.Fprint(tw, c, "\t")
			}
			fmt.Fprintln(tw)
		}
		line(header)
		for _, r := range rep.Results {
			line(r.row())
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		return writeTiers(out, rep)
	}
	return fmt.Errorf("unknown output format %q (use table, csv or json)", f)
}

func requests(rep *Report) int {
	if len(rep.Results) == 0 {
		return 0
	}
	return rep.Results[0].Requests
}

var tierHeader = []string{"strategy", "tier", "requests", "throttled%", "ttft_p50", "ttft_p95", "ttft_p99"}

// writeTiers renders the per-tier table under the main one, when a result
// has tiers.
func writeTiers(out io.Writer, rep *Report) error {
	if !slices.ContainsFunc(rep.Results, func(r *Result) bool { return r.Tiers != nil }) {
		return nil
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	line := func(cells ...string) {
		for _, c := range cells {
			fmt.Fprint(tw, c, "\t")
		}
		fmt.Fprintln(tw)
	}
	line(tierHeader...)
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + "ms" }
	for _, r := range rep.Results {
		name := r.Strategy
		if !r.Meridian {
			name += " (baseline)"
		}
		for _, t := range r.Tiers {
			line(name, t.Tier, strconv.Itoa(t.Requests), fmt.Sprintf("%.2f", t.ThrottledPct), ms(t.TTFT.P50), ms(t.TTFT.P95), ms(t.TTFT.P99))
		}
	}
	return tw.Flush()
}
