package experiments

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"perflab/engine"
	"perflab/server"
	"perflab/server/proc"
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

// TestLiveSaysWhatSharesCores: the header says when the twin has every
// core and so shares them with perflab, and live changes of the
// instance's cores show there; the generator's CPU figure names the
// twin's supervisor, which runs in its process.
func TestLiveSaysWhatSharesCores(t *testing.T) {
	all := strconv.Itoa(runtime.NumCPU())
	sess := openSession(t, Likes, map[string]string{"profile": "go", "instance-cpus": all})
	live := StartLive(sess, engine.Closed{VUs: 2, Think: 50 * time.Millisecond}, 0)
	t.Cleanup(func() { live.Close() })
	const shared = "shared with the generator"
	if info := live.Info(); !strings.Contains(info, shared) {
		t.Errorf("instance on every core: header %q does not say it is %s", info, shared)
	}
	if runtime.NumCPU() > 1 && proc.PinningSupported {
		if err := live.SetKnob("instance-cpus", "1"); err != nil {
			t.Fatal(err)
		}
		if info := live.Info(); strings.Contains(info, shared) || !strings.Contains(info, "1 instance CPU") {
			t.Errorf("instance on 1 of %s cores: header %q, want 1 instance CPU, not %s", all, info, shared)
		}
	}
	for snap := range live.Snapshots() {
		if snap.Health.Sharing != "twin supervisor" {
			t.Fatalf("the generator's CPU is said to be shared with %q, want the twin supervisor", snap.Health.Sharing)
		}
		break
	}
}

// TestHeaderNamesTheDatabase: the header names PostgreSQL, the private
// cluster or a server by URL, and says nothing of the embedded SQLite.
func TestHeaderNamesTheDatabase(t *testing.T) {
	for _, c := range []struct{ kind, setting, want string }{
		{server.DBSQLite, server.DBSQLite, ""},
		{server.DBPostgres, server.DBPostgres, ", PostgreSQL"},
		{server.DBPostgres, "postgres://perflab:xxxxx@db:5432/twin", ", PostgreSQL by URL"},
	} {
		var st server.Stats
		st.DB.Kind, st.Config.DB = c.kind, c.setting
		if got := dbInfo(st); got != c.want {
			t.Errorf("db %s: header adds %q, want %q", c.setting, got, c.want)
		}
	}
}
