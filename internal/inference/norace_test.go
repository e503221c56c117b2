//go:build !race

package inference

// raceEnabled: the race detector adds allocations, so allocation bounds
// hold only without it.
const raceEnabled = false
