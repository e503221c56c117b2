package routing

import "time"

// Defaults of [Standing].
const (
	// DefaultStandingTarget is the queue wait a request may have without
	// the queue counting as standing.
	DefaultStandingTarget = 50 * time.Millisecond
	// DefaultStandingInterval is how long every wait must stay above the
	// target before the queue counts as standing.
	DefaultStandingInterval = time.Second
)

// Standing detects a standing queue, as CoDel does (Nichols and Jacobson,
// "Controlling Queue Delay", 2012): a queue that absorbs a burst drains, so
// some request leaves it after a short wait; a queue under sustained
// overload never does, and every request it holds waits and is served
// instead of another one that arrives later, which adds the wait to the
// latency without serving more. Once every request leaving the queue has
// waited longer than Target for a whole Interval, the queue is standing:
// the admission queue then stops taking new requests (they hear 429 at once
// with their predicted wait as Retry-After) until it empties, and starts
// over.
//
// The zero value uses the defaults. Standing is pure state (the caller
// passes the time and serializes calls); it is not safe for concurrent use.
type Standing struct {
	// Target: see [DefaultStandingTarget]. If zero, the default.
	Target time.Duration
	// Interval: see [DefaultStandingInterval]. If zero, the default.
	Interval time.Duration

	firstAbove time.Time // when the waits began to stay above Target, plus Interval
	standing   bool
}

// Left records that a request left the queue at now after waiting wait
// (served, dropped or timed out), with left requests still waiting after it.
func (s *Standing) Left(now time.Time, wait time.Duration, left int) {
	target := s.Target
	if target <= 0 {
		target = DefaultStandingTarget
	}
	interval := s.Interval
	if interval <= 0 {
		interval = DefaultStandingInterval
	}
	switch {
	case wait < target || left == 0:
		s.firstAbove, s.standing = time.Time{}, false
	case s.firstAbove.IsZero():
		s.firstAbove = now.Add(interval)
	case !now.Before(s.firstAbove):
		s.standing = true
	}
}

// Empty records that the queue emptied: it is not standing any more.
func (s *Standing) Empty() { s.firstAbove, s.standing = time.Time{}, false }

// Standing reports whether the queue is standing: it should take no new
// request.
func (s *Standing) Standing() bool { return s.standing }
