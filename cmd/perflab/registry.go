package main

import (
	"flag"
	"io"
	"strings"

	"perflab/experiments"
	"perflab/tui"
)

// experimentCmd is one --experiment: how it runs from the command line
// (headless with --record, else on the dashboard) and its entry on the
// dashboard's home screen.
type experimentCmd struct {
	name string
	// run runs it as the command line asks.
	run func(o *options, stdout, stderr io.Writer) error
	// entry is its home-screen entry; the command line's flags apply when
	// they opened it, and are checked here, before the screen opens.
	entry func(o *options) (tui.Entry, error)
}

// experimentCmds lists every experiment, in the study's order: the twin's
// from the experiments registry, then the Fishial race.
func experimentCmds() []experimentCmd {
	var cmds []experimentCmd
	for _, e := range experiments.All() {
		cmds = append(cmds, experimentCmd{
			name:  e.Name,
			run:   func(o *options, stdout, stderr io.Writer) error { return runTwinExperiment(e, o, stdout, stderr) },
			entry: func(o *options) (tui.Entry, error) { return twinEntry(e, o) },
		})
	}
	return append(cmds, experimentCmd{name: "fishial", run: runFishial, entry: fishialEntry})
}

func experimentCmdNamed(name string) (experimentCmd, bool) {
	for _, c := range experimentCmds() {
		if c.name == name {
			return c, true
		}
	}
	return experimentCmd{}, false
}

func experimentNames() []string {
	var names []string
	for _, c := range experimentCmds() {
		names = append(names, c.name)
	}
	return names
}

// subcommand is a verb after `perflab`, with its own flags.
type subcommand struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

// subcommands are the verbs after `perflab`.
var subcommands = map[string]subcommand{
	"serve": {
		summary: "run the reference twin alone, for k6, wrk or curl",
		run:     runServe,
	},
	"agent": {
		summary: "a load agent: runs its share of a controller's load, over a shared Redis",
		run:     runAgent,
	},
	"compare": {
		summary: "compare recorded runs: medians with 95% intervals, changes and p-values",
		run:     runCompare,
	},
	"report": {
		summary: "recorded runs as one HTML page of charts and tables (or PNG charts, for slides)",
		run:     runReport,
	},
	"hdr": {
		summary: "merge HDR interval logs and print percentiles for any window",
		run:     runHDR,
	},
	"fishial-node": {
		summary: "one distributed Fishial node, serving the race queue of a shared Redis",
		run:     runFishialNode,
	},
}

// parseVerb parses a subcommand's flags, which may come before, between
// or after its arguments, and returns the arguments. --help prints intro,
// the flags and outro to stdout and returns errHelp; a bad flag is a
// usage error naming the subcommand.
func parseVerb(fs *flag.FlagSet, args []string, intro, outro string, stdout io.Writer) ([]string, error) {
	fs.SetOutput(io.Discard)
	pos, err := parseInterleaved(fs, args)
	if err == flag.ErrHelp {
		var b strings.Builder
		b.WriteString(intro)
		fs.VisitAll(func(f *flag.Flag) { writeFlagHelp(&b, f) })
		b.WriteString(outro)
		io.WriteString(stdout, b.String())
		return nil, errHelp
	}
	if err != nil {
		verb := strings.TrimPrefix(fs.Name(), "perflab ")
		return nil, usagef("%s: %s; see %s --help", verb, flagErrorText(err), fs.Name())
	}
	return pos, nil
}
