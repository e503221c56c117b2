//go:build !race

package interregion

const raceEnabled = false
