package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"

	"perflab/engine"
	"perflab/engine/report"
	"perflab/engine/threshold"
	"perflab/experiments"
)

// outputSpec says which outputs a headless session writes.
type outputSpec struct {
	record       string // --record FILE, or ""
	recordFormat string // what --record writes: "csv", "fishial-csv"
	// files are formats that replace a file whole, by format: "json"
	// for --summary-json, "html" for --report; streams formats written
	// as they go: "hdr-log".
	files      map[string]string
	streams    map[string]string
	stdout     []string // formats printed on stdout
	thresholds []threshold.Threshold
}

// loadOutputs are a load session's outputs from the command line: the
// CSV, the JSON summary, and the given tables on stdout, then the
// thresholds.
func loadOutputs(o *options, ths []threshold.Threshold, stdout ...string) outputSpec {
	spec := outputSpec{record: o.record, recordFormat: "csv", files: map[string]string{}, streams: map[string]string{},
		thresholds: ths, stdout: append(stdout, "thresholds")}
	if o.summaryJSON != "" {
		spec.files["json"] = o.summaryJSON
	}
	if o.hdrLog != "" {
		spec.streams["hdr-log"] = o.hdrLog
	}
	if o.reportPage != "" {
		spec.files["html"] = o.reportPage
	}
	return spec
}

// openOutputs makes a headless session's outputs, plus the progress line
// on stderr when it is a terminal. Close the result once: it reports
// write errors and closes the files; calling it again does nothing.
func openOutputs(spec outputSpec, stdout, stderr io.Writer) (*report.Outputs, func() error, error) {
	outs := &report.Outputs{}
	var files []io.Closer
	fail := func(err error) (*report.Outputs, func() error, error) {
		for _, f := range files {
			f.Close()
		}
		return nil, nil, err
	}
	add := func(name string, d report.Dest) error {
		d.KnobColumns, d.Thresholds = experiments.KnobColumns(), spec.thresholds
		out, err := report.New(name, d)
		if err != nil {
			return err
		}
		outs.Add(out)
		return nil
	}
	if spec.record != "" {
		f, err := createRecord(spec.record)
		if err != nil {
			return fail(err)
		}
		files = append(files, f)
		if err := add(spec.recordFormat, report.Dest{W: f, Path: spec.record}); err != nil {
			return fail(fmt.Errorf("--record %s: %w", spec.record, err))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(spec.streams)) {
		path := spec.streams[name]
		f, err := os.Create(path)
		if err != nil {
			return fail(usagef("%s: %v", path, unwrapPathError(err)))
		}
		files = append(files, f)
		if err := add(name, report.Dest{W: f, Path: path}); err != nil {
			return fail(err)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(spec.files)) {
		if err := add(name, report.Dest{Path: spec.files[name]}); err != nil {
			return fail(err)
		}
	}
	if isTerminal(stderr) {
		if err := add("progress", report.Dest{W: stderr}); err != nil {
			return fail(err)
		}
	}
	for _, name := range spec.stdout {
		if err := add(name, report.Dest{W: stdout}); err != nil {
			return fail(err)
		}
	}
	closed := false
	closeAll := func() error {
		if closed {
			return nil
		}
		closed = true
		err := outs.Close()
		for _, f := range files {
			f.Close()
		}
		return err
	}
	return outs, closeAll, nil
}

// headlessRun is a load run without the dashboard, repeated repeat
// times, each on a new generator.
type headlessRun struct {
	newGen  func() (*engine.Generator, error)
	repeat  int
	outputs outputSpec
	abort   *abortWatch // nil without --abort-on-fail
	target  string      // what the run drives, for the opening line
	// measured names the step whose figures are the result, as the
	// tables of repeats give them; "" is the total.
	measured string
}

// headless runs the generator to its end (or Ctrl-C), repeat times, with a
// progress line on stderr when it is a terminal, CSV rows as they are
// measured, and the summary (or, repeated, the medians with intervals) on
// stdout. A run where every request failed is a failed run.
func headless(r headlessRun, stdout, stderr io.Writer) error {
	outs, closeOuts, err := openOutputs(r.outputs, stdout, stderr)
	if err != nil {
		return err
	}
	defer closeOuts()
	sig, cancelSig := signalContext()
	defer cancelSig()
	ctx, cancel := context.WithCancelCause(sig)
	defer cancel(nil)
	abort := r.abort.bind(cancel)

	var finals []*engine.Snapshot
	for i := range max(1, r.repeat) {
		if ctx.Err() != nil {
			break
		}
		gen, err := r.newGen()
		if err != nil {
			return usagef("%v", err)
		}
		line := describeLoad(r.target, gen.Load(), gen.Duration())
		if r.repeat > 1 {
			line += fmt.Sprintf(" (run %d/%d)", i+1, r.repeat)
		}
		fmt.Fprintln(stderr, line)
		outs.Write(report.Begin{Labels: report.Labels{Run: 1, Repeat: i + 1}, Index: i, Total: r.repeat, Repeats: r.repeat, Measured: r.measured})
		gen.Observe(outs.Snapshot)
		abort.watch(gen)
		final, err := gen.Run(ctx)
		if err != nil {
			return failedError{err.Error()}
		}
		finals = append(finals, final)
	}
	if sig.Err() != nil {
		fmt.Fprintln(stderr, "perflab: interrupted; the figures cover the runs so far")
	}
	if reason := abort.Reason(); reason != "" {
		fmt.Fprintf(stderr, "perflab: stopped early: %s\n", reason)
	}
	if err := closeOuts(); err != nil {
		return err
	}
	for _, final := range finals {
		all := final.All.Run
		switch {
		case all.Requests == 0 && all.Unfinished > 0:
			return failedError{fmt.Sprintf("no request completed: %d unfinished, still waiting for an answer when the run ended", all.Unfinished)}
		case all.Requests == 0:
			return failedError{"no request completed"}
		case all.Errors == all.Requests && abort.Reason() == "":
			return failedError{fmt.Sprintf("every request failed (%d of %d)", all.Errors, all.Requests)}
		}
	}
	return judge(r.outputs.thresholds, finals, abort)
}
