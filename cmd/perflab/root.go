package main

import (
	"context"
	"io"
	"os"
	"os/signal"
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
	case o.url != "":
		return runURL(o, stdout, stderr)
	case o.experiment != "" || o.record != "" || len(o.sweeps) > 0:
		if runExperiment == nil {
			return usagef("experiments are not part of this build; use --url to drive load at a service")
		}
		return runExperiment(o, stdout, stderr)
	default:
		if runDashboard == nil || !isTerminal(stdout) {
			return usagef("the dashboard needs a terminal; for a headless run give --record FILE (with --experiment or --url)")
		}
		return runDashboard(o, stdout, stderr)
	}
}

// runExperiment and runDashboard are set by the files that implement them.
var (
	runExperiment func(o *options, stdout, stderr io.Writer) error
	runDashboard  func(o *options, stdout, stderr io.Writer) error
)

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
