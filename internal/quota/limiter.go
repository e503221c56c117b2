package quota

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// settleTimeout bounds Commit and Release, which run detached from the
// request's context (a cancelled request must still give back what it held).
const settleTimeout = 5 * time.Second

// Options are a [Limiter]'s collaborators. The zero value is usable.
type Options struct {
	// Logger receives store outages and recoveries (rate-limited). If nil,
	// nothing is logged.
	Logger *slog.Logger
	// Registerer receives the meridian_quota_* metrics. If nil, they are
	// not registered.
	Registerer prometheus.Registerer
	// Clock tells the time for the limiter's own decisions (health probes,
	// ResetAt) and for the memory store that [Open] creates. If nil, the
	// system clock is used.
	Clock Clock
}

// Limiter admits requests against their limits. It is safe for concurrent
// use. Create it with [New] or [Open]; Close it when done.
type Limiter struct {
	cfg     Config
	store   Store
	owned   bool // Close closes the store
	clock   Clock
	health  *health
	metrics *metrics

	idPrefix string
	idSeq    atomic.Uint64

	// Settlements that failed while the store was unavailable, retried in
	// the background once it answers again (see flush).
	pmu      sync.Mutex
	pending  []settlement
	flushing bool
	closed   bool
	npending atomic.Int64
	wg       sync.WaitGroup
}

// maxPending bounds the settlements kept for retry; beyond it the oldest
// are dropped (their tokens stay counted until their window passes, their
// concurrency slots until their lease ends).
const maxPending = 10000

// settlement is a Commit or Release to apply to the store.
type settlement struct {
	claim   Claim
	windows []int64
	actual  int64
	release bool
}

// Open validates cfg, creates the store it names (a [Memory] store, or a
// [Redis] store, which it does not contact yet) and returns a limiter that
// owns it.
func Open(cfg Config, o Options) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var s Store
	if cfg.Store == StoreRedis {
		r, err := NewRedis(cfg.Redis)
		if err != nil {
			return nil, err
		}
		s = r
	} else {
		s = NewMemory(o.Clock)
	}
	l, err := New(cfg, s, o)
	if err != nil {
		s.Close()
		return nil, err
	}
	l.owned = true
	return l, nil
}

// New returns a limiter over store, which the caller keeps and closes.
func New(cfg Config, store Store, o Options) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	log = log.With("component", "quota")
	clock := o.Clock
	if clock == nil {
		clock = systemClock{}
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("register quota metrics: %w", err)
	}
	var b [6]byte
	rand.Read(b[:])
	mode := cfg.OnStoreError
	if mode == "" {
		mode = FailClosed
	}
	return &Limiter{
		cfg:      cfg,
		store:    store,
		clock:    clock,
		health:   newHealth(clock, log, m, mode),
		metrics:  m,
		idPrefix: hex.EncodeToString(b[:]) + "-",
	}, nil
}

// Close stops retrying pending settlements, waits for a retry in progress,
// and closes the store if the limiter created it ([Open]).
func (l *Limiter) Close() error {
	l.pmu.Lock()
	l.closed = true
	l.pmu.Unlock()
	l.wg.Wait()
	if l.owned {
		return l.store.Close()
	}
	return nil
}

// Healthy reports whether the store answered the last time it was used.
// It does no I/O; see [Limiter.Check].
func (l *Limiter) Healthy() bool { return l.health.healthy() }

// Check pings the store, records the result and returns the store's error.
// The node's /readyz calls it: with fail_closed a down store rejects every
// request, so the node should report not ready; with fail_open it still
// serves and may stay ready (reporting the degradation in the body).
func (l *Limiter) Check(ctx context.Context) error {
	if err := l.store.Ping(ctx); err != nil {
		if ctx.Err() == nil {
			l.health.fail("ping", err)
		}
		return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	l.storeOK()
	return nil
}

// storeOK records a successful store operation and, if settlements wait
// for the store, starts retrying them.
func (l *Limiter) storeOK() {
	l.health.ok()
	if l.npending.Load() == 0 {
		return
	}
	l.pmu.Lock()
	defer l.pmu.Unlock()
	if l.flushing || l.closed || len(l.pending) == 0 {
		return
	}
	l.flushing = true
	l.wg.Add(1)
	go l.flush()
}

// deferSettlement keeps s for a retry once the store answers again.
func (l *Limiter) deferSettlement(s settlement) {
	l.pmu.Lock()
	defer l.pmu.Unlock()
	if len(l.pending) >= maxPending {
		l.pending = l.pending[1:]
		l.metrics.droppedSettlements.Inc()
	}
	l.pending = append(l.pending, s)
	l.npending.Store(int64(len(l.pending)))
	l.metrics.pending.Set(float64(len(l.pending)))
}

// flush applies the pending settlements in order until none is left, the
// store fails again (the rest wait for the next success) or the limiter
// closes. Close waits for it.
func (l *Limiter) flush() {
	defer l.wg.Done()
	for {
		l.pmu.Lock()
		if len(l.pending) == 0 || l.closed {
			l.flushing = false
			l.pmu.Unlock()
			return
		}
		s := l.pending[0]
		l.pmu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
		var err error
		if s.release {
			err = l.store.Release(ctx, s.claim, s.windows)
		} else {
			err = l.store.Commit(ctx, s.claim, s.windows, s.actual)
		}
		cancel()

		l.pmu.Lock()
		if err != nil {
			l.flushing = false
			l.pmu.Unlock()
			l.health.fail("retry", err)
			return
		}
		l.pending = l.pending[1:]
		l.npending.Store(int64(len(l.pending)))
		l.metrics.pending.Set(float64(len(l.pending)))
		l.pmu.Unlock()
	}
}

// Request is what [Limiter.Admit] needs to know about a request. The gateway
// fills it after routing chose a deployment, so that the caller's limits and
// the deployment's capacity are checked and reserved in one store round trip.
type Request struct {
	// Principal is the caller's id. If empty, no caller limits apply.
	Principal string
	// Limits are the principal's limits (its topology `limits`).
	Limits Limits
	// Model is the logical model id, for Limits.PerModel.
	Model string
	// Profile is the inference profile id, for Limits.PerProfile.
	Profile string
	// Deployment is the chosen deployment's key (topology's
	// Deployment.Key(), "region/model"). If empty, no capacity applies.
	Deployment string
	// Capacity is the deployment's capacity.
	Capacity Capacity
	// InputTokens is the estimated prompt size
	// (inference.Request.EstimatedInputTokens).
	InputTokens int
	// MaxTokens is the request's max_tokens; if zero, the configured
	// default_max_tokens is reserved.
	MaxTokens int
}

// tokens returns the tokens reserved for r: its input plus its max_tokens
// (or def when it sets none).
func (r Request) tokens(def int64) int64 {
	out := int64(r.MaxTokens)
	if out <= 0 {
		out = def
	}
	return int64(max(r.InputTokens, 0)) + out
}

// rules returns the rules that apply to r, caller limits first.
func (r Request) rules() []Rule {
	var rules []Rule
	add := func(scope Scope, name, key string, l ScopedLimits) {
		for _, x := range []struct {
			kind  Kind
			limit int
		}{
			{RequestsPerMinute, l.RPM}, {TokensPerMinute, l.TPM}, {Concurrency, l.MaxConcurrency},
			{TokensPerDay, l.TokensPerDay}, {TokensPerMonth, l.TokensPerMonth},
		} {
			if x.limit > 0 {
				rules = append(rules, Rule{Key: key, Kind: x.kind, Limit: int64(x.limit), Scope: scope, Name: name})
			}
		}
	}
	if r.Principal != "" {
		p := "p/" + r.Principal
		add(ScopePrincipal, r.Principal, p, r.Limits.scoped())
		if l, ok := r.Limits.PerModel[r.Model]; ok && r.Model != "" {
			add(ScopeModel, r.Principal+"/"+r.Model, p+"/m/"+r.Model, l)
		}
		if l, ok := r.Limits.PerProfile[r.Profile]; ok && r.Profile != "" {
			add(ScopeProfile, r.Principal+"/"+r.Profile, p+"/f/"+r.Profile, l)
		}
	}
	if r.Deployment != "" {
		c := r.Capacity
		add(ScopeDeployment, r.Deployment, "d/"+r.Deployment, ScopedLimits{RPM: c.RPM, TPM: c.TPM, MaxConcurrency: c.MaxConcurrency})
	}
	return rules
}

// Admit checks every limit that applies to req and, if all allow it,
// reserves one request, its tokens and a concurrency slot in each, in one
// atomic store operation. The caller must settle the returned reservation
// exactly once: Commit when the response ends, Release if it failed or was
// cancelled before the backend did any work.
//
// A rejection is a [*LimitError] (errors.Is [ErrLimited]). When the store
// cannot be reached, Admit returns an error matching [ErrStoreUnavailable]
// under fail_closed, and an unenforced reservation under fail_open. When
// ctx is done, it returns ctx's error.
func (l *Limiter) Admit(ctx context.Context, req Request) (*Reservation, error) {
	start := time.Now()
	defer func() { l.metrics.duration.Observe(time.Since(start).Seconds()) }()

	c := Claim{Rules: req.rules(), Tokens: req.tokens(l.cfg.defaultMaxTokens()), Lease: l.cfg.leaseTTL()}
	if len(c.Rules) == 0 {
		l.metrics.admissions.WithLabelValues(resultAdmitted).Inc()
		return &Reservation{l: l, claim: c, enforced: true}, nil
	}
	c.ID = l.idPrefix + strconv.FormatUint(l.idSeq.Add(1), 36)

	if !l.health.allow() {
		return l.storeFailed(c, errors.New("store marked down; waiting for the next probe"))
	}
	out, err := l.store.Reserve(ctx, c)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("admit: %w", ctx.Err())
		}
		l.health.fail("reserve", err)
		return l.storeFailed(c, err)
	}
	l.storeOK()
	status := statusOf(c.Rules, out.Rules, c.Tokens, out.Admitted)
	if !out.Admitted {
		e := l.rejection(c, out, status)
		l.metrics.admissions.WithLabelValues(resultRejected).Inc()
		l.metrics.rejections.WithLabelValues(e.Scope.String(), e.Kind.String()).Inc()
		return nil, e
	}
	l.metrics.admissions.WithLabelValues(resultAdmitted).Inc()
	return &Reservation{l: l, claim: c, windows: out.Windows, status: status, enforced: true, stored: true}, nil
}

func (l *Limiter) storeFailed(c Claim, cause error) (*Reservation, error) {
	if l.cfg.failOpen() {
		l.metrics.admissions.WithLabelValues(resultFailedOpen).Inc()
		return &Reservation{l: l, claim: c}, nil
	}
	l.metrics.admissions.WithLabelValues(resultFailedClosed).Inc()
	return nil, fmt.Errorf("%w: %w", ErrStoreUnavailable, cause)
}

// rejection builds the error of a refused claim: the decisive rule is one
// the request can never fit, else the one that frees last.
func (l *Limiter) rejection(c Claim, out Outcome, status Status) *LimitError {
	best := -1
	for i, st := range out.Rules {
		if !st.Rejected {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		b := out.Rules[best]
		if st.TooLarge && !b.TooLarge || st.TooLarge == b.TooLarge && st.RetryAfter > b.RetryAfter {
			best = i
		}
	}
	r, st := c.Rules[best], out.Rules[best]
	need := int64(1)
	if r.Kind.tokens() {
		need = c.Tokens
	}
	retry := max(st.RetryAfter, time.Millisecond)
	reset := st.Reset
	if reset < retry {
		reset = retry
	}
	return &LimitError{
		Scope: r.Scope, Name: r.Name, Kind: r.Kind,
		Limit: r.Limit, Remaining: max(r.Limit-st.Used, 0), Requested: need,
		ResetAt: l.clock.Now().Add(reset), RetryAfter: retry, TooLarge: st.TooLarge,
		Status: status,
	}
}

// statusOf picks the caller's tightest rpm and tpm rules for the headers.
func statusOf(rules []Rule, states []RuleState, tokens int64, admitted bool) Status {
	var s Status
	for i, r := range rules {
		if !r.Scope.Caller() {
			continue
		}
		var m *Meter
		switch r.Kind {
		case RequestsPerMinute:
			m = &s.Requests
		case TokensPerMinute:
			m = &s.Tokens
		default:
			continue
		}
		rem := max(r.Limit-states[i].Used, 0)
		if m.Limit == 0 || rem < m.Remaining {
			*m = Meter{Limit: r.Limit, Remaining: rem, Reset: states[i].Reset}
		}
	}
	return s
}

// Reservation is what an admitted request holds. Settle it exactly once
// with Commit or Release; later calls do nothing and return nil, so
// `defer res.Release(ctx)` after an explicit Commit is safe. It is safe for
// concurrent use.
type Reservation struct {
	l        *Limiter
	claim    Claim
	windows  []int64
	status   Status
	enforced bool // limits were checked
	stored   bool // something is held in the store

	once sync.Once
}

// Status returns the caller's rate-limit header values at admission.
func (r *Reservation) Status() Status { return r.status }

// Tokens returns the tokens reserved (estimated input plus max_tokens).
func (r *Reservation) Tokens() int64 { return r.claim.Tokens }

// Enforced reports whether limits were checked; false when the request was
// admitted under fail_open while the store was unavailable.
func (r *Reservation) Enforced() bool { return r.enforced }

// Commit settles the reservation with the usage the backend reported
// (for a stream, the final usage; for a stream cut short, what was counted
// so far): the actual tokens replace the reserved estimate in every token
// limit, and the concurrency slots are freed. It runs even if ctx is
// cancelled (bounded by its own 5s time-out) and keeps ctx's values.
func (r *Reservation) Commit(ctx context.Context, u inference.Usage) error {
	return r.settle(ctx, "commit", int64(max(u.Total(), 0)), false)
}

// Release undoes the reservation: the request slot, its tokens and its
// concurrency slots are returned, as if the request had never been
// admitted. Use it when the request failed or was cancelled before the
// backend did any work (including a failover to another deployment, which
// admits again); once the backend has produced tokens, use Commit. Like
// Commit, it runs even if ctx is cancelled.
func (r *Reservation) Release(ctx context.Context) error {
	return r.settle(ctx, "release", 0, true)
}

func (r *Reservation) settle(ctx context.Context, op string, actual int64, release bool) error {
	var err error
	r.once.Do(func() {
		if !r.stored {
			return
		}
		l := r.l
		s := settlement{claim: r.claim, windows: r.windows, actual: actual, release: release}
		if !l.health.allow() {
			l.deferSettlement(s)
			err = fmt.Errorf("%s quota (retried when the store is back): %w", op, ErrStoreUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
		defer cancel()
		if release {
			err = l.store.Release(ctx, r.claim, r.windows)
		} else {
			err = l.store.Commit(ctx, r.claim, r.windows, actual)
		}
		if err != nil {
			l.health.fail(op, err)
			l.deferSettlement(s)
			err = fmt.Errorf("%w (retried when the store is back): %w", ErrStoreUnavailable, err)
			return
		}
		l.storeOK()
	})
	return err
}

// SetCooldown marks key (a deployment key) as cooling down for d, for every
// replica sharing the store. A longer cooldown in place is kept.
func (l *Limiter) SetCooldown(ctx context.Context, key string, d time.Duration) error {
	return l.do(ctx, "cooldown", func(ctx context.Context) error { return l.store.SetCooldown(ctx, key, d) })
}

// Cooldowns returns the remaining cooldown of each of keys that is cooling
// down, in one store round trip. Routing can call it per decision or poll
// it; keys not cooling down are absent.
func (l *Limiter) Cooldowns(ctx context.Context, keys []string) (map[string]time.Duration, error) {
	var out map[string]time.Duration
	err := l.do(ctx, "cooldown", func(ctx context.Context) (err error) {
		out, err = l.store.Cooldowns(ctx, keys)
		return err
	})
	return out, err
}

// SetState stores a small shared value (e.g. a circuit state) under key for
// ttl, for every replica sharing the store; an empty value deletes it.
func (l *Limiter) SetState(ctx context.Context, key, value string, ttl time.Duration) error {
	return l.do(ctx, "state", func(ctx context.Context) error { return l.store.SetState(ctx, key, value, ttl) })
}

// States returns the values of those of keys that are set, in one round
// trip.
func (l *Limiter) States(ctx context.Context, keys []string) (map[string]string, error) {
	var out map[string]string
	err := l.do(ctx, "state", func(ctx context.Context) (err error) {
		out, err = l.store.States(ctx, keys)
		return err
	})
	return out, err
}

// do runs a shared-state operation with health tracking. Errors match
// [ErrStoreUnavailable]; the caller (routing) falls back to what it knows
// locally.
func (l *Limiter) do(ctx context.Context, op string, f func(context.Context) error) error {
	if !l.health.allow() {
		return fmt.Errorf("%s: %w", op, ErrStoreUnavailable)
	}
	if err := f(ctx); err != nil {
		if ctx.Err() != nil {
			return err
		}
		l.health.fail(op, err)
		return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	l.storeOK()
	return nil
}
