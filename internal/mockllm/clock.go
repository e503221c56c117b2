package mockllm

import "time"

// Clock tells time and makes timers. A [Server] uses it for pacing and for
// its rate-limit windows, so tests and the simulator can control time.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that sends on the returned channel once d has
	// elapsed.
	NewTimer(d time.Duration) (Timer, <-chan time.Time)
}

// Timer is a timer made by a [Clock]. *time.Timer satisfies it.
type Timer interface {
	// Stop prevents the timer from firing; it reports whether it stopped the
	// timer before it fired.
	Stop() bool
}

// systemClock is the real clock.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTimer(d time.Duration) (Timer, <-chan time.Time) {
	t := time.NewTimer(d)
	return t, t.C
}
