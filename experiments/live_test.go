package experiments

import (
	"context"
	"testing"
	"time"

	"perflab/engine"
)

// TestLiveStudySweepRepeats drives the dashboard's side of an experiment:
// the live load's snapshots flow on one clock, a study sweep repeated
// twice runs each configuration twice, interleaved, reporting each run
// with the runs of its configuration so far, and the live load resumes
// with the presenter's settings.
func TestLiveStudySweepRepeats(t *testing.T) {
	e := *Likes
	e.Study = Likes.Study[:2] // sync with 1 and 2 workers
	sess := openSession(t, &e, map[string]string{"profile": "go", "workers": "3"})
	live := StartLive(sess, engine.Closed{VUs: 4, Think: 50 * time.Millisecond}, 0)
	live.sweepRun = time.Second
	t.Cleanup(func() { live.Close() })
	go func() {
		for range live.Snapshots() {
		}
	}()
	var ended []SweepCell
	err := live.StudySweep(context.Background(), 2, func(c SweepCell) {
		if !c.Running {
			ended = append(ended, c)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, c := range ended {
		order = append(order, c.Settings["workers"])
		if len(c.Runs) != c.Repeat || c.Repeats != 2 || c.Figures.Answered == 0 {
			t.Fatalf("cell %+v: want its runs so far (%d) and figures", c, c.Repeat)
		}
	}
	if got := len(order); got != 4 || order[0] != "1" || order[1] != "2" || order[2] != "1" || order[3] != "2" {
		t.Fatalf("configurations ran %v, want 1 2 1 2 (two rounds, interleaved)", order)
	}
	if w := sess.Settings()["workers"]; w != "3" {
		t.Fatalf("after the sweep workers=%s, want the presenter's 3 back", w)
	}
	if p := sess.Settings()["profile"]; p != "go" {
		t.Fatalf("after the sweep profile=%s, want go back", p)
	}
}
