package mockllm

import (
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
)

// Clock tells time and makes timers. A [Server] uses it for pacing and for
// its rate-limit windows, so tests and the simulator can control time.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that sends on the returned channel once d has
	// elapsed.
	NewTimer(d time.Duration) (Timer, <-chan time.Time)
}

// Timer is a timer made by a [Clock].
type Timer = clock.Timer
