package ui

import "time"

// Clock tells the live view the time (clock.Wall unless a test injects a
// clock.Manual).
type Clock interface {
	Now() time.Time
}
