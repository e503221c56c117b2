package audit

import (
	"sync"
	"time"
)

// fakeClock is a [Clock] that moves only when told to. Its tickers deliver
// at most one tick per Advance, synchronously: Advance returns once the
// writer goroutine has received the tick.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*fakeTicker
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTicker(d time.Duration) Ticker {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTicker{c: make(chan time.Time), stop: make(chan struct{}), d: d, next: c.now.Add(d)}
	c.tickers = append(c.tickers, t)
	return t
}

// Advance moves the clock by d and fires the tickers that came due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	var due []*fakeTicker
	for _, t := range c.tickers {
		if !now.Before(t.next) {
			for !now.Before(t.next) {
				t.next = t.next.Add(t.d)
			}
			due = append(due, t)
		}
	}
	c.mu.Unlock()
	for _, t := range due {
		select {
		case t.c <- now:
		case <-t.stop:
		}
	}
}

type fakeTicker struct {
	c        chan time.Time
	stop     chan struct{}
	stopOnce sync.Once
	d        time.Duration
	next     time.Time
}

func (t *fakeTicker) C() <-chan time.Time { return t.c }
func (t *fakeTicker) Stop()               { t.stopOnce.Do(func() { close(t.stop) }) }
