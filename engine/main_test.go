package engine

import (
	"fmt"
	"os"
	"testing"
)

// TestMain runs every test of the package once per path: first as a run
// that names no path gets it (the event loop wherever the scenario fits
// it), then on goroutines alone, so each behaviour the tests pin down
// holds on both.
func TestMain(m *testing.M) {
	for _, p := range []string{PathAuto, PathGoroutine} {
		defaultPath = p
		fmt.Fprintf(os.Stderr, "engine tests, path %s\n", p)
		if code := m.Run(); code != 0 {
			fmt.Fprintf(os.Stderr, "engine tests failed on path %s\n", p)
			os.Exit(code)
		}
	}
	os.Exit(0)
}

// setsItsPath skips, on the passes after the first, a test that chooses
// its engine path itself (or needs none): it would repeat the same runs.
func setsItsPath(t *testing.T) {
	t.Helper()
	if defaultPath != PathAuto {
		t.Skip("chooses its own engine path: it ran on the first pass")
	}
}
