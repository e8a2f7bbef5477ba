//go:build race

package engine

// raceEnabled reports whether the race detector is on; it allocates on
// goroutine switches of its own.
const raceEnabled = true
