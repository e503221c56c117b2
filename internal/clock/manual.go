package clock

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

var _ Clock = (*Manual)(nil)

// Manual is a clock that moves only when told to. Timers, tickers and
// AfterFunc callbacks come due, in time order, during the Advance or Set
// that reaches them: AfterFunc callbacks run synchronously in that call,
// timer and ticker channels receive without blocking (a ticker whose
// previous tick was not read drops the new one, as time.Ticker does). It is
// safe for concurrent use.
type Manual struct {
	mu      sync.Mutex
	now     time.Time
	pending []*event
	seq     int
	armed   chan struct{} // closed and replaced whenever a timer is armed
	// arms counts the timers, tickers and callbacks armed (or re-armed)
	// for each duration, so that a test can wait for one timer among many
	// (WaitArmed). It holds an entry per distinct duration ever armed, a
	// few bytes each.
	arms map[time.Duration]int
}

type event struct {
	at      time.Time
	seq     int
	f       func()         // AfterFunc
	ch      chan time.Time // timer or ticker
	period  time.Duration  // ticker
	stopped bool           // Stop was called; guarded by Manual.mu
}

// NewManual returns a manual clock set to start.
func NewManual(start time.Time) *Manual { return &Manual{now: start} }

// Now returns the clock's time.
func (c *Manual) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and fires what came due.
func (c *Manual) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// Set moves the clock to t (never backwards) and fires what came due.
func (c *Manual) Set(t time.Time) { c.set(t) }

// set is Set; it returns the timer and ticker events whose channel it sent
// to.
func (c *Manual) set(t time.Time) (sent []*event) {
	c.mu.Lock()
	if t.After(c.now) {
		c.now = t
	}
	var due []*event
	keep := c.pending[:0]
	for _, x := range c.pending {
		if !x.at.After(c.now) {
			due = append(due, x)
		} else {
			keep = append(keep, x)
		}
	}
	c.pending = keep
	// A ticker fires once per Set however many periods passed (a reader
	// that lags drops ticks, as with time.Ticker), then is re-armed.
	for _, x := range due {
		if x.period > 0 {
			for !x.at.After(c.now) {
				x.at = x.at.Add(x.period)
			}
			c.seq++
			x.seq = c.seq
			c.pending = append(c.pending, x)
		}
	}
	now := c.now
	c.mu.Unlock()
	sort.Slice(due, func(i, j int) bool {
		if !due[i].at.Equal(due[j].at) {
			return due[i].at.Before(due[j].at)
		}
		return due[i].seq < due[j].seq
	})
	for _, x := range due {
		if x.f != nil {
			x.f()
			continue
		}
		select {
		case x.ch <- now:
			sent = append(sent, x)
		default:
		}
	}
	return sent
}

// AdvanceAndWait is Advance, then it waits until every timer and ticker
// channel that received during the advance has been read (the receiving
// goroutine holds the tick, as with an unbuffered hand-off) or stopped, or
// until ctx is done. A test uses it when what it does next must come after
// the tick in the receiver's loop.
func (c *Manual) AdvanceAndWait(ctx context.Context, d time.Duration) error {
	sent := c.set(c.Now().Add(d))
	// A read cannot be observed, only its effect on the buffer: poll with
	// a short backoff. This is the clock package, the one place that may
	// wait on the wall clock.
	backoff := 10 * time.Microsecond
	for _, x := range sent {
		for len(x.ch) > 0 && !c.stopped(x) {
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("clock: wait for a tick to be read: %w", context.Cause(ctx))
			case <-t.C:
			}
			backoff = min(2*backoff, time.Millisecond)
		}
	}
	return nil
}

// stopped reports whether x was stopped: a ticker no longer pending, or a
// timer whose Stop was called after it fired.
func (c *Manual) stopped(x *event) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return x.stopped
}

// WaitTimers waits until at least n timers, tickers and callbacks are
// pending (a goroutine under test has armed its timer), or until ctx is
// done.
func (c *Manual) WaitTimers(ctx context.Context, n int) error {
	return c.waitFor(ctx, n, func() int { return len(c.pending) }, func(got int) string {
		return fmt.Sprintf("wait for %d timers (%d armed)", n, got)
	})
}

// waitFor waits until count (read under c.mu) reaches n, waking up each
// time a timer is armed, or until ctx is done; what describes the wait in
// the error.
func (c *Manual) waitFor(ctx context.Context, n int, count func() int, what func(got int) string) error {
	for {
		c.mu.Lock()
		got := count()
		if c.armed == nil {
			c.armed = make(chan struct{})
		}
		armed := c.armed
		c.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("clock: %s: %w", what(got), context.Cause(ctx))
		case <-armed:
		}
	}
}

// Armed returns how many timers, tickers and callbacks have been armed
// (or re-armed with Reset) for d since the clock was made.
func (c *Manual) Armed(d time.Duration) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.arms[d]
}

// WaitArmed waits until timers, tickers and callbacks have been armed (or
// re-armed) for d at least n times in all since the clock was made, or
// until ctx is done. Where many timers share the clock (a node's), a test
// reads Armed(d) before it starts the goroutine under test and waits for
// one more: the one that goroutine arms for d, whatever else is pending.
func (c *Manual) WaitArmed(ctx context.Context, d time.Duration, n int) error {
	return c.waitFor(ctx, n, func() int { return c.arms[d] }, func(got int) string {
		return fmt.Sprintf("wait for %d timers armed for %v (%d armed)", n, d, got)
	})
}

// Timers returns the number of pending timers, tickers and callbacks, so
// that a test can wait until a goroutine has armed one before advancing.
func (c *Manual) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// add arms x to come due d from now; reading now and arming are one step.
func (c *Manual) add(x *event, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	x.seq = c.seq
	x.at = c.now.Add(d)
	c.pending = append(c.pending, x)
	if c.arms == nil {
		c.arms = map[time.Duration]int{}
	}
	c.arms[d]++
	if c.armed != nil {
		close(c.armed)
		c.armed = nil
	}
}

func (c *Manual) remove(x *event) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	x.stopped = true
	for i, y := range c.pending {
		if y == x {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			return true
		}
	}
	return false
}

// AfterFunc calls f during the Advance or Set that reaches now+d.
func (c *Manual) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	x := &event{f: f}
	c.add(x, d)
	return func() bool { return c.remove(x) }
}

// AfterFuncTimer calls f during the Advance or Set that reaches now+d;
// the returned timer stops or re-arms it.
func (c *Manual) AfterFuncTimer(d time.Duration, f func()) Timer {
	x := &event{f: f}
	c.add(x, d)
	return manualTimer{c, x}
}

// NewTimer returns a timer whose channel receives during the Advance or
// Set that reaches now+d.
func (c *Manual) NewTimer(d time.Duration) (Timer, <-chan time.Time) {
	x := &event{ch: make(chan time.Time, 1)}
	c.add(x, d)
	return manualTimer{c, x}, x.ch
}

type manualTimer struct {
	c *Manual
	x *event
}

// Stop disarms the timer and drops a time it sent that was not received.
func (t manualTimer) Stop() bool {
	pending := t.c.remove(t.x)
	drain(t.x.ch)
	return pending
}

// Reset re-arms the timer d from the clock's now, dropping a time it sent
// that was not received.
func (t manualTimer) Reset(d time.Duration) bool {
	pending := t.c.remove(t.x)
	drain(t.x.ch)
	t.c.mu.Lock()
	t.x.stopped = false
	t.c.mu.Unlock()
	t.c.add(t.x, d)
	return pending
}

func drain(ch chan time.Time) {
	select {
	case <-ch:
	default:
	}
}

// NewTicker returns a ticker that receives every d of manual time. It
// panics if d is not positive, as time.NewTicker does.
func (c *Manual) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive interval for NewTicker")
	}
	x := &event{ch: make(chan time.Time, 1), period: d}
	c.add(x, d)
	return manualTicker{c, x}
}

type manualTicker struct {
	c *Manual
	x *event
}

func (t manualTicker) C() <-chan time.Time { return t.x.ch }
func (t manualTicker) Stop()               { t.c.remove(t.x) }
