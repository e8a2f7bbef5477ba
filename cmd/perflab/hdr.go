package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"perflab/engine/report"
)

const hdrHelp = `perflab hdr: percentiles of merged HDR interval logs.

Usage:
  perflab hdr FILE.hlog... [--series S] [--from D] [--to D]

Reads HdrHistogram interval logs written with --hdr-log (or by any tool
that writes the standard format, values in microseconds), merges the
histograms of each series across the files exactly, and prints count,
rate and percentiles. Several logs of one run on several machines, or of
several runs, merge into the histogram of all of them. --from and --to
keep the intervals that start in that window, measured from each log's
start.

Flags:
`

// runHDR is `perflab hdr`.
func runHDR(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("perflab hdr", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	series := fs.String("series", "", "only series `S` (a step name, or all); a sweep's runs of it are merged")
	from := fs.Duration("from", 0, "keep intervals starting at `D` or later into the log")
	to := fs.Duration("to", 0, "keep intervals starting before `D` into the log (default: to the end)")
	files, err := parseVerb(fs, args, hdrHelp, "", stdout)
	if err != nil {
		return err
	}
	switch {
	case len(files) == 0:
		return usagef("hdr: give one or more interval logs (perflab --hdr-log FILE writes one)")
	case *from < 0 || *to < 0:
		return usagef("hdr: --from and --to must not be negative")
	case *to > 0 && *to <= *from:
		return usagef("hdr: --to %s must be after --from %s", *to, *from)
	}
	logs := map[string]io.Reader{}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return usagef("hdr: %s: %v", name, unwrapPathError(err))
		}
		defer f.Close()
		logs[name] = f
	}
	keep := func(tag string) bool {
		return *series == "" || tag == *series || strings.HasPrefix(tag, *series+"@")
	}
	merged, err := report.ReadHDRLogs(logs, files, keep, report.LogWindow{From: *from, To: *to})
	if err != nil {
		return usagef("hdr: %v", err)
	}
	if len(merged) == 0 {
		what := "any series"
		if *series != "" {
			what = "series " + *series
		}
		return usagef("hdr: no interval of %s in the window; see the tags with perflab hdr %s", what, strings.Join(files, " "))
	}
	fmt.Fprintf(stdout, "%d log(s): %s\n", len(files), strings.Join(files, ", "))
	return report.WriteMerged(stdout, merged)
}
