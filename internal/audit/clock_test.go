package audit

import (
	"context"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
)

// fakeClock is a clock.Manual whose Advance returns once the writer has
// taken the ticks that came due (so what the test does next comes after
// them in the writer's loop), as an unbuffered hand-off would.
type fakeClock struct{ *clock.Manual }

func newFakeClock() *fakeClock {
	return &fakeClock{clock.NewManual(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))}
}

// Advance moves the clock by d and waits until the ticks that came due
// were taken (or their tickers stopped).
func (c *fakeClock) Advance(d time.Duration) {
	_ = c.AdvanceAndWait(context.Background(), d) // Background: the wait ends only with the hand-off
}
