package experiments

import (
	"context"
	"fmt"
	"math/rand/v2"
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
	// Repeat runs every configuration that many times (0 counts as 1),
	// interleaved: A B C A B C, so that drift on the machine hits every
	// configuration alike.
	Repeat int
	// Shuffle, when set, shuffles the order of the configurations within
	// each round.
	Shuffle *rand.Rand
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
	// warm-ups' too (to observe it, or pause it); Measure the measured
	// runs' only (to hold them to thresholds).
	Prepare func(gen *engine.Generator)
	Measure func(gen *engine.Generator)
	// OnRun, if set, hears of each run as it starts (Final nil) and as
	// its measured part ends.
	OnRun func(RunInfo)
}

// RunInfo is one run of a sweep: one repeat of one configuration.
type RunInfo struct {
	Index, Total int // the configuration, counting from 0, of Total
	Repeat       int // counting from 1
	Seq, Runs    int // the run's place in the whole schedule, from 0, of Runs
	Settings     Settings
	Config       string // the configuration in words
	Warmup       time.Duration
	Final        *engine.Snapshot // the measured run's last snapshot, once it ended
}

// RunResult is one run's whole-run figures.
type RunResult struct {
	Index    int // the configuration, counting from 0
	Repeat   int // counting from 1
	Settings Settings
	Final    *engine.Snapshot
}

// Schedule is the order of a sweep's runs: rounds of every configuration,
// each round in order or shuffled.
func (sw Sweep) Schedule() []RunInfo {
	repeat := max(1, sw.Repeat)
	var runs []RunInfo
	for r := 1; r <= repeat; r++ {
		order := make([]int, len(sw.Runs))
		for i := range order {
			order[i] = i
		}
		if sw.Shuffle != nil {
			sw.Shuffle.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		for _, i := range order {
			runs = append(runs, RunInfo{Index: i, Total: len(sw.Runs), Repeat: r, Settings: sw.Runs[i]})
		}
	}
	for i := range runs {
		runs[i].Seq, runs[i].Runs = i, len(runs)
	}
	return runs
}

// Sweep runs sw's schedule, reconfiguring the twin live between runs,
// with a warm-up before each when there is more than one run. It stops
// early when ctx ends and returns the runs measured so far.
func (s *Session) Sweep(ctx context.Context, sw Sweep) ([]RunResult, error) {
	var results []RunResult
	schedule := sw.Schedule()
	warm := time.Duration(0)
	if len(schedule) > 1 {
		warm = Warmup
	}
	for _, info := range schedule {
		if ctx.Err() != nil {
			break
		}
		info.Config, info.Warmup = s.exp.Config(info.Settings, sw.Axes), warm
		final, err := s.sweepOne(ctx, sw, info)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return results, fmt.Errorf("run %d/%d %s: %w", info.Seq+1, info.Runs, info.Config, err)
		}
		if final == nil {
			break // interrupted during the warm-up
		}
		results = append(results, RunResult{Index: info.Index, Repeat: info.Repeat, Settings: info.Settings, Final: final})
		info.Final = final
		if sw.OnRun != nil {
			sw.OnRun(info)
		}
	}
	return results, nil
}

// sweepOne configures the twin for one run, warms it up and measures it.
func (s *Session) sweepOne(ctx context.Context, sw Sweep, info RunInfo) (*engine.Snapshot, error) {
	if err := s.Configure(ctx, info.Settings); err != nil {
		return nil, err
	}
	if sw.OnRun != nil {
		sw.OnRun(info)
	}
	if info.Warmup > 0 {
		if _, err := s.sweepRun(ctx, sw, false, engine.Duration(info.Warmup)); err != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
		if ctx.Err() != nil {
			return nil, nil
		}
	}
	if sw.Out != nil {
		labels := s.exp.Labels(info.Settings, info.Index+1)
		labels.Repeat = info.Repeat
		sw.Out.Write(report.Begin{Labels: labels, Settings: info.Settings, Index: info.Seq, Total: info.Runs,
			Config: info.Config, Measured: s.exp.Plan.Measured, Repeats: max(1, sw.Repeat)})
	}
	return s.sweepRun(ctx, sw, true, sw.Opts...)
}

// sweepRun is one run of a sweep: a measured one's snapshots go to the
// sweep's output.
func (s *Session) sweepRun(ctx context.Context, sw Sweep, measured bool, opts ...engine.Option) (*engine.Snapshot, error) {
	gen, err := s.NewRun(sw.Model, opts...)
	if err != nil {
		return nil, err
	}
	if out := sw.Out; measured && out != nil {
		gen.Observe(func(snap *engine.Snapshot) { out.Write(snap) })
	}
	if sw.Prepare != nil {
		sw.Prepare(gen)
	}
	if measured && sw.Measure != nil {
		sw.Measure(gen)
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
