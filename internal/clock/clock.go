// Package clock is Meridian's one source of time. Everything that reads
// the time, waits or ticks takes a [Clock]: [Wall] in production, a
// [Manual] clock in tests and wherever time must be controlled, so that no
// test waits on the wall clock (docs/architecture.md, "Time").
//
// Consumers declare the subset they call as their own interface (routing
// needs Now and AfterFunc, the audit writer Now and NewTicker, mockllm Now
// and NewTimer, quota, pki and the console's live view only Now); the
// method signatures here are the ones those interfaces use, so one Wall or
// one Manual value satisfies them all. Options that take the whole
// interface name it Clock and treat nil as Wall ([Or]). A node has one
// clock (node.Options.Clock) and hands it to everything it builds; cmd/
// passes Wall. internal/depguard's TestNoWallClock keeps bare wall-clock
// calls out of internal/. The package imports only the standard library.
package clock

import "time"

// Clock tells the time and arms timers.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f once d has elapsed (on its own goroutine for Wall,
	// during the Advance that reaches it for Manual); stop cancels it and
	// reports whether it was still pending.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
	// AfterFuncTimer is AfterFunc with a timer that can be re-armed
	// ([Timer.Reset]): a hot loop arms one per stream, not one per wait.
	AfterFuncTimer(d time.Duration, f func()) Timer
	// NewTimer returns a timer that sends on the returned channel once d
	// has elapsed.
	NewTimer(d time.Duration) (Timer, <-chan time.Time)
	// NewTicker returns a ticker that sends on its channel every d.
	NewTicker(d time.Duration) Ticker
}

// Timer is a pending one-shot timer. As with [time.Timer] since Go 1.23,
// no time sent before a Stop or Reset is received after it.
type Timer interface {
	// Stop prevents the timer from firing; it reports whether it stopped
	// the timer before it fired.
	Stop() bool
	// Reset re-arms the timer to fire d from now, whether or not it had
	// fired or was stopped; it reports whether it was pending. It lets a
	// hot loop re-arm one timer instead of making one per wait.
	Reset(d time.Duration) bool
}

// Ticker sends the time on C every period until stopped.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Wall is the system clock.
var Wall Clock = wall{}

type wall struct{}

func (wall) Now() time.Time { return time.Now() }

func (wall) AfterFunc(d time.Duration, f func()) (stop func() bool) { return time.AfterFunc(d, f).Stop }

func (wall) AfterFuncTimer(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

func (wall) NewTimer(d time.Duration) (Timer, <-chan time.Time) {
	t := time.NewTimer(d)
	return t, t.C
}

func (wall) NewTicker(d time.Duration) Ticker { return wallTicker{time.NewTicker(d)} }

type wallTicker struct{ t *time.Ticker }

func (t wallTicker) C() <-chan time.Time { return t.t.C }
func (t wallTicker) Stop()               { t.t.Stop() }

// Or returns c, or Wall when c is nil: the zero value of an option that
// takes a Clock.
func Or(c Clock) Clock {
	if c == nil {
		return Wall
	}
	return c
}
