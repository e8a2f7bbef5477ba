//go:build !race

package tui

// raceEnabled reports whether the race detector is on; it multiplies
// CPU use, so cost measurements skip under it.
const raceEnabled = false
