package main

import (
	"context"
	"fmt"
	"io"

	"perflab/engine"
	"perflab/experiments"
	"perflab/server"
)

// runTwinExperiment runs the static or likes experiment: headless with
// --record (sweeping if asked), else on the dashboard.
func runTwinExperiment(e *experiments.Experiment, o *options, stdout, stderr io.Writer) error {
	if f := o.given(fishialFlags, requestFlags, agentFlags); f != "" {
		return usagef("%s does not apply to the %s experiment", f, e.Name)
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
	if o.record == "" {
		if f := o.given(flagGroup{flags: []string{"repeat", "shuffle", "shuffle-seed"}}); f != "" {
			return usagef("%s runs headless; give --record FILE", f)
		}
		if len(o.sweeps) > 0 && !isTerminal(stdout) {
			return usagef("--sweep needs --record FILE (or a terminal for the dashboard)")
		}
		if !isTerminal(stdout) {
			return usagef("the %s experiment needs a terminal for the dashboard, or --record FILE to run headless", e.Name)
		}
		return dashboard(o, stdout, stderr)
	}
	return sweepHeadless(e, o, experiments.Sweep{Runs: experiments.Runs(settings, axes), Axes: axes, Model: model, Opts: opts}, stdout, stderr)
}

// sweepHeadless runs an experiment's configurations headless, repeated
// and shuffled as asked, into the outputs, and judges the thresholds.
func sweepHeadless(e *experiments.Experiment, o *options, sw experiments.Sweep, stdout, stderr io.Writer) error {
	runs, model := sw.Runs, sw.Model
	if err := checkRecordPath(o.record); err != nil {
		return err
	}
	settings := runs[0]
	ths, err := parseThresholds(o)
	if err != nil {
		return err
	}
	plan, err := parseRepeat(o, len(runs), stderr)
	if err != nil {
		return err
	}
	outs, closeOuts, err := openOutputs(loadOutputs(o, ths, "summary", "study"), stdout, stderr)
	if err != nil {
		return err
	}
	defer closeOuts()
	sig, cancelSig := signalContext()
	defer cancelSig()
	ctx, cancel := context.WithCancelCause(sig)
	defer cancel(nil)
	abort := newAbortWatch(o, ths).bind(cancel)
	fmt.Fprintf(stderr, "perflab: starting the twin for the %s experiment\n", e.Name)
	sess, err := experiments.Open(ctx, e, settings, server.DefaultConfig())
	if err != nil {
		return failedError{err.Error()}
	}
	defer sess.Close()

	sw.Repeat, sw.Shuffle, sw.Out, sw.Measure = plan.repeat, plan.shuffle, outs, abort.watch
	sw.OnRun = func(r experiments.RunInfo) {
		if r.Final != nil {
			return
		}
		label := fmt.Sprintf("run %d/%d  %s", r.Seq+1, r.Runs, e.Describe(r.Settings))
		if plan.repeat > 1 {
			label += fmt.Sprintf("  (repeat %d/%d)", r.Repeat, plan.repeat)
		}
		if r.Warmup > 0 {
			fmt.Fprintf(stderr, "perflab: %s  (warming up %s)\n", label, r.Warmup)
		} else {
			fmt.Fprintf(stderr, "perflab: %s, %s\n", label, model)
		}
	}
	results, err := sess.Sweep(ctx, sw)
	if err != nil {
		return failedError{err.Error()}
	}
	if reason := abort.Reason(); reason != "" {
		fmt.Fprintf(stderr, "perflab: stopped early: %s; %d of %d runs measured, all recorded in %s\n", reason, len(results), len(runs)*plan.repeat, o.record)
	} else if sig.Err() != nil {
		fmt.Fprintf(stderr, "perflab: interrupted; %d of %d runs measured, all recorded in %s\n", len(results), len(runs)*plan.repeat, o.record)
	}
	if err := closeOuts(); err != nil {
		return err
	}
	var finals []*engine.Snapshot
	for _, r := range results {
		if all := r.Final.All.Run; all.Requests > 0 && all.Errors == all.Requests && abort.Reason() == "" {
			return failedError{fmt.Sprintf("every request of %s failed", e.Describe(r.Settings))}
		}
		finals = append(finals, r.Final)
	}
	return judge(ths, finals, abort)
}

// experimentSettings starts from the experiment's defaults and applies the
// knob flags given, refusing knobs the experiment does not have.
func experimentSettings(e *experiments.Experiment, o *options) (experiments.Settings, error) {
	changes := map[string]string{}
	for name, v := range o.knobs {
		if _, ok := e.Knob(name); !ok {
			return nil, usagef("the %s experiment has no knob --%s", e.Name, name)
		}
		changes[name] = v
	}
	s, err := e.Apply(e.Defaults(), changes)
	if err != nil {
		return nil, usagef("%v", err)
	}
	if _, err := experiments.TwinConfig(server.DefaultConfig(), s); err != nil {
		return nil, usagef("%v", err)
	}
	return s, nil
}
