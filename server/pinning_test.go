package server

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"perflab/server/proc"
)

// TestInstanceCPUsPinsProcesses: the instance's processes (workers,
// task worker, embedded Redis) run on its cores only, the edge and this
// process (where the load generator runs) on the others, every thread of
// each; live changes of the instance's cores and of the workers move or
// start them where they belong, and Close gives this process its cores
// back.
func TestInstanceCPUsPinsProcesses(t *testing.T) {
	needPinning(t)
	n := runtime.NumCPU()
	all, rest := cpuRange(0, n-1), cpuRange(1, n-1)
	before := allowedCPUs(t, os.Getpid())
	c := fastConfig()
	c.InstanceCPUs = 1
	c.Workers = 2
	tw := startTwin(t, c)
	check := func(when, instance, outside string) {
		t.Helper()
		s := tw.Stats()
		if s.Redis == nil || s.Redis.PID == 0 || s.Edge.PID == 0 {
			t.Fatalf("%s: no pid for the embedded Redis (%+v) or the edge (%+v)", when, s.Redis, s.Edge)
		}
		want := map[int]string{s.Tasks.PID: instance, s.Redis.PID: instance, s.Edge.PID: outside, os.Getpid(): outside}
		for _, w := range s.Workers {
			want[w.PID] = instance
		}
		names := map[int]string{s.Tasks.PID: "task worker", s.Redis.PID: "embedded redis", s.Edge.PID: "edge", os.Getpid(): "perflab (this test)"}
		for pid, cpus := range want {
			name := names[pid]
			if name == "" {
				name = "worker"
			}
			if got := allowedCPUs(t, pid); got != cpus {
				t.Errorf("%s: %s (pid %d) may run on CPUs %s, want %s", when, name, pid, got, cpus)
			}
		}
		if got, want := tw.Apart(), outside != all; got != want {
			t.Errorf("%s: the twin says this process runs apart: %v, want %v", when, got, want)
		}
		if got := s.Config.InstanceCPUs; got != c.InstanceCPUs {
			t.Errorf("%s: stats say %d instance CPUs, want %d", when, got, c.InstanceCPUs)
		}
	}
	check("started on 1 instance CPU", "0", rest)
	for _, step := range []struct {
		when              string
		cpus, workers     int
		instance, outside string
	}{
		{"moved live to every CPU", n, 2, all, all},
		{"moved live back to 1 CPU", 1, 2, "0", rest},
		{"a worker added live", 1, 3, "0", rest},
	} {
		c = tw.Config()
		c.InstanceCPUs, c.Workers = step.cpus, step.workers
		if err := tw.Apply(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		check(step.when, step.instance, step.outside)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if got := allowedCPUs(t, os.Getpid()); got != before {
		t.Errorf("after Close this process may run on CPUs %s, want %s as before", got, before)
	}
}

// cpuRange renders cores lo..hi as /proc writes a CPU list.
func cpuRange(lo, hi int) string {
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

// allowedCPUs is the Cpus_allowed_list of every thread of pid, as /proc
// has it; threads that disagree make it list each list.
func allowedCPUs(t *testing.T, pid int) string {
	t.Helper()
	cpus, err := readAllowedCPUs(pid)
	if err != nil {
		t.Fatal(err)
	}
	return cpus
}

// readAllowedCPUs is allowedCPUs' reading, an error once pid has ended.
func readAllowedCPUs(pid int) (string, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return "", fmt.Errorf("threads of %d: %w", pid, err)
	}
	seen := map[string]bool{}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		if err != nil {
			continue // the thread ended
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
				seen[strings.TrimSpace(v)] = true
			}
		}
	}
	if len(seen) == 0 {
		return "", fmt.Errorf("threads of %d: none left", pid)
	}
	lists := slices.Sorted(maps.Keys(seen))
	return strings.Join(lists, " and "), nil
}

// TestServiceProcessKilledIsRestarted: kill -9 the embedded Redis or the
// edge; the parent starts it again on the same address and it serves.
func TestServiceProcessKilledIsRestarted(t *testing.T) {
	c := fastConfig()
	c.Cache = true
	tw := startTwin(t, c)
	a := newAPI(t, tw.AppURL())
	a.signin()
	for _, tc := range []struct {
		name   string
		pid    func(Stats) ProcessStats
		serves func() bool
	}{
		{"embedded redis", func(s Stats) ProcessStats { return *s.Redis }, func() bool {
			hits := tw.Stats().Total.CacheHits
			a.likes()
			a.likes()
			return tw.Stats().Total.CacheHits > hits
		}},
		{"edge", func(s Stats) ProcessStats { return s.Edge.ProcessStats }, func() bool {
			resp, err := http.Get(tw.EdgeURL() + "/")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := tc.pid(tw.Stats())
			if err := syscall.Kill(old.PID, syscall.SIGKILL); err != nil {
				t.Fatalf("kill %s %d: %v", tc.name, old.PID, err)
			}
			waitFor(t, 10*time.Second, tc.name+" to be restarted", func() bool {
				p := tc.pid(tw.Stats())
				return p.PID != 0 && p.PID != old.PID
			})
			waitFor(t, 10*time.Second, tc.name+" to serve again", tc.serves)
			if p := tc.pid(tw.Stats()); p.Restarts != old.Restarts+1 {
				t.Errorf("restarts %d, want %d", p.Restarts, old.Restarts+1)
			}
		})
	}
}

// needPinning skips a test of CPU pinning, loudly, where pinning cannot
// be seen; under PERFLAB_REQUIRE_EXTERNAL=1 it fails instead, since CI
// must check it.
func needPinning(t *testing.T) {
	t.Helper()
	if ok, why := proc.CanPin(); !ok {
		if os.Getenv("PERFLAB_REQUIRE_EXTERNAL") == "1" {
			t.Fatalf("pinning must be checked here (PERFLAB_REQUIRE_EXTERNAL=1), but %s", why)
		}
		t.Skipf("SKIPPED: %s, so pinning goes untested", why)
	}
}
