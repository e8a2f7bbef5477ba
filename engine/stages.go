package engine

import (
	"fmt"
	"math"
	"time"
)

// Stage is one step of a load plan: the load goes linearly from its level
// at the stage's start to Target over Duration. Target is virtual users
// in the closed model, connections in the max model, requests per second
// in the open model (as k6's ramping-vus and ramping-arrival-rate).
type Stage struct {
	Duration time.Duration
	Target   float64
}

// Stages runs the load through a plan; the run lasts the sum of the
// stages' durations. The model's own setting is the level the plan starts
// from. A live change of the load (SetVUs, SetRate) takes over from the
// plan for the rest of the run.
func Stages(s ...Stage) Option {
	return func(c *config) { c.stages = append([]Stage(nil), s...) }
}

// plan is the stages with the level they start from.
type plan struct {
	start  float64
	stages []Stage
}

// peak is the highest level the plan reaches, its start included.
func (p plan) peak() float64 {
	top := p.start
	for _, s := range p.stages {
		top = max(top, s.Target)
	}
	return top
}

// levelOf is a model's setting as a plan's starting level.
func levelOf(m Model) float64 {
	switch m := m.(type) {
	case Closed:
		return float64(m.VUs)
	case Max:
		return float64(m.Conns)
	case Open:
		return m.Rate
	}
	return 0
}

// validateModel checks a model; under a plan it may start from nothing
// (0 users, connections or requests per second).
func validateModel(m Model, staged bool) error {
	if staged {
		switch v := m.(type) {
		case Closed:
			v.VUs = max(v.VUs, 1)
			m = v
		case Max:
			v.Conns = max(v.Conns, 1)
			m = v
		case Open:
			if v.Rate == 0 {
				v.Rate = 1
			}
			m = v
		}
	}
	return m.validate()
}

// total is the plan's length.
func (p plan) total() time.Duration {
	var d time.Duration
	for _, s := range p.stages {
		d += s.Duration
	}
	return d
}

// at reports the level at t into the run, and the stage in force
// (counting from 1; len+1 once the plan is over) with its target.
func (p plan) at(t time.Duration) (level float64, stage int, target float64) {
	from := p.start
	for i, s := range p.stages {
		if t < s.Duration {
			f := 1.0
			if s.Duration > 0 {
				f = float64(t) / float64(s.Duration)
			}
			return from + (s.Target-from)*f, i + 1, s.Target
		}
		t -= s.Duration
		from = s.Target
	}
	return from, len(p.stages) + 1, from
}

func (p plan) validate(model string) error {
	if len(p.stages) == 0 {
		return nil
	}
	for i, s := range p.stages {
		if s.Duration < 0 {
			return fmt.Errorf("stage %d: duration must not be negative, got %s", i+1, s.Duration)
		}
		if s.Target < 0 || math.IsNaN(s.Target) || math.IsInf(s.Target, 0) {
			return fmt.Errorf("stage %d: target must be 0 or more, got %g", i+1, s.Target)
		}
		if model != "open" && s.Target != math.Trunc(s.Target) {
			return fmt.Errorf("stage %d: %g is not a whole number of users or connections", i+1, s.Target)
		}
	}
	if p.total() <= 0 {
		return fmt.Errorf("the stages last 0s; give each a duration")
	}
	return nil
}

// ramp is the open model's schedule under a plan: the number of requests
// due by t into the plan is the integral of the planned rate, and request
// k starts when that integral reaches k+1.
type ramp struct {
	p plan
}

// count is the integral of the rate from the plan's start to t.
func (r ramp) count(t time.Duration) float64 {
	n, from := 0.0, r.p.start
	for _, s := range r.p.stages {
		d := s.Duration.Seconds()
		if t <= s.Duration {
			x := t.Seconds()
			if d > 0 {
				n += from*x + (s.Target-from)*x*x/(2*d)
			}
			return n
		}
		n += (from + s.Target) / 2 * d
		t -= s.Duration
		from = s.Target
	}
	return n + from*t.Seconds()
}

// when is the time into the plan at which the integral reaches n, or
// false when the plan never gets there.
func (r ramp) when(n float64) (time.Duration, bool) {
	from := r.p.start
	var at time.Duration
	for _, s := range r.p.stages {
		d := s.Duration.Seconds()
		inStage := (from + s.Target) / 2 * d
		if n <= inStage && d > 0 {
			a := (s.Target - from) / (2 * d)
			var x float64
			if math.Abs(a) < 1e-12 {
				x = n / from
			} else {
				x = (-from + math.Sqrt(math.Max(0, from*from+4*a*n))) / (2 * a)
			}
			return at + time.Duration(x*float64(time.Second)), true
		}
		n -= inStage
		at += s.Duration
		from = s.Target
	}
	if from <= 0 {
		return 0, false
	}
	return at + time.Duration(n/from*float64(time.Second)), true
}

// takeOverPlan marks the plan as given up for a live change; g.mu is held.
func (g *Generator) takeOverPlan() {
	if len(g.plan.stages) > 0 {
		g.planOff.Store(true)
		g.load.Overridden = true
	}
}

// followPlan sets the load to the plan's level at t into the run, unless
// a live change took over.
func (g *Generator) followPlan(t time.Duration) {
	if len(g.plan.stages) == 0 || g.planOff.Load() {
		return
	}
	level, stage, target := g.plan.at(t)
	g.mu.Lock()
	if g.planOff.Load() {
		g.mu.Unlock()
		return
	}
	g.load.Stage, g.load.Stages, g.load.Target = stage, len(g.plan.stages), target
	n := -1
	switch g.load.Model {
	case "closed":
		if v := int(math.Round(level)); v != g.load.VUs || t == 0 {
			g.load.VUs, n = v, v
		}
	case "max":
		if v := int(math.Round(level)); v != g.load.Conns || t == 0 {
			g.load.Conns, n = v, v
		}
	case "open":
		g.load.Rate = level
	}
	g.mu.Unlock()
	if n >= 0 {
		g.resize(n)
	}
}
