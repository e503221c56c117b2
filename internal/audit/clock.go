package audit

import (
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
)

// Clock is the source of time for the [Writer]: event-file names, rotation,
// fsync and digest intervals. clock.Wall in production; tests inject a
// clock.Manual or their own.
type Clock interface {
	Now() time.Time
	NewTicker(d time.Duration) Ticker
}

// Ticker is the part of [time.Ticker] the writer uses.
type Ticker = clock.Ticker
