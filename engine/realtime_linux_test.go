package engine

import (
	"context"
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
	l := g.loops[0]
	deadline := time.Now().Add(10 * time.Second)
	for l.prio.Load() == nil {
		if time.Now().After(deadline) {
			t.Fatal("the loop never asked for real-time priority")
		}
		time.Sleep(time.Millisecond)
	}
	attr, err := unix.SchedGetAttr(int(l.tid.Load()), 0)
	if err != nil {
		t.Fatal(err)
	}
	_, refused := l.priority()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	got := r.snap.Health.PacerPriority
	switch {
	case refused == nil && (attr.Policy != unix.SCHED_FIFO || got != PacerRealtime):
		t.Fatalf("granted, yet the loop's policy is %d and the run reports %q", attr.Policy, got)
	case refused != nil && (attr.Policy != unix.SCHED_NORMAL || !strings.HasPrefix(got, PacerNormal) || !strings.Contains(got, refused.Error())):
		t.Fatalf("refused (%v), yet the loop's policy is %d and the run reports %q", refused, attr.Policy, got)
	}
	t.Logf("pacer priority %s", got)
	if r.snap.All.Run.Requests < 1000 {
		t.Fatalf("%d requests at 2000/s for 1 s", r.snap.All.Run.Requests)
	}
}

// Real-time priority is only for the open model's pacer on the loop: a
// run of another model or on goroutines keeps its threads as they are,
// and says why.
func TestRealtimePacerOnlyPacesTheOpenModel(t *testing.T) {
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
