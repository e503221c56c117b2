package routing

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Queue is the bounded admission queue for when every destination is
// saturated: at most Max requests wait, each at most its timeout, in FIFO
// order per key and lane (priority waiters, [WaitOptions.Priority], wait
// ahead of all others) (the gateway keys waiters by inference profile, whose
// destination sets differ). When capacity frees (an attempt ends), the
// caller calls [Queue.Notify] and the oldest waiter of each key re-plans:
// a slot freed for one profile is never consumed by a waiter of another
// that cannot use it. Queue never hangs: a full queue refuses at once and
// every wait ends by its deadline.
//
// Queue is the only blocking type of the package; it reads time and sets
// timers only through its [TimerClock]. It is safe for concurrent use.
type Queue struct {
	clock   TimerClock
	max     int
	mu      sync.Mutex
	waiters []waiter
	// changed, if not nil, is closed (and cleared) at the next change to
	// waiters ([Queue.AwaitLen]).
	changed chan struct{}
}

type waiter struct {
	ch       chan struct{}
	key      string
	priority bool
}

// NewQueue returns a queue holding at most max waiters (max <= 0: none).
func NewQueue(max int, clock TimerClock) *Queue {
	return &Queue{clock: clock, max: max}
}

// Len returns the number of waiting requests, for [Tracker.SetQueueDepth].
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiters)
}

// AwaitLen blocks until exactly n requests wait, or ctx ends: a test (or
// anything that must act once requests have queued) waits on the queue's
// changes rather than polling [Queue.Len].
func (q *Queue) AwaitLen(ctx context.Context, n int) error {
	for {
		q.mu.Lock()
		got := len(q.waiters)
		if got == n {
			q.mu.Unlock()
			return nil
		}
		if q.changed == nil {
			q.changed = make(chan struct{})
		}
		changed := q.changed
		q.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("routing: wait for %d queued requests (%d queued): %w", n, got, context.Cause(ctx))
		}
	}
}

// changedLocked wakes the callers of AwaitLen; q.mu is held.
func (q *Queue) changedLocked() {
	if q.changed != nil {
		close(q.changed)
		q.changed = nil
	}
}

// Wait blocks until [Queue.Notify] wakes this waiter (nil: re-plan the
// request), timeout passes ([ErrQueueTimeout]) or ctx ends (ctx.Err()). It
// returns [ErrQueueFull] at once when max requests already wait. The caller
// answers the errors with a 429 whose Retry-After is [Plan.RetryAfter].
func (q *Queue) Wait(ctx context.Context, timeout time.Duration) error {
	return q.wait(ctx, timeout, WaitOptions{})
}

// Rewait is [Queue.Wait] for a request that was woken, re-planned and still
// found no destination: it waits again at the head of the queue, keeping
// its turn, rather than behind requests that arrived after it.
func (q *Queue) Rewait(ctx context.Context, timeout time.Duration) error {
	return q.wait(ctx, timeout, WaitOptions{Front: true})
}

// WaitOptions refine [Queue.WaitWith].
type WaitOptions struct {
	// Front waits at the head of the queue (see [Queue.Rewait]); for a
	// waiter that is not Priority, at the head of the default lane,
	// behind every priority waiter.
	Front bool
	// Priority waits in the priority lane: ahead of every waiter that is
	// not, behind the priority waiters already there (unless Front).
	Priority bool
	// Key groups waiters: [Queue.Notify] wakes the oldest of each key, and
	// Hopeless counts only the waiters of the same key ahead.
	Key string
	// Hopeless, if set, is asked every CheckEvery while the request waits,
	// with the number of waiters ahead of it; when it answers true the
	// request leaves the queue at once with [ErrQueueHopeless], rather
	// than at its timeout.
	Hopeless   func(ahead int) bool
	CheckEvery time.Duration
}

// WaitWith is [Queue.Wait] with options.
func (q *Queue) WaitWith(ctx context.Context, timeout time.Duration, o WaitOptions) error {
	return q.wait(ctx, timeout, o)
}

func (q *Queue) wait(ctx context.Context, timeout time.Duration, o WaitOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ch := make(chan struct{}, 1)
	q.mu.Lock()
	if len(q.waiters) >= q.max {
		q.mu.Unlock()
		return ErrQueueFull
	}
	w := waiter{ch: ch, key: o.Key, priority: o.Priority}
	switch {
	case o.Front && o.Priority:
		q.waiters = slices.Insert(q.waiters, 0, w)
	case o.Front || o.Priority:
		// The head of the default lane: behind every priority waiter.
		i := slices.IndexFunc(q.waiters, func(w waiter) bool { return !w.priority })
		if i < 0 {
			i = len(q.waiters)
		}
		q.waiters = slices.Insert(q.waiters, i, w)
	default:
		q.waiters = append(q.waiters, w)
	}
	q.changedLocked()
	q.mu.Unlock()

	expired := make(chan struct{})
	stop := q.clock.AfterFunc(timeout, func() { close(expired) })
	defer stop()
	var tick chan struct{}
	stopTick := func() bool { return false }
	arm := func() {
		if o.Hopeless != nil && o.CheckEvery > 0 {
			t := make(chan struct{})
			tick, stopTick = t, q.clock.AfterFunc(o.CheckEvery, func() { close(t) })
		}
	}
	arm()
	defer func() { stopTick() }()
	var err error
	for err == nil {
		select {
		case <-ch:
			return nil
		case <-expired:
			err = ErrQueueTimeout
		case <-ctx.Done():
			err = ctx.Err()
		case <-tick:
			ahead := q.position(ch)
			if ahead < 0 {
				// Notify took this waiter off the queue: its wake-up is
				// on the way.
				<-ch
				return nil
			}
			if o.Hopeless(ahead) {
				err = ErrQueueHopeless
			} else {
				arm()
			}
		}
	}
	if !q.remove(ch) {
		// Notify picked this waiter as it gave up: pass the wake-up on to
		// the next waiter of its key so the capacity is not lost.
		q.notifyKey(o.Key)
	}
	return err
}

// position returns how many waiters of the same key are ahead of ch, or -1
// if it is not waiting any more.
func (q *Queue) position(ch chan struct{}) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := slices.IndexFunc(q.waiters, func(w waiter) bool { return w.ch == ch })
	if i < 0 {
		return -1
	}
	ahead := 0
	for _, w := range q.waiters[:i] {
		if w.key == q.waiters[i].key {
			ahead++
		}
	}
	return ahead
}

// remove deletes ch from the waiters and reports whether it was still there.
func (q *Queue) remove(ch chan struct{}) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, w := range q.waiters {
		if w.ch == ch {
			q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
			q.changedLocked()
			return true
		}
	}
	return false
}

// Notify wakes the oldest waiter of each key, if any; call it when an
// attempt ends and so frees capacity. With a single key (every
// [Queue.Wait]), that is the oldest waiter.
func (q *Queue) Notify() {
	q.mu.Lock()
	defer q.mu.Unlock()
	var woken []string // keys already woken; few
	kept := q.waiters[:0]
	for _, w := range q.waiters {
		if slices.Contains(woken, w.key) {
			kept = append(kept, w)
			continue
		}
		woken = append(woken, w.key)
		w.ch <- struct{}{}
	}
	if len(kept) < len(q.waiters) {
		q.changedLocked()
	}
	clear(q.waiters[len(kept):])
	q.waiters = kept
}

// notifyKey wakes the oldest waiter of key, if any.
func (q *Queue) notifyKey(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if i := slices.IndexFunc(q.waiters, func(w waiter) bool { return w.key == key }); i >= 0 {
		q.waiters[i].ch <- struct{}{}
		q.waiters = slices.Delete(q.waiters, i, i+1)
		q.changedLocked()
	}
}
