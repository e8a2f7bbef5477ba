// Package experiments holds the study's load experiments as data and runs
// them. The knob table (knobs.go) declares every setting of the twin once;
// each experiment (static.go, likes.go) declares its load plan, the
// study's reference numbers and the lesson it teaches. A Session runs one
// live on the twin; Session.Sweep is the one loop that runs it across
// configurations, for headless runs and the dashboard alike; Live is a
// session as the dashboard drives it, External a run against any URL.
// The Fishial race lives in the fishial sub-package.
package experiments

import (
	"fmt"
	"perflab/engine/report"
	"sort"
	"strings"
	"time"

	"perflab/engine"
)

// Experiment is one of the study's load experiments on the twin.
type Experiment struct {
	Name   string // as given to --experiment
	Title  string // one line for the dashboard's header and home screen
	Lesson string // what the study concluded, in a sentence or two
	Plan   Plan
	// Study are the study's measurements for configurations it ran, in
	// the order it ran them, which the dashboard's study sweep replays.
	Study []StudyCell
	// Claims are the study's conclusions that a sweep with repeats tests.
	Claims []Claim
}

// Plan is an experiment's load: the study's virtual users, think time and
// requests.
type Plan struct {
	VUs      int
	Think    time.Duration
	Duration time.Duration // default length of a headless run
	// Scenario builds the requests against the twin's addresses.
	Scenario func(site Site) engine.Scenario
	// PageStep names the step that fetches the SPA, which follows the
	// page when offload moves it to the edge; "" if there is none.
	PageStep string
	// Measured names the step whose figures are the experiment's result,
	// so the one sign-in of a setup does not weigh on a short run's.
	Measured string
}

// Measured picks the experiment's measured step out of a snapshot, or
// the total when the step is not there.
func (e *Experiment) Measured(s *engine.Snapshot) engine.Series {
	for _, st := range s.Steps {
		if st.Name == e.Plan.Measured {
			return st
		}
	}
	return s.All
}

// Site is where the twin answers: the API base URL and the base URL that
// serves the SPA under the configuration in force.
type Site struct {
	API  string
	Page string
}

// Settings are knob values by knob name, every knob of the experiment
// present and valid.
type Settings map[string]string

// Clone returns an independent copy.
func (s Settings) Clone() Settings {
	out := make(Settings, len(s))
	for k, v := range s {
		out[k] = v
	}
	return out
}

// Describe renders the live knobs' values in the table's order, e.g.
// "workers=4 mode=sync cache=off"; a knob s lacks is left out.
func (e *Experiment) Describe(s Settings) string {
	knobs := e.LiveKnobs()
	parts := make([]string, 0, len(knobs))
	for _, k := range knobs {
		if v, ok := s[k.Name]; ok {
			parts = append(parts, k.Name+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

// LiveKnobs are the experiment's live knobs, in the table's order: the
// ones the dashboard steps, sweeps vary and run descriptions name.
func (e *Experiment) LiveKnobs() []*Knob {
	var out []*Knob
	for _, k := range e.Knobs() {
		if k.Live() {
			out = append(out, k)
		}
	}
	return out
}

// Knobs are every knob of the table the experiment has, live or set at
// start, in the table's order.
func (e *Experiment) Knobs() []*Knob {
	var out []*Knob
	for _, k := range Knobs {
		if k.In(e.Name) {
			out = append(out, k)
		}
	}
	return out
}

// Knob returns the experiment's knob of that name.
func (e *Experiment) Knob(name string) (*Knob, bool) {
	k, ok := KnobNamed(name)
	if !ok || !k.In(e.Name) {
		return nil, false
	}
	return k, true
}

// Defaults returns the experiment's settings before any change.
func (e *Experiment) Defaults() Settings {
	s := Settings{}
	for _, k := range e.Knobs() {
		s[k.Name] = k.Default
	}
	return s
}

// Labels are the CSV cells of a run with settings s: every knob column of
// the table, empty where the experiment lacks the knob.
func (e *Experiment) Labels(s Settings, run int) report.Labels {
	l := report.Labels{Run: run, Experiment: e.Name, Knobs: map[string]string{}}
	for _, k := range Knobs {
		if k.Column != "" && k.In(e.Name) {
			l.Knobs[k.Column] = s[k.Name]
		}
	}
	return l
}

// Check reports whether value is allowed for knob, with a message that
// names the flag and the allowed values.
func (e *Experiment) Check(knob, value string) error {
	k, ok := e.Knob(knob)
	if !ok {
		return fmt.Errorf("the %s experiment has no knob --%s; its knobs are %s", e.Name, knob, e.knobNames())
	}
	return k.Validate(value)
}

func (e *Experiment) knobNames() string {
	var names []string
	for _, k := range e.Knobs() {
		names = append(names, "--"+k.Name)
	}
	return strings.Join(names, ", ")
}

// Apply returns s with the given knob values applied, after checking each.
func (e *Experiment) Apply(s Settings, changes map[string]string) (Settings, error) {
	out := s.Clone()
	names := make([]string, 0, len(changes))
	for n := range changes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := e.Check(n, changes[n]); err != nil {
			return nil, err
		}
		out[n] = changes[n]
	}
	return out, nil
}

var registry = []*Experiment{Static, Likes}

// All lists the load experiments on the twin, in the dashboard's order.
func All() []*Experiment { return registry }

// ByName finds an experiment by its --experiment name.
func ByName(name string) (*Experiment, bool) {
	for _, e := range registry {
		if e.Name == name {
			return e, true
		}
	}
	return nil, false
}
