package quota

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
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
		if err = s.apply(ctx, l.store); err != nil {
			l.health.fail(op, err)
			l.deferSettlement(s)
			err = fmt.Errorf("%w (retried when the store is back): %w", ErrStoreUnavailable, err)
			return
		}
		l.storeOK()
	})
	return err
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

// apply runs s against store.
func (s settlement) apply(ctx context.Context, store Store) error {
	if s.release {
		return store.Release(ctx, s.claim, s.windows)
	}
	return store.Commit(ctx, s.claim, s.windows, s.actual)
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
		err := s.apply(ctx, l.store)
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
