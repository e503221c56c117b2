// Package routingtest provides test helpers for code that uses package
// routing: a manual [Clock] that satisfies [routing.TimerClock].
package routingtest

import (
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/routing"
)

var _ routing.TimerClock = (*Clock)(nil)

// Clock is the project's manual clock (clock.Manual): timers set with
// AfterFunc fire, synchronously and in time order, during the Advance or
// Set that reaches them.
type Clock = clock.Manual

// NewClock returns a manual clock set to start.
func NewClock(start time.Time) *Clock { return clock.NewManual(start) }
