package experiments

import (
	"os"
	"testing"

	"perflab/server/proc"
)

// TestMain lets the tests re-execute the test binary as the twin's
// worker processes.
func TestMain(m *testing.M) {
	proc.Main()
	os.Exit(m.Run())
}
