//go:build race

package envelope_test

// raceEnabled: the race detector changes allocation counts.
const raceEnabled = true
