package main

import (
	"fmt"
	"io"

	"perflab/engine"
	"perflab/engine/report"
)

// headlessRun is one load run without the dashboard.
type headlessRun struct {
	gen    *engine.Generator
	record string // CSV path, or empty
	target string // what the run drives, for the opening line
	labels report.Labels
}

// recordCSV creates the record file and writes the load CSV's header.
func recordCSV(path string) (*report.CSV, io.Closer, error) {
	f, err := createRecord(path)
	if err != nil {
		return nil, nil, err
	}
	rows, err := report.NewCSV(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("--record %s: %w", path, err)
	}
	return rows, f, nil
}

// headless runs the generator to its end (or Ctrl-C), with a progress line
// on stderr when it is a terminal, CSV rows as they are measured, and the
// summary on stdout. Every request failing is a failed run.
func headless(r headlessRun, stdout, stderr io.Writer) error {
	if r.record != "" {
		rows, file, err := recordCSV(r.record)
		if err != nil {
			return err
		}
		defer file.Close()
		rows.SetLabels(r.labels)
		r.gen.Observe(func(s *engine.Snapshot) { rows.Snapshot(s) })
		defer func() {
			if err := rows.Err(); err != nil {
				fmt.Fprintf(stderr, "perflab: writing %s: %v\n", r.record, err)
			}
		}()
	}
	ctx, cancel := signalContext()
	defer cancel()

	fmt.Fprintln(stderr, describeLoad(r.target, r.gen.Load(), r.gen.Duration()))
	progressDone := make(chan struct{})
	snaps := r.gen.Subscribe()
	go func() {
		defer close(progressDone)
		tty := isTerminal(stderr)
		for s := range snaps {
			if tty && !s.Done {
				fmt.Fprintf(stderr, "\r%s\x1b[K", report.ProgressLine(s))
			}
		}
		if tty {
			fmt.Fprint(stderr, "\r\x1b[K")
		}
	}()
	final, err := r.gen.Run(ctx)
	<-progressDone
	if err != nil {
		return failedError{err.Error()}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "perflab: interrupted; the figures cover the run so far")
	}
	if err := report.Summary(stdout, final); err != nil {
		return err
	}
	all := final.All.Run
	switch {
	case all.Requests == 0:
		return failedError{"no request completed"}
	case all.Errors == all.Requests:
		return failedError{fmt.Sprintf("every request failed (%d of %d)", all.Errors, all.Requests)}
	}
	return nil
}
