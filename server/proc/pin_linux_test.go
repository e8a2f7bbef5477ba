package proc

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPinMovesRunningChild(t *testing.T) {
	needPinning(t)
	cmd, err := Command("test-sleep")
	if err != nil {
		t.Fatal(err)
	}
	if err := Start(cmd, nil); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	allowed := func() string {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
				return strings.TrimSpace(v)
			}
		}
		return ""
	}
	// The first listing leaves one thread out, as if it had started
	// after the listing from a thread not yet moved: Pin must find it.
	var hidden int
	for wait := time.Now(); hidden == 0; time.Sleep(10 * time.Millisecond) {
		if tids, _ := threadsOf(cmd.Process.Pid); len(tids) >= 2 {
			hidden = tids[len(tids)-1]
		} else if time.Since(wait) > 10*time.Second {
			t.Fatalf("the child has %d threads after 10 s; want 2 or more", len(tids))
		}
	}
	listed := 0
	threadsOf = func(pid int) ([]int, error) {
		tids, err := listThreads(pid)
		if listed++; listed == 1 {
			tids = slices.DeleteFunc(tids, func(tid int) bool { return tid == hidden })
		}
		return tids, err
	}
	defer func() { threadsOf = listThreads }()
	if err := Pin(cmd.Process.Pid, []int{1}); err != nil {
		t.Fatal(err)
	}
	if listed < 2 {
		t.Fatalf("Pin listed the threads %d times; want a second listing that finds none new", listed)
	}
	tids, err := listThreads(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, tid := range tids {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/status", cmd.Process.Pid, tid))
		if !strings.Contains(string(b), "Cpus_allowed_list:\t1\n") {
			t.Fatalf("thread %d not moved to CPU 1", tid)
		}
	}
	if err := Pin(cmd.Process.Pid, nil); err != nil {
		t.Fatal(err)
	}
	if got := allowed(); got == "1" {
		t.Fatalf("after unpinning the child is still on %s", got)
	}
}
