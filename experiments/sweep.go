package experiments

import (
	"fmt"
	"slices"
	"strings"
)

// Axis is one swept knob and its values, in the order given.
type Axis struct {
	Knob   string
	Values []string
}

// ParseSweeps reads --sweep knob=v1,v2,... flags for experiment e. Every
// knob must belong to e, appear once, and have valid, distinct values.
func (e *Experiment) ParseSweeps(flags []string) ([]Axis, error) {
	var axes []Axis
	for _, f := range flags {
		knob, list, ok := strings.Cut(f, "=")
		knob = strings.TrimSpace(knob)
		if !ok || knob == "" {
			return nil, fmt.Errorf("--sweep %q is not knob=v1,v2,...", f)
		}
		if slices.ContainsFunc(axes, func(a Axis) bool { return a.Knob == knob }) {
			return nil, fmt.Errorf("--sweep names %s twice; give all its values in one --sweep %s=...", knob, knob)
		}
		var values []string
		for _, v := range strings.Split(list, ",") {
			if v = strings.TrimSpace(v); v == "" {
				continue
			}
			if err := e.Check(knob, v); err != nil {
				return nil, fmt.Errorf("--sweep %s: %w", knob, err)
			}
			if slices.Contains(values, v) {
				return nil, fmt.Errorf("--sweep %s lists %s twice", knob, v)
			}
			values = append(values, v)
		}
		if len(values) == 0 {
			return nil, fmt.Errorf("--sweep %s has no values; give knob=v1,v2,...", knob)
		}
		axes = append(axes, Axis{Knob: knob, Values: values})
	}
	return axes, nil
}

// Runs expands axes over base into every configuration, the first axis
// varying slowest, as nested loops in the order the flags were given.
func Runs(base Settings, axes []Axis) []Settings {
	runs := []Settings{base.Clone()}
	for _, a := range axes {
		next := make([]Settings, 0, len(runs)*len(a.Values))
		for _, r := range runs {
			for _, v := range a.Values {
				s := r.Clone()
				s[a.Knob] = v
				next = append(next, s)
			}
		}
		runs = next
	}
	return runs
}
