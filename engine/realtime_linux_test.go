package engine

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// An open-model loop asked for real-time priority gets it where the
// system allows, and the run says so; where the system refuses, the loop
// runs as usual and the run says why. Either way, what the run reports
// is the policy the loop's thread really has.
func TestRealtimePacerReportsWhatTheLoopGot(t *testing.T) {
	setsItsPath(t)
	url := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false)
	g, err := New(oneStep(url), Open{Rate: 2000}, Duration(time.Second), Path(PathLoop), RealtimePacer())
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		snap *Snapshot
		err  error
	}
	done := make(chan result, 1)
	go func() {
		snap, err := g.Run(context.Background())
		done <- result{snap, err}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for _, l := range g.loops {
		for made, _ := l.prio.get(); !made; made, _ = l.prio.get() {
			if time.Now().After(deadline) {
				t.Fatal("a loop never asked for real-time priority")
			}
			time.Sleep(time.Millisecond)
		}
	}
	fifo := fifoThreads(t)
	_, refused := g.loops[0].prio.get()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	got := r.snap.Health.PacerPriority
	switch {
	case refused == nil && (fifo != len(g.loops) || got != PacerRealtime):
		t.Fatalf("granted, yet %d threads of %d loops run at real time and the run reports %q", fifo, len(g.loops), got)
	case refused != nil && (fifo != 0 || !strings.HasPrefix(got, PacerNormal) || !strings.Contains(got, refused.Error())):
		t.Fatalf("refused (%v), yet %d threads run at real time and the run reports %q", refused, fifo, got)
	}
	t.Logf("pacer priority %s", got)
	if n := fifoThreads(t); n != 0 {
		t.Fatalf("%d threads still at real-time priority after the run", n)
	}
	if r.snap.All.Run.Requests < 1000 {
		t.Fatalf("%d requests at 2000/s for 1 s", r.snap.All.Run.Requests)
	}
}

// Real-time priority is only for the open model's pacer on the loop: a
// run of another model or on goroutines keeps its threads as they are,
// and says why.
func TestRealtimePacerOnlyPacesTheOpenModel(t *testing.T) {
	setsItsPath(t)
	url := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false)
	cases := []struct {
		model Model
		path  string
		want  string
	}{
		{Max{Conns: 2}, PathLoop, "open model"},
		{Open{Rate: 500}, PathGoroutine, "goroutines"},
	}
	for _, c := range cases {
		snap := mustRun(t, oneStep(url), c.model, Duration(300*time.Millisecond), Path(c.path), RealtimePacer())
		if got := snap.Health.PacerPriority; !strings.HasPrefix(got, PacerNormal) || !strings.Contains(got, c.want) {
			t.Fatalf("%T on %s: pacer priority %q; want normal, saying %q", c.model, c.path, got, c.want)
		}
	}
	if snap := mustRun(t, oneStep(url), Open{Rate: 500}, Duration(300*time.Millisecond), Path(PathLoop)); snap.Health.PacerPriority != "" {
		t.Fatalf("a run that did not ask reports pacer priority %q", snap.Health.PacerPriority)
	}
}

// fifoThreads counts this process's threads in SCHED_FIFO.
func fifoThreads(t *testing.T) int {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, task := range tasks {
		tid, err := strconv.Atoi(task.Name())
		if err != nil {
			continue
		}
		if attr, err := unix.SchedGetAttr(tid, 0); err == nil && attr.Policy == unix.SCHED_FIFO {
			n++
		}
	}
	return n
}
