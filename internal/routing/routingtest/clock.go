// Package routingtest provides test helpers for code that uses package
// routing: a manual [Clock] that satisfies [routing.TimerClock].
package routingtest

import (
	"sort"
	"sync"
	"time"

	"github.com/meridian-gateway/meridian/internal/routing"
)

var _ routing.TimerClock = (*Clock)(nil)

// Clock is a manually advanced clock. Timers set with AfterFunc fire,
// synchronously and in time order, during the Advance or Set that reaches
// them. It is safe for concurrent use.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*timer
	seq    int
}

type timer struct {
	at  time.Time
	seq int
	f   func()
}

// NewClock returns a clock set to start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and fires the timers that came due.
func (c *Clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// Set moves the clock to t (never backwards) and fires the timers that came due.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	if t.After(c.now) {
		c.now = t
	}
	var due []*timer
	keep := c.timers[:0]
	for _, x := range c.timers {
		if !x.at.After(c.now) {
			due = append(due, x)
		} else {
			keep = append(keep, x)
		}
	}
	c.timers = keep
	c.mu.Unlock()
	sort.Slice(due, func(i, j int) bool {
		if !due[i].at.Equal(due[j].at) {
			return due[i].at.Before(due[j].at)
		}
		return due[i].seq < due[j].seq
	})
	for _, x := range due {
		x.f()
	}
}

// Timers returns the number of pending timers, so tests can wait until a
// goroutine has armed one before advancing.
func (c *Clock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// AfterFunc calls f during the Advance or Set that reaches now+d; stop
// cancels it and reports whether it was still pending.
func (c *Clock) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	c.mu.Lock()
	c.seq++
	x := &timer{at: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, x)
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, y := range c.timers {
			if y == x {
				c.timers = append(c.timers[:i], c.timers[i+1:]...)
				return true
			}
		}
		return false
	}
}
