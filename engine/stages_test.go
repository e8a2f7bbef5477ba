package engine

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"
)

func TestPlanLevels(t *testing.T) {
	p := plan{start: 0, stages: []Stage{{10 * time.Second, 20}, {5 * time.Second, 20}, {10 * time.Second, 0}}}
	cases := []struct {
		at     time.Duration
		level  float64
		stage  int
		target float64
	}{
		{0, 0, 1, 20}, {5 * time.Second, 10, 1, 20}, {12 * time.Second, 20, 2, 20},
		{20 * time.Second, 10, 3, 0}, {25 * time.Second, 0, 4, 0}, {time.Minute, 0, 4, 0},
	}
	for _, c := range cases {
		level, stage, target := p.at(c.at)
		if math.Abs(level-c.level) > 1e-9 || stage != c.stage || target != c.target {
			t.Errorf("at %s: level %g stage %d target %g, want %g %d %g", c.at, level, stage, target, c.level, c.stage, c.target)
		}
	}
	if p.total() != 25*time.Second || p.peak() != 20 {
		t.Fatalf("total %s peak %g", p.total(), p.peak())
	}
}

// TestRampSchedule: the open model's slots under a ramp come when the
// planned rate's integral reaches them, so each second holds the planned
// number of requests.
func TestRampSchedule(t *testing.T) {
	r := ramp{p: plan{start: 100, stages: []Stage{{10 * time.Second, 1000}, {5 * time.Second, 0}}}}
	// 100 -> 1000 over 10 s is 5,500 requests; 1000 -> 0 over 5 s, 2,500.
	if n := r.count(10 * time.Second); math.Abs(n-5500) > 1e-6 {
		t.Fatalf("count at 10 s = %g, want 5500", n)
	}
	if n := r.count(15 * time.Second); math.Abs(n-8000) > 1e-6 {
		t.Fatalf("count at 15 s = %g, want 8000", n)
	}
	for _, n := range []float64{1, 50, 100, 5499, 5500, 5501, 7999} {
		at, ok := r.when(n)
		if !ok || math.Abs(r.count(at)-n) > 1e-3 {
			t.Errorf("when(%g) = %s, count there %g", n, at, r.count(at))
		}
	}
	if _, ok := r.when(8001); ok {
		t.Error("a slot after the plan ran down to 0/s")
	}
	// Second 3 (2 s to 3 s) plans the integral of 280..370/s: 325.
	if d := r.count(3*time.Second) - r.count(2*time.Second); math.Abs(d-325) > 1e-6 {
		t.Fatalf("second 3 holds %g requests, want 325", d)
	}
}

func TestStagesRejectBadPlans(t *testing.T) {
	url := "http://127.0.0.1:1/"
	cases := map[string]struct {
		m    Model
		opts []Option
	}{
		"duration and stages":   {Closed{VUs: 1}, []Option{Duration(time.Second), Stages(Stage{time.Second, 2})}},
		"fractional users":      {Closed{VUs: 1}, []Option{Stages(Stage{time.Second, 2.5})}},
		"negative target":       {Open{Rate: 1}, []Option{Stages(Stage{time.Second, -1})}},
		"no time at all":        {Open{Rate: 1}, []Option{Stages(Stage{0, 5})}},
		"negative stage length": {Max{Conns: 1}, []Option{Stages(Stage{-time.Second, 5})}},
	}
	for name, c := range cases {
		if _, err := New(oneStep(url), c.m, c.opts...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(oneStep(url), Closed{}, Stages(Stage{time.Second, 5})); err != nil {
		t.Errorf("a plan starting from 0 users: %v", err)
	}
}

// TestStagesDriveTheLoad ramps users 0 -> 6 -> 0 against a live server:
// the load in force follows the plan every second, and a live change
// takes over from it.
func TestStagesDriveTheLoad(t *testing.T) {
	url := okServer(t)
	g, err := New(oneStep(url), Closed{Think: 20 * time.Millisecond},
		Stages(Stage{3 * time.Second, 6}, Stage{3 * time.Second, 0}))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	vus := map[int]int{}
	g.Observe(func(s *Snapshot) {
		if s.Second > 0 {
			mu.Lock()
			vus[s.Second] = s.Load.VUs
			mu.Unlock()
		}
	})
	final, err := g.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[int]int{1: 2, 2: 4, 3: 6, 4: 4, 5: 2}
	for sec, n := range want {
		if d := vus[sec] - n; d < -1 || d > 1 {
			t.Errorf("second %d: %d users, want %d±1 (all: %v)", sec, vus[sec], n, vus)
		}
	}
	if final.Elapsed < 6*time.Second || final.Elapsed > 8*time.Second || final.All.Run.Requests == 0 {
		t.Fatalf("run of %s with %d requests, want the plan's 6 s", final.Elapsed, final.All.Run.Requests)
	}

	g2, _ := New(oneStep(url), Closed{Think: 20 * time.Millisecond}, Stages(Stage{4 * time.Second, 8}))
	time.AfterFunc(1500*time.Millisecond, func() { g2.SetVUs(1) })
	last, _ := g2.Run(context.Background())
	if !last.Load.Overridden || last.Load.VUs != 1 {
		t.Fatalf("after a live change: %+v, want 1 user and the plan overridden", last.Load)
	}
}

// TestTallyMergesGenerators: two generators' interval records tallied
// together give the counts and percentiles of one histogram of all their
// samples.
func TestTallyMergesGenerators(t *testing.T) {
	url := okServer(t)
	var recs [][]*IntervalRecord
	var runs []Figures
	for range 2 {
		g, err := New(oneStep(url), Closed{VUs: 2, Think: 5 * time.Millisecond}, Duration(2*time.Second), IntervalHistograms())
		if err != nil {
			t.Fatal(err)
		}
		var mine []*IntervalRecord
		g.Observe(func(s *Snapshot) {
			if s.Second > 0 || s.Done {
				mine = append(mine, s.All.Interval)
			}
		})
		final, err := g.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		recs, runs = append(recs, mine), append(runs, final.All.Run)
	}
	tally := NewTally([]string{"url"}, false)
	both := newWindow(false)
	var last *Snapshot
	for i := range recs[0] {
		for g := range recs {
			if i < len(recs[g]) {
				tally.Add(AllSeries, recs[g][i])
				both.addRecord(recs[g][i])
			}
		}
		last = tally.Snapshot(i+1, time.Second, time.Duration(i+1)*time.Second, i == len(recs[0])-1, TallyState{})
	}
	got := last.All.Run
	if got.Requests != runs[0].Requests+runs[1].Requests || got.Answered != runs[0].Answered+runs[1].Answered {
		t.Fatalf("tallied %d requests (%d answered), the generators %d and %d", got.Requests, got.Answered, runs[0].Requests, runs[1].Requests)
	}
	want, _ := both.figures(last.Elapsed)
	if got.P50 != want.P50 || got.P99 != want.P99 || got.Max != want.Max || got.Mean != want.Mean {
		t.Fatalf("tallied %+v, one histogram of all samples %+v", got, want)
	}
}
