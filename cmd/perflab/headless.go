package main

import (
	"fmt"
	"io"

	"perflab/engine"
	"perflab/engine/report"
	"perflab/experiments"
)

// openOutputs makes a headless run's outputs: recordFormat into record
// (when given), the progress line on stderr when it is a terminal, and the
// named stdout formats. Close the result once: it reports write errors
// and closes the record file; calling it again does nothing.
func openOutputs(record, recordFormat string, stdout, stderr io.Writer, formats ...string) (*report.Outputs, func() error, error) {
	outs := &report.Outputs{}
	var file io.Closer
	add := func(name string, w io.Writer) error {
		out, err := report.New(name, report.Dest{W: w, KnobColumns: experiments.KnobColumns()})
		if err != nil {
			return err
		}
		outs.Add(out)
		return nil
	}
	if record != "" {
		f, err := createRecord(record)
		if err != nil {
			return nil, nil, err
		}
		file = f
		if err := add(recordFormat, f); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("--record %s: %w", record, err)
		}
	}
	if isTerminal(stderr) {
		if err := add("progress", stderr); err != nil {
			return nil, nil, err
		}
	}
	for _, name := range formats {
		if err := add(name, stdout); err != nil {
			return nil, nil, err
		}
	}
	closed := false
	closeAll := func() error {
		if closed {
			return nil
		}
		closed = true
		err := outs.Close()
		if file != nil {
			file.Close()
		}
		if err != nil {
			return fmt.Errorf("writing %s: %w", record, err)
		}
		return nil
	}
	return outs, closeAll, nil
}

// headlessRun is a load run without the dashboard, repeated repeat
// times, each on a new generator.
type headlessRun struct {
	newGen func() (*engine.Generator, error)
	repeat int
	record string // CSV path, or empty
	target string // what the run drives, for the opening line
}

// headless runs the generator to its end (or Ctrl-C), repeat times, with a
// progress line on stderr when it is a terminal, CSV rows as they are
// measured, and the summary (or, repeated, the medians with intervals) on
// stdout. A run where every request failed is a failed run.
func headless(r headlessRun, stdout, stderr io.Writer) error {
	outs, closeOuts, err := openOutputs(r.record, "csv", stdout, stderr, "summary", "repeats")
	if err != nil {
		return err
	}
	defer closeOuts()
	ctx, cancel := signalContext()
	defer cancel()

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
		outs.Write(report.Begin{Labels: report.Labels{Run: 1, Repeat: i + 1}, Index: i, Total: r.repeat, Repeats: r.repeat})
		gen.Observe(outs.Snapshot)
		final, err := gen.Run(ctx)
		if err != nil {
			return failedError{err.Error()}
		}
		finals = append(finals, final)
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "perflab: interrupted; the figures cover the runs so far")
	}
	if err := closeOuts(); err != nil {
		return err
	}
	for _, final := range finals {
		all := final.All.Run
		switch {
		case all.Requests == 0:
			return failedError{"no request completed"}
		case all.Errors == all.Requests:
			return failedError{fmt.Sprintf("every request failed (%d of %d)", all.Errors, all.Requests)}
		}
	}
	return nil
}
