package fishial

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"perflab/server/proc"
)

// TestMain lets the tests re-execute the test binary as perflab's
// children: the race's processes and nodes, the twin's workers.
func TestMain(m *testing.M) {
	proc.Main()
	os.Exit(m.Run())
}

// requireExternal skips a test that needs a tool this machine lacks,
// unless PERFLAB_REQUIRE_EXTERNAL=1 makes the lack a failure.
func requireExternal(t *testing.T, tool, why string) {
	t.Helper()
	if os.Getenv("PERFLAB_REQUIRE_EXTERNAL") == "1" {
		t.Fatalf("%s is required (PERFLAB_REQUIRE_EXTERNAL=1) but missing: %s", tool, why)
	}
	t.Skipf("SKIPPED LOUDLY: %s missing (%s); install it or this path goes untested", tool, why)
}

// childPIDs lists the live children of this process, to check that none
// is left behind.
func childPIDs(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc to list child processes: %v", err)
	}
	self := strconv.Itoa(os.Getpid())
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces, so cut after ')'.
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == self {
			out = append(out, pid)
		}
	}
	return out
}

// assertNoChildren fails if any child but those named is alive.
func assertNoChildren(t *testing.T, except ...int) {
	t.Helper()
	var left []int
	for _, pid := range childPIDs(t) {
		if !slices.Contains(except, pid) {
			left = append(left, pid)
		}
	}
	if len(left) > 0 {
		t.Fatalf("processes left behind: %v", left)
	}
}
