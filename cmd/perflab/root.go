package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/term"
)

// runRoot is `perflab [flags]`: the dashboard, a headless experiment, or a
// load run against a URL.
func runRoot(args []string, stdout, stderr io.Writer) error {
	o, err := parseRoot(args, stdout)
	if err != nil {
		return err
	}
	switch {
	case o.scenario != "":
		return runScenario(o, stdout, stderr)
	case o.dryRun:
		return usagef("--dry-run applies to a scenario; add --scenario FILE")
	case o.url != "":
		return runURL(o, stdout, stderr)
	case o.experiment != "" || o.record != "" || len(o.sweeps) > 0:
		return runExperiment(o, stdout, stderr)
	default:
		if !isTerminal(stdout) {
			return usagef("the dashboard needs a terminal; for a headless run give --record FILE (with --experiment or --url)")
		}
		return dashboard(o, stdout, stderr)
	}
}

// runExperiment dispatches --experiment.
func runExperiment(o *options, stdout, stderr io.Writer) error {
	names := strings.Join(experimentNames(), ", ")
	if o.experiment == "" {
		return usagef("--record and --sweep need --experiment NAME (%s) or --url URL", names)
	}
	c, ok := experimentCmdNamed(o.experiment)
	if !ok {
		return usagef("unknown experiment %q; choose one of: %s", o.experiment, names)
	}
	return c.run(o, stdout, stderr)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// signalContext is cancelled by the first SIGINT or SIGTERM; a second
// one kills the process the usual way.
func signalContext() (context.Context, context.CancelFunc) {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		cancel() // restores default handling: a second signal ends us
	}()
	return ctx, cancel
}
