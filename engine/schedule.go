package engine

import (
	"math"
	"runtime"
	"time"
)

// schedule maps open-model slots to start times: slot base starts at at,
// each later slot interval after the previous.
type schedule struct {
	at       time.Time
	base     int64
	interval time.Duration
	// ramp, when set, times the slots by a plan instead of the interval.
	ramp *ramp
}

// never is a start time no run reaches: a plan that ended at 0/s has no
// more slots.
const never = 100 * 365 * 24 * time.Hour

func (s *schedule) start(slot int64) time.Time {
	if s.ramp != nil {
		at, ok := s.ramp.when(float64(slot-s.base) + 1)
		if !ok {
			return s.at.Add(never)
		}
		return s.at.Add(at)
	}
	return s.at.Add(time.Duration(slot-s.base) * s.interval)
}

// due is the number of slots whose start time has come by now.
func (s *schedule) due(now time.Time) int64 {
	if s.ramp != nil {
		return s.base + int64(s.ramp.count(now.Sub(s.at)))
	}
	return s.base + int64(now.Sub(s.at)/s.interval) + 1
}

// pastEnd reports whether a start at at falls at or after the end of a
// run with a duration: such a slot is never sent.
func (g *Generator) pastEnd(at time.Time) bool {
	return g.cfg.duration > 0 && !at.Before(g.start.Add(g.cfg.duration))
}

// forgo takes back a start a worker or loop had claimed ahead and will
// not make because the run stopped: one due by the stop is owed, and the
// final backlog counts it (the slot counter already holds it as made).
func (g *Generator) forgo(at time.Time) {
	if g.stopping.Load() && !at.After(g.stopAt) {
		g.unmade.Add(1)
	}
}

// slotFlow is the flow that open-model slot runs.
func (g *Generator) slotFlow(slot int64) int {
	return int(g.cycle[slot%int64(len(g.cycle))])
}

func rateInterval(r float64) time.Duration {
	return time.Duration(math.Max(1, float64(time.Second)/r))
}

// initialOpenWorkers starts enough workers for a target that answers
// within 10 ms; growOpen adds more when it does not.
func initialOpenWorkers(rate float64, maxOpen int) int {
	return max(1, min(int(math.Ceil(rate/100)), maxOpen, 4*runtime.GOMAXPROCS(0)))
}
