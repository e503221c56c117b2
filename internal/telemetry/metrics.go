package telemetry

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are one node's Prometheus metrics.
type Metrics struct {
	Registry *prometheus.Registry
	// Registerer registers other packages' collectors (quota, link and
	// certificate stores) on Registry with the node's region label added,
	// like every metric above.
	Registerer prometheus.Registerer

	// Requests counts finished requests by source region, inference region
	// ("" when nothing ran), profile and HTTP status.
	Requests *prometheus.CounterVec
	// Duration is end-to-end request latency by source region, profile and
	// status class (StatusClass: "2xx", "4xx", "5xx"), so that a latency
	// objective reads served requests only, not refusals answered in
	// microseconds.
	Duration *prometheus.HistogramVec
	// TTFT is time to first token (streams) or to the full answer.
	TTFT *prometheus.HistogramVec
	// Forwarded counts requests this node served for another region.
	Forwarded *prometheus.CounterVec
	// RouteDecisions counts routing decisions by reason.
	RouteDecisions *prometheus.CounterVec
	// Failovers counts moves from one destination to the next, by cause.
	Failovers *prometheus.CounterVec
	// ResidencyRejections counts requests refused because a destination
	// lay outside the profile (invariant 1). It should stay at zero on the
	// source side.
	ResidencyRejections *prometheus.CounterVec
	// NotCallable counts requests refused 400 profile_not_callable_here
	// because the profile they named may not be called from this region
	// (a profile of another geography), by profile label (ProfileLabel).
	// It is the caller's misconfiguration, or an attempt to move data out
	// of its geography; ResidencyRejections counts the gateway's own
	// checks.
	NotCallable *prometheus.CounterVec
	// Attempts counts the calls made to destinations (the local backend or
	// a peer region over the link), by destination region and outcome:
	// "ok" or the error kind of the failed attempt (throttled,
	// upstream_error, unavailable, timeout, ...: inference.ErrorKind names).
	Attempts *prometheus.CounterVec
	// Skipped counts destinations of a request's profile that the gateway
	// did not call because of their state, by destination region and
	// reason. The router's exclusions: circuit-open, probe-in-flight,
	// cooldown, saturated, rpm-exhausted, tpm-exhausted; and the checks
	// right before a call: node-down (the peer's node does not answer on
	// the link), unavailable (cooling down after a 429, or its probe taken
	// since the plan), failing (circuit opened since the plan), at-capacity
	// (the deployment's own quota).
	Skipped *prometheus.CounterVec
	// PeerUp is 1 while a peer region's node answers.
	PeerUp *prometheus.GaugeVec
	// InFlight is the number of requests being served.
	InFlight prometheus.Gauge
	// TopologyMismatch is 1 while a peer's residency topology differs from
	// this node's.
	TopologyMismatch *prometheus.GaugeVec
	// QueueDepth is the number of requests waiting in the admission queue,
	// by profile; QueueWait how long admitted waiters waited; and
	// QueueRejections the requests answered 429 by the queue, by reason.
	QueueDepth      *prometheus.GaugeVec
	QueueWait       prometheus.Histogram
	QueueRejections *prometheus.CounterVec
	// TierRequests counts source-side requests by service tier and
	// status; TierTTFT is their time to first token by tier.
	TierRequests *prometheus.CounterVec
	TierTTFT     *prometheus.HistogramVec
	// Overhead is the time Meridian itself spent on a request, excluding
	// the serving backend's time (docs/performance.md, "Overhead per
	// request"), by part: "total" for every request answered here, and for
	// forwarded ones also "source", "link" and "destination".
	Overhead *prometheus.HistogramVec
}

// ResidencySides are the side label values of
// meridian_residency_rejections_total: "source" (the gateway's last check
// before a call refused a destination the router proposed: a bug) and
// "destination" (a destination refused a forwarded job).
var ResidencySides = []string{"source", "destination"}

// QueueRejectionReasons are the reason label values of
// meridian_queue_rejections_total (the admission queue's, in
// internal/gateway/overload.go).
var QueueRejectionReasons = []string{"predicted_wait", "hopeless", "standing", "full", "timeout", "flex"}

// overheadBuckets resolve the sub-millisecond times a proxy hop costs.
var overheadBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}

var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}

// NewMetrics creates and registers a node's metrics on a new registry, with
// the Go and process collectors.
func NewMetrics(region string) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	constLabels := prometheus.Labels{"region": region}
	m := &Metrics{
		Registry:   reg,
		Registerer: prometheus.WrapRegistererWith(constLabels, reg),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meridian_requests_total", ConstLabels: constLabels,
			Help: "Inference requests by source region, inference region, profile and status."},
			[]string{"source_region", "inference_region", "profile", "status"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "meridian_request_duration_seconds", ConstLabels: constLabels,
			Help: "End-to-end request latency, by status class (2xx, 4xx, 5xx).", Buckets: latencyBuckets}, []string{"source_region", "profile", "status_class"}),
		TTFT: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "meridian_time_to_first_token_seconds", ConstLabels: constLabels,
			Help: "Time to first token (streams) or to the answer (non-streaming).", Buckets: latencyBuckets}, []string{"source_region", "inference_region", "profile"}),
		Forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meridian_link_served_total", ConstLabels: constLabels,
			Help: "Requests forwarded by another region and served (or refused) here."}, []string{"source_region", "profile", "status"}),
		RouteDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meridian_route_decisions_total", ConstLabels: constLabels,
			Help: "Routing decisions by reason."}, []string{"reason"}),
		Failovers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meridian_failovers_total", ConstLabels: constLabels,
			Help: "Failovers from one destination region to the next, by cause."}, []string{"from", "to", "cause"}),
		ResidencyRejections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meridian_residency_rejections_total", ConstLabels: constLabels,
			Help: "Requests refused because a destination lay outside the profile's regions."}, []string{"side"}),
		PeerUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "meridian_peer_up", ConstLabels: constLabels,
			Help: "1 while the peer region's node answers on the link."}, []string{"peer"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "meridian_in_flight_requests", ConstLabels: constLabels,
			Help: "Requests being served by this node."}),
		TopologyMismatch: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "meridian_topology_mismatch", ConstLabels: constLabels,
			Help: "1 while the peer's residency-relevant topology differs from this node's."}, []string{"peer"}),
		QueueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "meridian_queue_depth", ConstLabels: constLabels,
			Help: "Requests waiting in the admission queue, by profile."}, []string{"profile"}),
		QueueWait: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "meridian_queue_wait_seconds", ConstLabels: constLabels,
			Help: "Time requests spent in the admission queue.", Buckets: latencyBuckets}),
		QueueRejections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meridian_queue_rejections_total", ConstLabels: constLabels,
			Help: "Requests the admission queue answered 429, by reason."}, []string{"reason"}),
		TierRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meridian_service_tier_requests_total", ConstLabels: constLabels,
			Help: "Inference requests by service tier (priority, default, flex) and status."}, []string{"tier", "status"}),
		TierTTFT: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "meridian_service_tier_time_to_first_token_seconds", ConstLabels: constLabels,
			Help: "Time to first token by service tier.", Buckets: latencyBuckets}, []string{"tier"}),
		Overhead: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "meridian_overhead_seconds", ConstLabels: constLabels,
			Help: "Time Meridian itself spent on a request, excluding the backend's, by part (total, source, link, destination).", Buckets: overheadBuckets},
			[]string{"part"}),
	}
	m.NotCallable = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meridian_profile_not_callable_total", ConstLabels: constLabels,
		Help: "Requests refused because the profile they named may not be called from this region (profile_not_callable_here), by profile."}, []string{"profile"})
	m.Attempts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meridian_attempts_total", ConstLabels: constLabels,
		Help: "Calls to a destination (local backend or peer region), by destination region and outcome (ok or the error kind)."},
		[]string{"destination_region", "outcome"})
	m.Skipped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meridian_destinations_skipped_total", ConstLabels: constLabels,
		Help: "Destinations not called because of their state, by destination region and reason (circuit-open, cooldown, saturated, node-down, at-capacity, ...)."},
		[]string{"destination_region", "reason"})
	// Series whose label values are known now exist from the start at 0:
	// Prometheus' increase() cannot see the first event of a series that
	// appears with it.
	for _, side := range ResidencySides {
		m.ResidencyRejections.WithLabelValues(side)
	}
	for _, r := range QueueRejectionReasons {
		m.QueueRejections.WithLabelValues(r)
	}
	reg.MustRegister(m.NotCallable, m.Attempts, m.Skipped)
	reg.MustRegister(m.Requests, m.Duration, m.TTFT, m.Forwarded, m.RouteDecisions, m.Failovers, m.ResidencyRejections, m.PeerUp, m.InFlight, m.TopologyMismatch,
		m.QueueDepth, m.QueueWait, m.QueueRejections, m.TierRequests, m.TierTTFT, m.Overhead)
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// StatusClass is the status_class label of an HTTP status: "2xx", "4xx",
// "5xx" (and "1xx", "3xx" for completeness; Meridian answers neither).
func StatusClass(code int) string {
	if code < 100 || code >= 600 {
		return "5xx"
	}
	return statusClasses[code/100-1]
}

var statusClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}
