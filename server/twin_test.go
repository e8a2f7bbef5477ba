package server

import (
	"context"
	"os"
	"testing"
	"time"

	"perflab/server/proc"
)

func TestMain(m *testing.M) {
	proc.Main()
	os.Exit(m.Run())
}

// startTwin starts a twin for one test and stops it when the test ends,
// checking that no process or file outlives it.
func startTwin(t *testing.T, c Config) *Twin {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tw, err := Start(ctx, c)
	if err != nil {
		t.Fatalf("start twin: %v", err)
	}
	t.Cleanup(func() { tw.Close() })
	return tw
}
