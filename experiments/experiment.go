// Package experiments holds the study's experiments as data and runs
// them: each declares its knobs, load plan, the seed's reference numbers
// and the lesson it teaches; a Session runs one live on the twin, and a
// sweep runs it across configurations.
package experiments

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"perflab/engine"
)

// Experiment is one of the study's load experiments on the twin.
type Experiment struct {
	Name   string // as given to --experiment
	Title  string // one line for the dashboard's header and home screen
	Lesson string // what the seed concluded, in a sentence or two
	// Knobs are the settings this experiment has, in display order.
	Knobs []*Knob
	Plan  Plan
	// Seed are the study's measurements for configurations it ran.
	Seed []SeedCell
	// SeedSweep is the sequence of configurations the study measured,
	// which the dashboard's seed sweep replays.
	SeedSweep []Settings
}

// Plan is an experiment's load: the seed's virtual users, think time and
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
}

// Site is where the twin answers: the API base URL and the base URL that
// serves the SPA under the configuration in force.
type Site struct {
	API  string
	Page string
}

// Knob is one setting of the twin or the load, changeable live.
type Knob struct {
	Name    string   // flag name: workers, mode, cache, ...
	Key     string   // dashboard key that steps it
	Values  []string // allowed values, in stepping order
	Default string
	Help    string
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

// String renders the settings in the experiment's knob order, e.g.
// "workers=4 mode=sync cache=off".
func (e *Experiment) Describe(s Settings) string {
	parts := make([]string, 0, len(e.Knobs))
	for _, k := range e.Knobs {
		parts = append(parts, k.Name+"="+s[k.Name])
	}
	return strings.Join(parts, " ")
}

// Knob returns the experiment's knob of that name.
func (e *Experiment) Knob(name string) (*Knob, bool) {
	for _, k := range e.Knobs {
		if k.Name == name {
			return k, true
		}
	}
	return nil, false
}

// Defaults returns the experiment's settings before any change.
func (e *Experiment) Defaults() Settings {
	s := Settings{}
	for _, k := range e.Knobs {
		s[k.Name] = k.Default
	}
	return s
}

// Check reports whether value is allowed for knob, with a message that
// names the flag and the allowed values.
func (e *Experiment) Check(knob, value string) error {
	k, ok := e.Knob(knob)
	if !ok {
		return fmt.Errorf("the %s experiment has no knob --%s; its knobs are %s", e.Name, knob, e.knobNames())
	}
	if !slices.Contains(k.Values, value) {
		return fmt.Errorf("--%s %s is not allowed; use one of %s", knob, value, describeValues(k.Values))
	}
	return nil
}

func (e *Experiment) knobNames() string {
	names := make([]string, len(e.Knobs))
	for i, k := range e.Knobs {
		names[i] = "--" + k.Name
	}
	return strings.Join(names, ", ")
}

// describeValues lists allowed values, compressing a numeric run as 1..16.
func describeValues(vs []string) string {
	if len(vs) > 3 && vs[0] == "1" && vs[len(vs)-1] == fmt.Sprint(len(vs)) {
		return "1.." + vs[len(vs)-1]
	}
	return strings.Join(vs, ", ")
}

// Next returns the value after cur in the knob's stepping order, wrapping.
func (k *Knob) Next(cur string) string { return k.step(cur, 1) }

// Prev returns the value before cur, wrapping.
func (k *Knob) Prev(cur string) string { return k.step(cur, -1) }

func (k *Knob) step(cur string, by int) string {
	i := slices.Index(k.Values, cur)
	if i < 0 {
		return k.Default
	}
	return k.Values[(i+by+len(k.Values))%len(k.Values)]
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
