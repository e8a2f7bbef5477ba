package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"perflab/engine/report"
	"perflab/experiments"
)

const compareHelp = `perflab compare: is the difference real?

Usage:
  perflab compare OLD.csv NEW.csv [--fail-above 5%] [--series S]
  perflab compare RUN.csv --by KNOB [--fail-above 5%] [--series S]

Compares load runs recorded with --record, configuration by configuration:
for each figure (mean, p50, p90, p99 latency and req/s) the median across
the runs of a configuration with its 95% interval on each side, the change
when it is significant at the 5% level (Mann-Whitney U test), "~" when it is
not, and p. Record both sides with --repeat N (N >= 4 for a verdict, >= 6
for finite intervals); one run per side gives figures but never a verdict.

With two files, a configuration (experiment and knob values) is compared
with the same configuration in the other file. With --by KNOB, one file's
configurations that differ only in KNOB are compared, the KNOB value that
comes first in the file against each other one.

Flags:
`

// runCompare is `perflab compare`.
func runCompare(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("perflab compare", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	by := fs.String("by", "", "compare the values of `KNOB` within one file")
	failAbove := fs.String("fail-above", "", "exit 1 when a latency figure got significantly worse by more than `P%`")
	series := fs.String("series", "", "compare series `S` (default: the step the experiment measures, or all)")
	files, err := parseVerb(fs, args, compareHelp, "\nExit status: 0 ok, 1 a latency figure got worse beyond --fail-above, 2 bad input.\n", stdout)
	if err != nil {
		return err
	}
	limit := -1.0
	if *failAbove != "" {
		if limit, err = parsePercent(*failAbove); err != nil {
			return usagef("compare: --fail-above %q: %v", *failAbove, err)
		}
	}
	switch {
	case *by == "" && len(files) != 2:
		return usagef("compare: give two recorded CSV files (OLD NEW), or one with --by KNOB; got %d file(s)", len(files))
	case *by != "" && len(files) != 1:
		return usagef("compare --by %s: give one recorded CSV file; got %d", *by, len(files))
	}
	recs := make([]*report.Recorded, len(files))
	for i, f := range files {
		if recs[i], err = readRecorded(f); err != nil {
			return err
		}
	}
	pick := measuredSeries(*series)
	var pairs []report.Pair
	if *by != "" {
		if !hasKnob(recs[0], *by) {
			return usagef("compare --by %s: %s has no knob column %s; its knobs are %s", *by, files[0], *by, strings.Join(recs[0].Knobs, ", "))
		}
		pairs = report.PairBy(recs[0], *by, pick)
		if len(pairs) == 0 {
			return usagef("compare --by %s: %s has no two configurations that differ only in %s", *by, files[0], *by)
		}
	} else {
		pairs = report.PairFiles(recs[0], recs[1], "old", "new", pick)
		if len(pairs) == 0 {
			return usagef("compare: %s and %s have no configuration in common (same experiment, knob values and series)", files[0], files[1])
		}
		fmt.Fprintf(stdout, "old: %s\nnew: %s\n\n", files[0], files[1])
	}
	worse, err := report.WriteComparison(stdout, pairs, limit)
	if err != nil {
		return err
	}
	if len(worse) > 0 {
		for _, r := range worse {
			fmt.Fprintf(stderr, "perflab: worse beyond --fail-above %s: %s\n", *failAbove, r)
		}
		return failedError{}
	}
	return nil
}

// parseInterleaved parses flags that may come before, between or after
// the positional arguments, which it returns.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parsePercent reads "5%" or "5" as 0.05.
func parsePercent(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil || v < 0 || v != v {
		return 0, errors.New("give a percentage at least 0, e.g. 5%")
	}
	return v / 100, nil
}

func readRecorded(path string) (*report.Recorded, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usagef("compare: %s: %v", path, unwrapPathError(err))
	}
	defer f.Close()
	rec, err := report.ReadRecorded(f)
	if err != nil {
		return nil, usagef("compare: %s: %v; give a file perflab wrote with --record", path, err)
	}
	if len(rec.Runs) == 0 {
		return nil, usagef("compare: %s has no summary rows: no run finished", path)
	}
	return rec, nil
}

// measuredSeries picks the series to compare in an experiment's runs:
// the one given, else the step the experiment measures, else the total.
func measuredSeries(given string) func(string) string {
	return func(experiment string) string {
		if given != "" {
			return given
		}
		if e, ok := experiments.ByName(experiment); ok && e.Plan.Measured != "" {
			return e.Plan.Measured
		}
		return "all"
	}
}

func hasKnob(rec *report.Recorded, knob string) bool {
	for _, k := range rec.Knobs {
		if k == knob {
			return true
		}
	}
	return false
}
