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
	check("100 users", deal(gen(Closed{VUs: 100}, Duration(time.Second)), 6), 2, 2, 2)
	check("max model", deal(gen(Max{Conns: 64}, Duration(time.Second)), 3), 1, 1, 1)
}
