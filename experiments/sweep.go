package experiments

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"perflab/engine"
	"perflab/engine/report"
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
		if k, ok := e.Knob(knob); ok && !k.Live() {
			return nil, fmt.Errorf("--sweep %s: --%s is set when the twin starts and cannot be swept; give it once as --%s", knob, knob, knob)
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

// Warmup is the unrecorded load before each configuration of a sweep, so
// a run starts from a settled twin (workers restarted, caches warm). The
// headless runner and the dashboard's study sweep both use it.
const Warmup = 3 * time.Second

// Sweep runs configurations one after another on one session, each under
// the same load: the one loop behind headless runs, headless sweeps and
// the dashboard's study sweep.
type Sweep struct {
	Runs []Settings
	// Axes are the swept knobs; a run's Config names only them (all live
	// knobs when nothing was swept).
	Axes []Axis
	// Model is the load (nil: the experiment's plan); Opts the measured
	// runs' options, their duration among them.
	Model engine.Model
	Opts  []engine.Option
	// Out receives a Begin before each measured run and that run's
	// snapshots; nil for none. The caller closes it.
	Out report.Output
	// Prepare, if set, sees each run's generator before it starts, the
	// warm-ups' too (to observe it, or pause it).
	Prepare func(gen *engine.Generator)
	// OnRun, if set, hears of each configuration as it starts (Final nil)
	// and as its measured run ends.
	OnRun func(RunInfo)
}

// RunInfo is one configuration of a sweep.
type RunInfo struct {
	Index, Total int // Index counts from 0
	Settings     Settings
	Config       string // the configuration in words
	Warmup       time.Duration
	Final        *engine.Snapshot // the measured run's last snapshot, once it ended
}

// RunResult is one configuration's whole-run figures.
type RunResult struct {
	Settings Settings
	Final    *engine.Snapshot
}

// Sweep runs sw's configurations in order, reconfiguring the twin live
// between them, with a warm-up before each when there is more than one.
// It stops early when ctx ends and returns the runs measured so far.
func (s *Session) Sweep(ctx context.Context, sw Sweep) ([]RunResult, error) {
	var results []RunResult
	warm := time.Duration(0)
	if len(sw.Runs) > 1 {
		warm = Warmup
	}
	for i, settings := range sw.Runs {
		if ctx.Err() != nil {
			break
		}
		info := RunInfo{Index: i, Total: len(sw.Runs), Settings: settings, Config: s.exp.Config(settings, sw.Axes), Warmup: warm}
		if err := s.Configure(ctx, settings); err != nil {
			if ctx.Err() != nil {
				break
			}
			return results, fmt.Errorf("run %d/%d %s: %w", i+1, len(sw.Runs), info.Config, err)
		}
		if sw.OnRun != nil {
			sw.OnRun(info)
		}
		if warm > 0 {
			if _, err := s.sweepRun(ctx, sw, nil, engine.Duration(warm)); err != nil && ctx.Err() == nil {
				return results, fmt.Errorf("run %d/%d %s: warm-up: %w", i+1, len(sw.Runs), info.Config, err)
			}
			if ctx.Err() != nil {
				break
			}
		}
		if sw.Out != nil {
			sw.Out.Write(report.Begin{Labels: s.exp.Labels(settings, i+1), Settings: settings, Index: i, Total: len(sw.Runs), Config: info.Config})
		}
		final, err := s.sweepRun(ctx, sw, sw.Out, sw.Opts...)
		if err != nil {
			return results, fmt.Errorf("run %d/%d %s: %w", i+1, len(sw.Runs), info.Config, err)
		}
		results = append(results, RunResult{Settings: settings, Final: final})
		info.Final = final
		if sw.OnRun != nil {
			sw.OnRun(info)
		}
	}
	return results, nil
}

// sweepRun is one run of a sweep, its snapshots to out when it is set.
func (s *Session) sweepRun(ctx context.Context, sw Sweep, out report.Output, opts ...engine.Option) (*engine.Snapshot, error) {
	gen, err := s.NewRun(sw.Model, opts...)
	if err != nil {
		return nil, err
	}
	if out != nil {
		gen.Observe(func(snap *engine.Snapshot) { out.Write(snap) })
	}
	if sw.Prepare != nil {
		sw.Prepare(gen)
	}
	return s.Drive(ctx, gen)
}

// Config names a configuration by its swept knobs, or by all its live
// knobs when nothing was swept.
func (e *Experiment) Config(s Settings, axes []Axis) string {
	if len(axes) == 0 {
		return e.Describe(s)
	}
	parts := make([]string, len(axes))
	for i, a := range axes {
		parts[i] = a.Knob + "=" + s[a.Knob]
	}
	return strings.Join(parts, " ")
}
