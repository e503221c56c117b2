package ui

import "time"

// Clock tells the live view the time; tests inject their own.
type Clock interface {
	Now() time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }
