package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"perflab/engine"
	"perflab/engine/report"
	"perflab/experiments"
	"perflab/server"
)

// sweepWarmup is the unrecorded load before each configuration of a sweep,
// so a run starts from a settled twin (workers restarted, caches warm).
const sweepWarmup = 3 * time.Second

func init() {
	for _, e := range experiments.All() {
		experimentRunners[e.Name] = func(o *options, stdout, stderr io.Writer) error {
			return runTwinExperiment(e, o, stdout, stderr)
		}
	}
}

// knobFlags are the twin knobs that map onto experiment settings.
var knobFlags = []string{"workers", "mode", "cache", "query", "offload", "profile", "instance-cpus"}

// fishialFlags belong to the Fishial race only.
var fishialFlags = []string{"images", "time-scale", "strategies", "processes", "nodes", "fishial-429"}

// requestFlags shape a --url request; experiments make their own.
var requestFlags = []string{"method", "header", "body", "insecure"}

// runTwinExperiment runs the static or likes experiment: headless with
// --record (sweeping if asked), else on the dashboard.
func runTwinExperiment(e *experiments.Experiment, o *options, stdout, stderr io.Writer) error {
	for _, group := range [][]string{fishialFlags, requestFlags} {
		for _, name := range group {
			if o.set[name] {
				return usagef("--%s does not apply to the %s experiment", name, e.Name)
			}
		}
	}
	settings, err := experimentSettings(e, o)
	if err != nil {
		return err
	}
	axes, err := e.ParseSweeps(o.sweeps)
	if err != nil {
		return usagef("%v", err)
	}
	model, err := loadModel(o, e.DefaultModel())
	if err != nil {
		return err
	}
	opts, err := loadOptions(o, e.Plan.Duration)
	if err != nil {
		return err
	}
	base := server.DefaultConfig()
	if o.set["redis"] {
		base.Redis = o.redis
	}
	if _, err := experiments.TwinConfig(base, settings); err != nil {
		return usagef("%v", err)
	}
	if o.record == "" {
		if len(o.sweeps) > 0 && !isTerminal(stdout) {
			return usagef("--sweep needs --record FILE (or a terminal for the dashboard)")
		}
		if runDashboard == nil || !isTerminal(stdout) {
			return usagef("the %s experiment needs a terminal for the dashboard, or --record FILE to run headless", e.Name)
		}
		return runDashboard(o, stdout, stderr)
	}
	if err := checkRecordPath(o.record); err != nil {
		return err
	}
	return sweep(sweepPlan{
		exp: e, base: base, runs: experiments.Runs(settings, axes), axes: axes,
		model: model, opts: opts, record: o.record,
	}, stdout, stderr)
}

// experimentSettings starts from the experiment's defaults and applies the
// knob flags given, refusing knobs the experiment does not have.
func experimentSettings(e *experiments.Experiment, o *options) (experiments.Settings, error) {
	changes := map[string]string{}
	for _, name := range knobFlags {
		if !o.set[name] {
			continue
		}
		if _, ok := e.Knob(name); !ok {
			return nil, usagef("the %s experiment has no knob --%s", e.Name, name)
		}
		changes[name] = knobFlagValue(o, name)
	}
	s, err := e.Apply(e.Defaults(), changes)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return s, nil
}

func knobFlagValue(o *options, name string) string {
	switch name {
	case "workers":
		return fmt.Sprint(o.workers)
	case "instance-cpus":
		return fmt.Sprint(o.instanceCPUs)
	case "mode":
		return o.mode
	case "cache":
		return o.cache
	case "query":
		return o.query
	case "offload":
		return o.offload
	case "profile":
		return o.profile
	}
	return ""
}

type sweepPlan struct {
	exp    *experiments.Experiment
	base   server.Config
	runs   []experiments.Settings
	axes   []experiments.Axis
	model  engine.Model
	opts   []engine.Option
	record string
}

// runResult is one configuration's whole-run figures.
type runResult struct {
	settings experiments.Settings
	final    *engine.Snapshot
}

// sweep runs each configuration in turn on one twin, reconfigured live
// between runs, recording every run into one CSV.
func sweep(p sweepPlan, stdout, stderr io.Writer) error {
	rows, file, err := recordCSV(p.record)
	if err != nil {
		return err
	}
	defer file.Close()
	ctx, cancel := signalContext()
	defer cancel()
	tty := isTerminal(stderr)
	fmt.Fprintf(stderr, "perflab: starting the twin for the %s experiment\n", p.exp.Name)
	sess, err := experiments.Open(ctx, p.exp, p.runs[0], p.base)
	if err != nil {
		return failedError{err.Error()}
	}
	defer sess.Close()

	var results []runResult
	for i, settings := range p.runs {
		if ctx.Err() != nil {
			break
		}
		label := fmt.Sprintf("run %d/%d  %s", i+1, len(p.runs), p.exp.Describe(settings))
		if err := sess.Configure(ctx, settings); err != nil {
			if ctx.Err() != nil {
				break
			}
			return failedError{fmt.Sprintf("%s: %v", label, err)}
		}
		if len(p.runs) > 1 {
			fmt.Fprintf(stderr, "perflab: %s  (warming up %s)\n", label, sweepWarmup)
			if _, err := sess.Run(ctx, p.model, nil, engine.Duration(sweepWarmup)); err != nil && ctx.Err() == nil {
				return failedError{fmt.Sprintf("%s: warm-up: %v", label, err)}
			}
			if ctx.Err() != nil {
				break
			}
		} else {
			fmt.Fprintf(stderr, "perflab: %s, %s\n", label, p.model)
		}
		rows.SetLabels(labels(p.exp, settings, i+1))
		final, err := sess.Run(ctx, p.model, func(s *engine.Snapshot) {
			rows.Snapshot(s)
			if tty && !s.Done {
				fmt.Fprintf(stderr, "\r%s  %s\x1b[K", fmt.Sprintf("%d/%d", i+1, len(p.runs)), report.ProgressLine(s))
			}
		}, p.opts...)
		if tty {
			fmt.Fprint(stderr, "\r\x1b[K")
		}
		if err != nil {
			return failedError{fmt.Sprintf("%s: %v", label, err)}
		}
		results = append(results, runResult{settings: settings, final: final})
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("write %s: %w", p.record, err)
	}
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "perflab: interrupted; %d of %d runs measured, all recorded in %s\n", len(results), len(p.runs), p.record)
	}
	if len(results) == 1 {
		if err := report.Summary(stdout, results[0].final); err != nil {
			return err
		}
	}
	writeSeedTable(stdout, p, results)
	for _, r := range results {
		if all := r.final.All.Run; all.Requests > 0 && all.Errors == all.Requests {
			return failedError{fmt.Sprintf("every request of %s failed", p.exp.Describe(r.settings))}
		}
	}
	return nil
}

// labels are the CSV's configuration cells; knobs the experiment lacks
// stay empty.
func labels(e *experiments.Experiment, s experiments.Settings, run int) report.Labels {
	cell := func(knob string) string {
		if _, ok := e.Knob(knob); ok {
			return s[knob]
		}
		return ""
	}
	return report.Labels{
		Run: run, Experiment: e.Name,
		Workers: cell("workers"), Mode: cell("mode"), Cache: cell("cache"),
		Query: cell("query"), Offload: cell("offload"), Profile: cell("profile"),
	}
}

// writeSeedTable puts each run's figures beside the seed's for the same
// configuration, where the study measured it.
func writeSeedTable(w io.Writer, p sweepPlan, results []runResult) {
	if len(results) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "\n%s experiment, perflab beside the seed (ms, req/s)\n", p.exp.Name)
	fmt.Fprintln(tw, "run\tconfiguration\tmean\tp50\tp90\trps\t\tseed mean\tp50\tp90\trps\t")
	for i, r := range results {
		f := p.exp.Measured(r.final).Run
		line := fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%.1f\t\t", i+1, shortConfig(p, r.settings), msCell(f.Mean), msCell(f.P50), msCell(f.P90), f.RPS)
		if seed, ok := p.exp.SeedFor(r.settings); ok {
			line += fmt.Sprintf("%s\t%s\t%s\t%s\t", msCell(seed.Mean), msCell(seed.P50), msCell(seed.P90), rpsCell(seed.RPS))
		} else {
			line += "-\t-\t-\t-\t"
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	fmt.Fprintln(w)
}

// shortConfig names a run by its swept knobs, or all knobs when nothing
// was swept.
func shortConfig(p sweepPlan, s experiments.Settings) string {
	if len(p.axes) == 0 {
		return p.exp.Describe(s)
	}
	parts := make([]string, len(p.axes))
	for i, a := range p.axes {
		parts[i] = a.Knob + "=" + s[a.Knob]
	}
	return strings.Join(parts, " ")
}

func msCell(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond))
}

func rpsCell(r float64) string {
	if r == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", r)
}
