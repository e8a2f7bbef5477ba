package main

import (
	"os"
	"testing"

	"perflab/server/proc"
)

// TestMain lets tests re-execute the test binary as perflab's children.
func TestMain(m *testing.M) {
	proc.Main()
	os.Exit(m.Run())
}
