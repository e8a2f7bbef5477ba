// Command perflab is a terminal dashboard for live performance
// experiments, and a headless load generator. Run `perflab --help`.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"perflab/server/proc"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func main() {
	proc.Main() // a child role (twin worker, race process) runs and exits here
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if cmd, ok := subcommands[args[0]]; ok {
			return exitCode(cmd.run(args[1:], stdout, stderr), stderr)
		}
	}
	return exitCode(runRoot(args, stdout, stderr), stderr)
}

// usageError is bad input: the run never started. Its text says what was
// wrong and what to do.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// failedError means the run happened but failed (e.g. every request
// failed); its message has already been shown when empty.
type failedError struct{ msg string }

func (e failedError) Error() string { return e.msg }

// errHelp asks for exit 0 after help was printed.
var errHelp = errors.New("help shown")

func exitCode(err error, stderr io.Writer) int {
	var ue usageError
	var fe failedError
	var tf thresholdsFailed
	switch {
	case err == nil, errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "perflab: %s\n", ue.msg)
		return exitUsage
	case errors.As(err, &tf):
		fmt.Fprintf(stderr, "perflab: %s\n", tf.msg)
		return exitThresholds
	case errors.As(err, &fe):
		if fe.msg != "" {
			fmt.Fprintf(stderr, "perflab: %s\n", fe.msg)
		}
		return exitFailed
	default:
		fmt.Fprintf(stderr, "perflab: %v\n", err)
		return exitFailed
	}
}
