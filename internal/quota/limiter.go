package quota

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/meridian-gateway/meridian/internal/clock"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gateway/meridian/internal/telemetry"
)

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
	// DataDir is this replica's own data directory (the node's
	// server.data_dir or --data-dir). If set, the limiter keeps a stable
	// replica id there (file quota-replica-id, created on the first start),
	// locks it while open, and on start releases the concurrency leases
	// that this replica's previous run left in the store when it died, so
	// they do not count until lease_ttl. If empty, or if the id cannot be
	// read or locked (logged), reservations carry no replica id and such
	// leases expire after lease_ttl. [Open] ignores it for the memory
	// store, whose leases die with the process.
	DataDir string
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

	log *slog.Logger
	// unlog stops go-redis's lines reaching log (redislog.go); nil for
	// other stores.
	unlog func()

	// replica is this replica's stable id (Options.DataDir), or empty;
	// idPrefix starts every reservation id: replica + "/" + a random
	// incarnation + "-", or the incarnation alone.
	replica  string
	idLock   *os.File
	idPrefix string
	idSeq    atomic.Uint64
	// keys are the principals' and deployments' counter keys.
	keys counterKeys

	// Settlements that failed while the store was unavailable, retried in
	// the background once it answers again (see flush), and the release of
	// a previous incarnation's leases while it has not succeeded.
	pmu      sync.Mutex
	reclaim  bool
	pending  []settlement
	flushing bool
	// applying is set while flush applies pending[0] outside pmu: it
	// stays at the front until flush has its outcome.
	applying bool
	closed   bool
	// drained is set once Close has taken what waited: a settlement
	// deferred after it is dropped at once.
	drained bool
	// maxPending bounds pending (the constant maxPending; tests lower
	// it). overflowLogged is when a drop for overflow was last logged,
	// overflowSkipped how many have not been since.
	maxPending      int
	overflowLogged  time.Time
	overflowSkipped int
	npending        atomic.Int64
	// reclaimWaiting is set while releasing the previous run's leases
	// waits for the store to answer.
	reclaimWaiting atomic.Bool
	wg             sync.WaitGroup
	// life is the background flush's context: Shutdown cancels it (stop)
	// when its own context ends, so that a flush waiting on a slow store
	// does not hold the shutdown past it.
	life context.Context
	stop context.CancelFunc
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
		// A memory store dies with the process, and its leases with it:
		// there is nothing a restarted replica could release, so no
		// identity to keep (nor to lock against another process).
		o.DataDir = ""
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
	log = log.With(telemetry.AttrComponent, "quota")
	clk := o.Clock
	if clk == nil {
		clk = clock.Wall
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
	l := &Limiter{
		cfg:      cfg,
		store:    store,
		clock:    clk,
		health:   newHealth(clk, log, m, mode),
		metrics:  m,
		log:      log,
		idPrefix: hex.EncodeToString(b[:]) + "-",

		maxPending: maxPending,
	}
	l.life, l.stop = context.WithCancel(context.Background())
	if r, ok := store.(*Redis); ok {
		t := &redisLogTarget{log: log, clock: clk}
		r.logTo.Store(t)
		unregister := redisLogs.register(t)
		l.unlog = func() {
			r.logTo.CompareAndSwap(t, nil)
			unregister()
		}
	}
	if o.DataDir != "" {
		id, lock, err := replicaIdentity(o.DataDir)
		if err != nil {
			log.Warn("quota reservations carry no replica id; concurrency slots held by a crashed run are freed only after lease_ttl",
				telemetry.AttrError, err, "lease_ttl", cfg.leaseTTL())
		} else {
			l.replica, l.idLock = id, lock
			l.idPrefix = id + "/" + l.idPrefix
			// Free what the previous run held, in the background (the
			// store may be down; then at its first success).
			l.reclaim = true
			l.flushing = true
			l.wg.Add(1)
			go l.flush()
		}
	}
	return l, nil
}

// Replica returns this replica's stable id (see [Options.DataDir]), or ""
// when it has none.
func (l *Limiter) Replica() string { return l.replica }

// Close is Shutdown without a deadline of its own: the store's time-outs
// bound it (a retry in progress, then 5s at most for the last pass).
func (l *Limiter) Close() error { return l.Shutdown(context.Background()) }

// Shutdown stops retrying pending settlements in the background, waits for
// a retry in progress, gives what still waits one last pass while the
// store answers (5s at most in all; the first failure ends it) and drops
// the rest, counted and logged (reason closed), and closes the store if
// the limiter created it ([Open]). It returns by the end of ctx (the
// node's drain) whatever the store does: then the retry in progress and
// the last pass are cut, and what they had not settled is dropped as
// well. The last pass settles first the commits of more tokens than were
// reserved, the only drops that count a caller for less than it used;
// such a commit can still be dropped when ctx ends or the store fails, and
// is then logged (commits_above_reservation, tokens_not_counted). A
// command cut after it was sent may have been applied all the same: the
// store's counts are then right and the drop's log and metric overstate
// the loss (docs/quotas.md, "At shutdown").
func (l *Limiter) Shutdown(ctx context.Context) error {
	l.pmu.Lock()
	l.closed = true
	l.pmu.Unlock()
	// A flush stops after the settlement it is applying, or at once when
	// ctx ends (its store call is cancelled).
	unhook := context.AfterFunc(ctx, l.stop)
	defer unhook()
	l.wg.Wait()
	l.settleAtClose(ctx)
	l.stop()
	if l.unlog != nil {
		l.unlog()
	}
	if l.idLock != nil {
		l.idLock.Close() // releases the lock
	}
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
	ticket := l.health.begin()
	if err := l.store.Ping(ctx); err != nil {
		if ctx.Err() == nil {
			l.health.fail("ping", err, ticket)
		}
		return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	l.storeOK(ticket)
	return nil
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
	// default_max_tokens is reserved. Negative is refused
	// ([*RequestError]).
	MaxTokens int
	// RequestID, if set, names the request in the limiter's logs (a
	// settlement given up); it is not stored.
	RequestID string
	// Pool is the quota pool the request draws from (see [PoolOf]) and
	// SourceRegion the region it entered in: the pool limits of
	// Limits.PerModel[Model] and of Capacity apply, counted per source
	// region. With PoolNone or no SourceRegion, no pool limits apply.
	Pool         Pool
	SourceRegion string
	// OutputBurndown is the model's output-token burndown rate: each
	// output token counts this many times against every token limit, in
	// the reservation's max_tokens part and at settlement. If zero, 1.
	OutputBurndown int
	// Flex marks a flex-tier request: the deployment's capacity limits
	// admit it only up to Capacity.FlexShare of each limit.
	Flex bool
}

// ref names r in the limiter's logs.
func (r Request) ref() requestRef {
	return requestRef{id: r.RequestID, principal: r.Principal, model: r.Model, profile: r.Profile, deployment: r.Deployment}
}

// tokens returns the tokens reserved for r: its input plus its max_tokens
// (or def when it sets none), saturating at [MaxRequestTokens] (a request
// that large fits no token limit and is refused as TooLarge). A negative
// count is a [*RequestError].
func (r Request) tokens(def int64) (int64, error) {
	if r.MaxTokens < 0 {
		return 0, &RequestError{Field: "max_tokens", Value: int64(r.MaxTokens)}
	}
	if r.InputTokens < 0 {
		return 0, &RequestError{Field: "input_tokens", Value: int64(r.InputTokens)}
	}
	out := clampTokens(r.MaxTokens)
	if out == 0 {
		out = clampTokens(def)
	}
	return addTokens(clampTokens(r.InputTokens), burnTokens(out, r.OutputBurndown)), nil
}

// rules returns the rules that apply to r, caller limits first. With
// bedrockDaily, a caller limit with a tpm and no tokens_per_day gets
// tpm × 1440 as its daily budget. keys, if not nil, keeps the principal's
// and the deployment's counter keys formatted.
func (r Request) rules(bedrockDaily bool, keys *counterKeys) []Rule {
	return r.appendRules(nil, bedrockDaily, keys)
}

// appendRules is rules, appending to rules (allocated when it has no room
// and a rule applies).
func (r Request) appendRules(rules []Rule, bedrockDaily bool, keys *counterKeys) []Rule {
	add := func(scope Scope, name, key string, l ScopedLimits) {
		if bedrockDaily && scope.Caller() {
			l = l.withDailyDefault()
		}
		if cap(rules) == 0 {
			rules = make([]Rule, 0, 8) // room for the usual rules: one allocation
		}
		for _, x := range []struct {
			kind  Kind
			limit int
		}{
			{RequestsPerMinute, l.RPM}, {TokensPerMinute, l.TPM}, {Concurrency, l.MaxConcurrency},
			{TokensPerDay, l.TokensPerDay}, {TokensPerMonth, l.TokensPerMonth},
		} {
			if x.limit > 0 {
				// A limit beyond maxCount is unlimited in practice; the
				// stores count no further.
				rules = append(rules, Rule{Key: key, Kind: x.kind, Limit: min(int64(x.limit), maxCount), Scope: scope, Name: name})
			}
		}
	}
	if r.Principal != "" {
		p := keys.get("p/", r.Principal)
		add(ScopePrincipal, r.Principal, p, r.Limits.scoped())
		if l, ok := r.Limits.PerModel[r.Model]; ok && r.Model != "" {
			add(ScopeModel, r.Principal+"/"+r.Model, p+"/m/"+r.Model, l)
			if pl := l.Pools.Of(r.Pool); pl != nil && r.SourceRegion != "" {
				sfx := "/" + r.Pool.String() + "/" + r.SourceRegion
				add(ScopeModelPool, r.Principal+"/"+r.Model+sfx, p+"/m/"+r.Model+"/pool"+sfx, pl.scoped())
			}
		}
		if l, ok := r.Limits.PerProfile[r.Profile]; ok && r.Profile != "" {
			add(ScopeProfile, r.Principal+"/"+r.Profile, p+"/f/"+r.Profile, l)
		}
	}
	if r.Deployment != "" {
		c := r.Capacity
		n := len(rules)
		add(ScopeDeployment, r.Deployment, keys.get("d/", r.Deployment), ScopedLimits{RPM: c.RPM, TPM: c.TPM, MaxConcurrency: c.MaxConcurrency})
		if pl := c.Pools.Of(r.Pool); pl != nil && r.SourceRegion != "" {
			sfx := "/" + r.Pool.String() + "/" + r.SourceRegion
			add(ScopeDeployment, r.Deployment+sfx, "d/"+r.Deployment+"/pool"+sfx, pl.scoped())
		}
		if r.Flex {
			// Flex fills only spare capacity: the same counters, a
			// lower limit.
			for i := n; i < len(rules); i++ {
				rules[i].Limit = flexLimit(rules[i].Limit, c.FlexShare)
			}
		}
	}
	return rules
}

// counterKeys keeps the counter keys of principals and deployments
// ("p/"+principal, "d/"+deployment), formatted once each rather than on
// every request. Their names come from the configuration (principals and
// deployments, never a caller's input), so there are few; past
// maxCounterKeys (after reloads that renamed many), further ones are
// formatted each time and not kept.
type counterKeys struct {
	mu   sync.RWMutex
	keys map[counterKey]string
}

type counterKey struct{ prefix, name string }

const maxCounterKeys = 4096

// get returns prefix+name; a nil k formats it.
func (k *counterKeys) get(prefix, name string) string {
	if k == nil {
		return prefix + name
	}
	ck := counterKey{prefix, name}
	k.mu.RLock()
	key, ok := k.keys[ck]
	k.mu.RUnlock()
	if ok {
		return key
	}
	key = prefix + name
	k.mu.Lock()
	if k.keys == nil {
		k.keys = map[counterKey]string{}
	}
	if len(k.keys) < maxCounterKeys {
		k.keys[ck] = key
	}
	k.mu.Unlock()
	return key
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
	start := l.clock.Now()
	defer func() { l.metrics.duration.Observe(l.clock.Now().Sub(start).Seconds()) }()

	tokens, err := req.tokens(l.cfg.defaultMaxTokens())
	if err != nil {
		l.metrics.admissions.WithLabelValues(resultInvalid).Inc()
		return nil, err
	}
	// The reservation is made first and holds the claim's rules: one
	// allocation for both (a refused request leaves it to the collector).
	res := new(Reservation)
	c := Claim{Rules: req.appendRules(res.ruleBuf[:0], l.cfg.DailyDefault == DailyDefaultBedrock, &l.keys), Tokens: tokens, Lease: l.cfg.leaseTTL(), Owner: l.replica}
	if len(c.Rules) == 0 {
		l.metrics.admitted.Inc()
		*res = Reservation{l: l, claim: Claim{Tokens: c.Tokens, Lease: c.Lease, Owner: c.Owner}, enforced: true}
		return res, nil
	}
	var id [64]byte
	c.ID = string(strconv.AppendUint(append(id[:0], l.idPrefix...), l.idSeq.Add(1), 36))

	if !l.health.allow() {
		return l.storeFailed(c, errors.New("store marked down; waiting for the next probe"))
	}
	ticket := l.health.begin()
	out, err := l.store.Reserve(ctx, c)
	if err != nil {
		if !errors.Is(err, ErrStoreRefused) {
			l.releaseUnknown(c, req.ref())
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("admit: %w", ctx.Err())
		}
		if errors.Is(err, ErrStoreRefused) {
			// The store answered: it is up, and this request would fail
			// again. Refused under fail_open too: a request that breaks
			// the accounting must not pass unaccounted.
			l.storeOK(ticket)
			l.metrics.admissions.WithLabelValues(resultRefused).Inc()
			return nil, fmt.Errorf("admit: %w", err)
		}
		l.health.fail("reserve", err, ticket)
		return l.storeFailed(c, err)
	}
	l.storeOK(ticket)
	status := statusOf(c.Rules, out.Rules)
	if !out.Admitted {
		e := l.rejection(c, out, status)
		l.metrics.admissions.WithLabelValues(resultRejected).Inc()
		l.metrics.rejections.WithLabelValues(e.Scope.String(), e.Kind.String()).Inc()
		return nil, e
	}
	l.metrics.admitted.Inc()
	res.l, res.claim, res.windows, res.status, res.enforced, res.stored, res.burndown = l, c, out.Windows, status, true, true, req.OutputBurndown
	res.req = req.ref()
	return res, nil
}

// releaseUnknown queues, through the deferred settlements, the release of
// a claim whose Reserve failed with its outcome unknown: a reply that timed
// out, a connection reset after the command was sent, a context done in
// flight. The reservation may have been recorded; the request is refused
// (or admitted unenforced) either way, so whatever it holds is given back.
// The release of an id the store never recorded changes nothing, so it is
// queued whatever the error. A store in this process (inProcess) answers
// or does nothing: no release to queue.
func (l *Limiter) releaseUnknown(c Claim, ref requestRef) {
	if s, ok := l.store.(inProcess); ok && s.inProcess() {
		return
	}
	// The store settles a day/month rule by the id's own record, not by
	// the window, which the failed Reserve did not return.
	l.deferSettlement(settlement{op: "release", claim: c, windows: make([]int64, len(c.Rules)), release: true, req: ref})
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
func statusOf(rules []Rule, states []RuleState) Status {
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
