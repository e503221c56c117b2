package routing

import "time"

// Clock tells the time. [Tracker] reads time only through it, so tests and the
// simulator control time. The gateway passes a clock whose Now is time.Now.
type Clock interface {
	Now() time.Time
}

// TimerClock is a [Clock] that can also run a function later; [Queue] uses it
// for waiting deadlines. AfterFunc behaves like [time.AfterFunc]: f runs in its
// own goroutine after d, unless stop is called first (stop reports whether it
// prevented f from running).
type TimerClock interface {
	Clock
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}
