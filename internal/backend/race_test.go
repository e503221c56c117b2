//go:build race

package backend

// raceEnabled: the race detector changes allocation counts.
const raceEnabled = true
