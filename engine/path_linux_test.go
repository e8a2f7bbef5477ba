package engine

import (
	"slices"
	"testing"
	"time"
)

// An open-model run deals its workers to as few loops as its highest rate
// needs, so that one loop paces a slow rate instead of several, each
// spinning towards a start of its own; raising the rate spreads the
// workers it adds over more loops. Other models use every loop.
func TestOpenRunDealsWorkersToTheLoopsItsRateNeeds(t *testing.T) {
	setsItsPath(t)
	url := "http://127.0.0.1:1/"
	gen := func(m Model, opts ...Option) *Generator {
		g, err := New(oneStep(url), m, append(opts, Path(PathLoop))...)
		if err != nil {
			t.Fatal(err)
		}
		g.loops = newLoops(g, 3) // as on three cores; never started
		return g
	}
	deal := func(g *Generator, n int) []int {
		g.mu.Lock()
		defer g.mu.Unlock()
		for range n {
			g.launch(&worker{})
		}
		got := make([]int, len(g.loops))
		for i, l := range g.loops {
			got[i] = len(l.inbox)
			l.inbox = nil
		}
		return got
	}
	check := func(what string, got []int, want ...int) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s: workers per loop %v, want %v", what, got, want)
		}
	}
	g := gen(Open{Rate: 2000}, Duration(time.Second))
	check("2,000/s", deal(g, 6), 6, 0, 0)
	if err := g.SetRate(2.5 * openPerLoop); err != nil {
		t.Fatal(err)
	}
	check("raised to 2.5 loops' rate", deal(g, 6), 2, 2, 2)
	if err := g.SetRate(openPerLoop); err != nil {
		t.Fatal(err)
	}
	check("lowered to one loop's rate", deal(g, 3), 3, 0, 0)
	staged := gen(Open{Rate: 100}, Stages(Stage{Duration: time.Second, Target: 1.5 * openPerLoop}))
	check("staged to 1.5 loops' rate", deal(staged, 4), 2, 2, 0)
	if err := staged.SetRate(100); err != nil {
		t.Fatal(err)
	}
	check("a live rate taking over from the plan", deal(staged, 2), 2, 0, 0)
	check("100 users", deal(gen(Closed{VUs: 100}, Duration(time.Second)), 6), 2, 2, 2)
	check("max model", deal(gen(Max{Conns: 64}, Duration(time.Second)), 3), 1, 1, 1)
}

// A rate lowered live leaves workers on loops it no longer needs. Those
// loops stop claiming starts, so that they stop sleeping and spinning
// towards them, and their free workers do not count when the run decides
// whether to grow, so that the pacing loops never run short; raising the
// rate again brings them back.
func TestLoopsPastALoweredRateStopPacing(t *testing.T) {
	setsItsPath(t)
	g, err := New(oneStep("http://127.0.0.1:1/"), Open{Rate: 2.5 * openPerLoop}, Duration(3*time.Hour), Path(PathLoop))
	if err != nil {
		t.Fatal(err)
	}
	g.loops = newLoops(g, 3) // as on three cores; never started
	g.start = time.Now()
	g.resize(6)
	for _, l := range g.loops {
		l.takeInbox()
	}
	if p := g.pacers.Load(); p != 3 {
		t.Fatalf("%d loops pace 2.5 loops' rate, want 3", p)
	}
	if err := g.SetRate(openPerLoop / 2); err != nil {
		t.Fatal(err)
	}
	if p := g.pacers.Load(); p != 1 {
		t.Fatalf("%d loops pace half a loop's rate, want 1", p)
	}
	g.sched.Store(&schedule{at: time.Now().Add(time.Hour), interval: time.Millisecond}) // due later
	now := time.Now()
	if at, n := g.loops[2].pace(now); !at.IsZero() || n != 0 || g.loops[2].pend.valid || g.slot.Load() != 0 {
		t.Fatalf("a loop the rate no longer needs claimed a start (due %v, %d started, slot %d)", at, n, g.slot.Load())
	}
	if at, n := g.loops[0].pace(now); at.IsZero() || n != 0 || !g.loops[0].pend.valid || g.slot.Load() != 1 {
		t.Fatalf("the pacing loop did not claim the next start (due %v, %d started, slot %d)", at, n, g.slot.Load())
	}

	// Slots are due and only the idle loops have free workers: the run
	// grows, on the pacing loop. With one free there, it does not.
	g.sched.Store(&schedule{at: now.Add(-time.Second), base: g.slot.Load(), interval: 100 * time.Millisecond})
	g.loops[0].idle.Store(1)
	g.loops[1].idle.Store(2)
	g.loops[2].idle.Store(2)
	g.growOpen()
	if n := len(g.workers); n != 6 {
		t.Fatalf("the run grew to %d workers while the pacing loop had one free", n)
	}
	g.loops[0].idle.Store(0)
	g.growOpen()
	added := len(g.workers) - 6
	if added <= 0 {
		t.Fatal("the run did not grow while only loops the rate no longer needs had free workers")
	}
	if len(g.loops[0].inbox) != added || len(g.loops[1].inbox)+len(g.loops[2].inbox) != 0 {
		t.Fatalf("%d new workers dealt %d, %d, %d; want all to the pacing loop",
			added, len(g.loops[0].inbox), len(g.loops[1].inbox), len(g.loops[2].inbox))
	}

	if err := g.SetRate(2.5 * openPerLoop); err != nil {
		t.Fatal(err)
	}
	g.sched.Store(&schedule{at: time.Now().Add(time.Hour), interval: time.Millisecond})
	if at, _ := g.loops[2].pace(time.Now()); at.IsZero() || !g.loops[2].pend.valid {
		t.Fatal("a loop the raised rate needs again did not claim a start")
	}
}
