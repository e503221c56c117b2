package quota

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// Health of the store. While the store is down, one operation a second is
// let through as a probe (and [Limiter.Check] probes too); the others take
// the on_store_error path at once instead of waiting for a time-out. The
// first success marks the store up again, so recovery needs no restart.
//
// Each operation takes a ticket (begin) before it tries the store. A
// failure of an operation that began before another that has since
// succeeded is stale, and marks nothing down: a command stuck on a dead
// connection (a server that hung, then came back, or a failover) that
// times out after the store answered others would otherwise mark it down
// again, and refuse every request under fail_closed until the next probe.
// It is still counted in store_errors_total.
const (
	probeInterval = time.Second
	logInterval   = 30 * time.Second
)

type health struct {
	clock   Clock
	log     *slog.Logger
	metrics *metrics
	mode    string

	seq atomic.Uint64 // the last ticket given (begin)

	mu        sync.Mutex
	okTicket  uint64 // the latest ticket of an operation that succeeded
	up        bool
	downSince time.Time
	lastProbe time.Time
	lastLog   time.Time
	failures  int // since the last log line
}

func newHealth(clock Clock, log *slog.Logger, m *metrics, mode string) *health {
	m.storeUp.Set(1)
	return &health{clock: clock, log: log, metrics: m, mode: mode, up: true}
}

func (h *health) healthy() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.up
}

// allow reports whether an operation should try the store: always while it
// is up, once per probeInterval while it is down.
func (h *health) allow() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.up {
		return true
	}
	now := h.clock.Now()
	if now.Sub(h.lastProbe) >= probeInterval {
		h.lastProbe = now
		return true
	}
	return false
}

// begin returns the ticket of an operation about to try the store.
func (h *health) begin() uint64 { return h.seq.Add(1) }

// fail records a store error of op, whose ticket is ticket. It logs the
// first failure at once and then at most one line per logInterval, never
// one per request; a stale failure is only counted.
func (h *health) fail(op string, err error, ticket uint64) {
	h.metrics.storeErrors.WithLabelValues(op).Inc()
	h.mu.Lock()
	defer h.mu.Unlock()
	if ticket < h.okTicket {
		return
	}
	now := h.clock.Now()
	h.lastProbe = now
	h.failures++
	if h.up {
		h.up = false
		h.downSince = now
		h.lastLog = now
		h.failures = 0
		h.metrics.storeUp.Set(0)
		h.log.Error("quota store unavailable", "op", op, telemetry.AttrError, err, "on_store_error", h.mode)
		return
	}
	if now.Sub(h.lastLog) >= logInterval {
		h.log.Warn("quota store still unavailable", "op", op, telemetry.AttrError, err, "on_store_error", h.mode,
			"down_for", now.Sub(h.downSince).Round(time.Second), "failures", h.failures)
		h.lastLog = now
		h.failures = 0
	}
}

// ok records a successful store operation, whose ticket is ticket.
func (h *health) ok(ticket uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.okTicket = max(h.okTicket, ticket)
	if h.up {
		return
	}
	now := h.clock.Now()
	h.up = true
	h.metrics.storeUp.Set(1)
	h.log.Info("quota store recovered", "down_for", now.Sub(h.downSince).Round(time.Second), "failures", h.failures)
	h.failures = 0
}

// metrics are the limiter's Prometheus metrics.
type metrics struct {
	admissions  *prometheus.CounterVec
	rejections  *prometheus.CounterVec
	storeErrors *prometheus.CounterVec
	storeUp     prometheus.Gauge
	duration    prometheus.Histogram

	pending            prometheus.Gauge
	droppedSettlements *prometheus.CounterVec

	// admitted is admissions' child of resultAdmitted, looked up once:
	// every admitted request counts there, and WithLabelValues hashes
	// the label and takes the vector's lock on each call.
	admitted prometheus.Counter
}

// Admission results (label result of meridian_quota_admissions_total).
const (
	resultAdmitted     = "admitted"
	resultRejected     = "rejected"
	resultFailedOpen   = "store_error_admitted"
	resultFailedClosed = "store_error_rejected"
	resultInvalid      = "invalid"       // a *RequestError
	resultRefused      = "store_refused" // ErrStoreRefused
)

// Reasons a settlement is dropped (label reason of
// meridian_quota_dropped_settlements_total).
const (
	dropOverflow = "overflow" // more than maxPending waited for the store
	dropRefused  = "refused"  // the store refused it (ErrStoreRefused)
	dropAttempts = "attempts" // maxSettleAttempts transient failures
	dropClosed   = "closed"   // still waiting when the limiter closed
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		admissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_quota_admissions_total",
			Help: "Quota admissions by result: admitted, rejected, store_error_admitted (fail_open), store_error_rejected (fail_closed), invalid (negative token counts), store_refused (the store refused the request itself).",
		}, []string{"result"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_quota_rejections_total",
			Help: "Quota rejections by the scope and kind of the limit that refused.",
		}, []string{"scope", "limit"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_quota_store_errors_total",
			Help: "Quota store operations that failed, by operation.",
		}, []string{"op"}),
		storeUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meridian_quota_store_up",
			Help: "1 when the quota store answers, 0 while it is unavailable.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "meridian_quota_admission_duration_seconds",
			Help:    "Time to decide a quota admission, store round trip included.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .1, 1},
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meridian_quota_pending_settlements",
			Help: "Commits and releases that failed while the store was unavailable, waiting to be retried.",
		}),
		droppedSettlements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_quota_dropped_settlements_total",
			Help: "Commits and releases given up, by reason: overflow (too many waited for the store), refused (the store refused it; retrying would fail again), attempts (failed too many times), closed (still waiting for the store when the limiter closed).",
		}, []string{"reason"}),
	}
	m.admitted = m.admissions.WithLabelValues(resultAdmitted)
	// The series whose labels are known at start exist at 0 (series.go).
	for _, r := range admissionResults {
		m.admissions.WithLabelValues(r)
	}
	for _, op := range storeOps {
		m.storeErrors.WithLabelValues(op)
	}
	for _, r := range dropReasons {
		m.droppedSettlements.WithLabelValues(r)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.admissions, m.rejections, m.storeErrors, m.storeUp, m.duration, m.pending, m.droppedSettlements} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
