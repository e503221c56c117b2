package quota

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// settleTimeout bounds Commit and Release, which run detached from the
// request's context (a cancelled request must still give back what it held).
const settleTimeout = 5 * time.Second

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
	req      requestRef
	burndown int // the model's output-token burndown rate

	once sync.Once

	// ruleBuf holds claim.Rules when a request has at most its length of
	// rules (Admit): the rules and the reservation are one allocation.
	ruleBuf [8]Rule
}

// Status returns the caller's rate-limit header values at admission.
func (r *Reservation) Status() Status { return r.status }

// Tokens returns the tokens reserved (estimated input plus max_tokens,
// at most [MaxRequestTokens]).
func (r *Reservation) Tokens() int64 { return r.claim.Tokens }

// Enforced reports whether limits were checked; false when the request was
// admitted under fail_open while the store was unavailable.
func (r *Reservation) Enforced() bool { return r.enforced }

// Commit settles the reservation with the usage the backend reported
// (for a stream, the final usage; for a stream cut short, what was counted
// so far): the actual tokens replace the reserved estimate in every token
// limit, and the concurrency slots are freed. The tokens counted are, as
// Bedrock counts them, input + cache writes + output × the model's
// burndown rate; cache reads do not count. It runs even if ctx is
// cancelled (bounded by its own 5s time-out) and keeps ctx's values.
func (r *Reservation) Commit(ctx context.Context, u inference.Usage) error {
	return r.settle(ctx, "commit", usageTokens(u, r.burndown), false)
}

// Release undoes the reservation: the request slot, its tokens and its
// concurrency slots are returned, as if the request had never been
// admitted. Use it when the request failed or was cancelled before the
// backend did any work (including a failover to another deployment, which
// admits again); once the backend has produced tokens, use Commit. Like
// Commit, it runs even if ctx is cancelled.
//
// Commit and Release return an error matching [ErrStoreUnavailable] when
// the store could not be reached: the settlement is kept and retried once
// it answers. An error matching [ErrStoreRefused] means the store refused
// it (it would fail again): it has been logged, with the request, and
// dropped; its concurrency slots are freed when their lease ends.
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
		s := settlement{op: op, claim: r.claim, windows: r.windows, actual: actual, release: release, req: r.req}
		if !l.health.allow() {
			l.deferSettlement(s)
			err = fmt.Errorf("%s quota (retried when the store is back): %w", op, ErrStoreUnavailable)
			return
		}
		sctx, cancel := settleContext(ctx, l.store)
		defer cancel()
		ticket := l.health.begin()
		err = s.apply(sctx, l.store)
		switch {
		case err == nil:
			l.storeOK(ticket)
		case errors.Is(err, ErrStoreRefused):
			// The store answered; this settlement will never apply.
			l.storeOK(ticket)
			l.dropSettlement(s, dropRefused, err)
			err = fmt.Errorf("%s quota (dropped): %w", op, err)
		default:
			l.health.fail(op, err, ticket)
			s.attempts++
			l.deferSettlement(s)
			err = fmt.Errorf("%w (retried when the store is back): %w", ErrStoreUnavailable, err)
		}
	})
	return err
}

// settleContext is the context a settlement runs in: ctx's values without
// its cancellation (a settlement runs even if the request was cancelled),
// bounded by settleTimeout. A store that neither waits nor reads the
// context (inProcess) is given none: a deadline would cost four
// allocations per request and bound nothing.
func settleContext(ctx context.Context, store Store) (context.Context, context.CancelFunc) {
	if s, ok := store.(inProcess); ok && s.inProcess() {
		return context.Background(), func() {}
	}
	return context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
}

// inProcess is implemented by a store that keeps its counters in this
// process: its calls never wait and never read their context.
type inProcess interface {
	inProcess() bool
}

// maxPending bounds the settlements kept for retry (Limiter.maxPending,
// which tests lower). When one more must wait, one is dropped to make room
// (see deferSettlement for which).
const maxPending = 10000

// maxSettleAttempts bounds how often one settlement is tried against a
// store that fails with a transient error (a connection that drops); then
// it is dropped, so that a settlement the store cannot take never keeps it
// marked down. Attempts are only made while the store is believed up, so
// an outage, however long, costs one attempt.
const maxSettleAttempts = 5

// settlement is a Commit or Release to apply to the store.
type settlement struct {
	op       string // "commit" or "release", for logs
	claim    Claim
	windows  []int64
	actual   int64
	release  bool
	req      requestRef
	attempts int // failed transiently so far
}

// requestRef names the request a reservation was made for, for the log
// line of a settlement given up.
type requestRef struct {
	id, principal, model, profile, deployment string
}

// apply runs s against store.
func (s settlement) apply(ctx context.Context, store Store) error {
	if s.release {
		return store.Release(ctx, s.claim, s.windows)
	}
	return store.Commit(ctx, s.claim, s.windows, s.actual)
}

// dropSettlement gives s up, logging it once with its request: its tokens
// stay as reserved until their window or period passes, its concurrency
// slots are held until their lease ends. attrs are added to the log line.
func (l *Limiter) dropSettlement(s settlement, reason string, err error, attrs ...any) {
	l.metrics.droppedSettlements.WithLabelValues(reason).Inc()
	l.logDropped(s, reason, err, attrs...)
}

func (l *Limiter) logDropped(s settlement, reason string, err error, attrs ...any) {
	args := []any{"op", s.op, "reason", reason, "reservation", s.claim.ID,
		telemetry.AttrRequestID, s.req.id, telemetry.AttrPrincipal, s.req.principal, "model", s.req.model, telemetry.AttrProfile, s.req.profile, "deployment", s.req.deployment,
		"reserved_tokens", s.claim.Tokens, "actual_tokens", s.actual, telemetry.AttrAttempts, s.attempts}
	if err != nil {
		args = append(args, telemetry.AttrError, err)
	}
	l.log.Error("quota settlement dropped", append(args, attrs...)...)
}

// storeOK records a successful store operation (of ticket) and, if
// settlements (or the release of a previous run's leases) wait for the
// store, starts them.
func (l *Limiter) storeOK(ticket uint64) {
	l.health.ok(ticket)
	if l.npending.Load() == 0 && !l.reclaimWaiting.Load() {
		return
	}
	l.pmu.Lock()
	defer l.pmu.Unlock()
	if l.flushing || l.closed || (len(l.pending) == 0 && !l.reclaim) {
		return
	}
	l.flushing = true
	l.wg.Add(1)
	go l.flush()
}

// deferSettlement keeps s for a retry once the store answers again.
//
// When maxPending settlements already wait, one is dropped to make room,
// and it is never the one flush is applying (that one's
// own outcome decides whether it is kept, applied or dropped; dropping it
// from under flush lost the entry after it instead, unlogged, uncounted).
// Of the others the oldest goes: its per-minute windows and its
// concurrency lease are the nearest to their end, so settling it would
// change the least. A commit that counts more tokens than were reserved
// is passed over while another can go (the new one included, which
// otherwise always stays), since dropping it is the one drop
// that would count less than was used; every other drop only leaves
// tokens counted as reserved and slots held until their lease ends
// (stricter, never looser). A drop for overflow is counted each time and
// logged with its request at most once per logInterval, the next line
// saying how many were left out (repeated): a long outage overflows once
// per request.
func (l *Limiter) deferSettlement(s settlement) {
	l.pmu.Lock()
	if l.drained {
		// Settled after Close's last pass: nothing would retry it.
		l.pmu.Unlock()
		l.dropSettlement(s, dropClosed, nil)
		return
	}
	var victim settlement
	dropped, dropNew := len(l.pending) >= l.maxPending, false
	if dropped {
		victim, dropNew, dropped = l.makeRoom(s)
	}
	switch {
	case dropNew:
		// The new one was the only one that could go without
		// loosening a limit.
	case !dropped && len(l.pending) >= l.maxPending:
		// Only the one in flight waits (maxPending 1): the new one goes.
		victim, dropped = s, true
	default:
		l.pending = append(l.pending, s)
	}
	l.npending.Store(int64(len(l.pending)))
	l.metrics.pending.Set(float64(len(l.pending)))
	logIt, repeated := false, 0
	if dropped {
		now := l.clock.Now()
		if l.overflowLogged.IsZero() || now.Sub(l.overflowLogged) >= logInterval {
			logIt, repeated = true, l.overflowSkipped
			l.overflowLogged, l.overflowSkipped = now, 0
		} else {
			l.overflowSkipped++
		}
	}
	l.pmu.Unlock()
	if !dropped {
		return
	}
	l.metrics.droppedSettlements.WithLabelValues(dropOverflow).Inc()
	if logIt {
		attrs := []any{"max_pending", l.maxPending}
		if repeated > 0 {
			attrs = append(attrs, "repeated", repeated)
		}
		l.logDropped(victim, dropOverflow, nil, attrs...)
	}
}

// makeRoom removes one settlement from l.pending, as deferSettlement says,
// and returns it; false when only the one flush is applying waits. When
// every one that could go is a commit that adds tokens and next (the new
// one) is not, it returns next, isNext true, and removes nothing. l.pmu
// is held.
func (l *Limiter) makeRoom(next settlement) (victim settlement, isNext, ok bool) {
	first := 0
	if l.applying {
		first = 1 // l.pending[0] is in flight
	}
	if first >= len(l.pending) {
		return settlement{}, false, false
	}
	strict := func(s settlement) bool { return !s.loosens() }
	i := -1
	for j := first; j < len(l.pending); j++ {
		if strict(l.pending[j]) {
			i = j
			break
		}
	}
	if i < 0 {
		if strict(next) {
			return next, true, true
		}
		i = first
	}
	victim = l.pending[i]
	// Move the ones before it up by one, order kept, and cut the front:
	// O(i), and i is first unless commits that add tokens lead the queue.
	copy(l.pending[1:i+1], l.pending[:i])
	l.pending[0] = settlement{}
	l.pending = l.pending[1:]
	return victim, false, true
}

// flush releases the leases of this replica's previous run if that is
// still to do, then applies the pending settlements in order until none is
// left, the store fails again (the rest wait for the next success) or the
// limiter closes. A settlement the store refuses, or one that failed
// maxSettleAttempts times, is logged and dropped. Close waits for it.
func (l *Limiter) flush() {
	defer l.wg.Done()
	if !l.releasePrevious() {
		return
	}
	l.applyPending(l.life, true)
}

// applyPending is flush's loop over the pending settlements; whileOpen
// stops it when the limiter closes (Close's own last pass does not), and
// ctx's end stops it too. It resets flushing when it returns.
func (l *Limiter) applyPending(pctx context.Context, whileOpen bool) {
	for {
		l.pmu.Lock()
		if len(l.pending) == 0 || whileOpen && l.closed || pctx.Err() != nil {
			l.flushing = false
			l.pmu.Unlock()
			return
		}
		s := l.pending[0]
		l.applying = true
		l.pmu.Unlock()

		ctx, cancel := context.WithTimeout(pctx, settleTimeout)
		ticket := l.health.begin()
		err := s.apply(ctx, l.store)
		cancel()
		if err != nil && pctx.Err() != nil {
			// Cut by a shutdown (or Close's pass) that ran out of time,
			// not failed by the store: the settlement stays first, its
			// attempts unchanged, for settleAtClose to count as dropped.
			l.pmu.Lock()
			l.applying, l.flushing = false, false
			l.pmu.Unlock()
			return
		}

		refused := errors.Is(err, ErrStoreRefused)
		if err != nil && !refused {
			s.attempts++
		}
		l.pmu.Lock()
		l.applying = false
		if err != nil && !refused && s.attempts < maxSettleAttempts {
			l.pending[0].attempts = s.attempts
			l.flushing = false
			l.pmu.Unlock()
			l.health.fail("retry", err, ticket)
			return
		}
		l.pending[0] = settlement{}
		l.pending = l.pending[1:]
		l.npending.Store(int64(len(l.pending)))
		l.metrics.pending.Set(float64(len(l.pending)))
		if err != nil && !refused {
			l.flushing = false // the rest wait for the next success
		}
		l.pmu.Unlock()
		switch {
		case refused:
			l.dropSettlement(s, dropRefused, err)
		case err != nil:
			l.dropSettlement(s, dropAttempts, err)
			l.health.fail("retry", err, ticket)
			return
		}
	}
}

// settleAtClose gives the settlements that still wait one last pass when
// the store is up (or a probe is due: a down store is tried once more),
// stopping at its first failure, after settleTimeout in all (a slow store
// must not hold a shutdown) or when sctx ends, then drops what is left:
// counted (reason closed) and logged in one line. Shutdown calls it once
// no flush runs; before, what waited was discarded without a trace, also
// when a flush was half-way through a queue the store was answering.
func (l *Limiter) settleAtClose(sctx context.Context) {
	l.pmu.Lock()
	// The commits of more tokens than were reserved go first: dropping
	// one would count less than its request used, the one loss that
	// loosens a limit; every other drop counts more, never less. Each
	// reservation has one settlement, so their order is free.
	slices.SortStableFunc(l.pending, func(a, b settlement) int { return cmpBool(b.loosens(), a.loosens()) })
	l.pmu.Unlock()
	if l.npending.Load() > 0 && sctx.Err() == nil && l.health.allow() {
		ctx, cancel := context.WithTimeout(sctx, settleTimeout)
		l.applyPending(ctx, false)
		cancel()
	}
	l.pmu.Lock()
	l.drained = true
	left := l.pending
	l.pending = nil
	l.npending.Store(0)
	l.metrics.pending.Set(0)
	l.pmu.Unlock()
	if len(left) == 0 {
		return
	}
	l.metrics.droppedSettlements.WithLabelValues(dropClosed).Add(float64(len(left)))
	var commits, loosening int
	var under int64
	for _, s := range left {
		if !s.release {
			commits++
		}
		if s.loosens() {
			loosening++
			under += s.actual - s.claim.Tokens
		}
	}
	l.log.Error("quota settlements dropped at close: the store did not take them", "settlements", len(left), "commits", commits, "releases", len(left)-commits,
		"commits_above_reservation", loosening, "tokens_not_counted", under,
		"oldest_reservation", left[0].claim.ID, "oldest_request_id", left[0].req.id)
}

// loosens reports whether dropping s would count less than its request
// used: a commit of more tokens than were reserved (the reservation's
// count stays).
func (s settlement) loosens() bool { return !s.release && s.actual > s.claim.Tokens }

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// releasePrevious frees the concurrency leases that this replica's
// previous run held when it died, if that is still to do, and reports
// whether flush may go on (false: the store failed; flushing has been
// reset and the next success starts again).
func (l *Limiter) releasePrevious() bool {
	l.pmu.Lock()
	todo := l.reclaim && !l.closed
	l.pmu.Unlock()
	if !todo {
		return true
	}
	ctx, cancel := context.WithTimeout(l.life, settleTimeout)
	ticket := l.health.begin()
	n, err := l.store.ReleaseLeases(ctx, l.replica, l.idPrefix)
	cancel()
	if err != nil && l.life.Err() != nil {
		// Cut by a shutdown that ran out of time: the leases expire after
		// lease_ttl, or the next run releases them.
		l.pmu.Lock()
		l.flushing = false
		l.pmu.Unlock()
		return false
	}
	if err != nil && !errors.Is(err, ErrStoreRefused) {
		l.pmu.Lock()
		l.flushing = false
		l.reclaimWaiting.Store(true)
		l.pmu.Unlock()
		l.health.fail("release_leases", err, ticket)
		return false
	}
	l.pmu.Lock()
	l.reclaim = false
	l.reclaimWaiting.Store(false)
	l.pmu.Unlock()
	switch {
	case err != nil:
		l.log.Error("could not release the concurrency slots of this replica's previous run; they are freed after lease_ttl", "replica", l.replica, telemetry.AttrError, err)
	case n > 0:
		l.health.ok(ticket)
		l.log.Info("released the concurrency slots held by this replica's previous run", "replica", l.replica, "slots", n)
	default:
		l.health.ok(ticket)
	}
	return true
}
