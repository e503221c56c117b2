//go:build race

package interregion

// raceEnabled: the race detector changes allocation counts.
const raceEnabled = true
