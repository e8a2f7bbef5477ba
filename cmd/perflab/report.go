package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"perflab/engine/report"
	"perflab/experiments/htmlreport"
)

const reportHelp = `perflab report: recorded runs as a page of charts.

Usage:
  perflab report RUN.csv [MORE.csv ...] -o report.html [--png DIR]

Reads CSV files written with --record (load runs of an experiment or
against a URL, sweeps, repeats, Fishial races) and writes one HTML page
that needs no network to open: for each file its figures per
configuration beside the study's (with 95% intervals when configurations
ran several times), the summary, threshold and study tables, and each
run's latency percentiles, throughput and errors over time with its knob
changes and stages marked; for a race, wall time beside the ideal and
CPU per image. --png writes the same charts as PNG files, for slides.

A file cut short (its writer killed) is reported as far as it goes, and
the page says so. --report FILE on a recorded run writes the same page
as the run ends.

Flags:
`

// pngDPI is the PNG charts' resolution: sharp on a projector at a
// slide's full width.
const pngDPI = 150

// runReport is `perflab report`.
func runReport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("perflab report", flag.ContinueOnError)
	out := fs.String("o", "", "write the page to `FILE` (e.g. report.html)")
	pngDir := fs.String("png", "", "write every chart as a PNG file in `DIR` (created if missing)")
	files, err := parseVerb(fs, args, reportHelp, "\nExit status: 0 ok (a file cut short too), 2 bad input.\n", stdout)
	if err != nil {
		return err
	}
	switch {
	case len(files) == 0:
		return usagef("report: give one or more CSV files written with --record")
	case *out == "" && *pngDir == "":
		return usagef("report: say where to write: -o report.html, --png DIR, or both")
	}
	if *out != "" {
		if err := checkOutputPath("-o", *out); err != nil {
			return err
		}
	}
	if *pngDir != "" {
		if err := os.MkdirAll(*pngDir, 0o755); err != nil {
			return usagef("report: --png %s: %v", *pngDir, unwrapPathError(err))
		}
	}
	var recorded []*htmlreport.Recorded
	for _, name := range files {
		f, err := readReportFile(name)
		if err != nil {
			return err
		}
		if cut := f.CutShort(); len(cut) > 0 {
			fmt.Fprintf(stderr, "perflab: %s was cut short (%s); the report shows what it holds\n", name, strings.Join(cut, "; "))
		}
		recorded = append(recorded, f)
	}
	p := htmlreport.Page(recorded)
	if *out != "" {
		html, err := p.Bytes()
		if err != nil {
			return failedError{fmt.Sprintf("report: %v", err)}
		}
		if err := report.WriteAtomically(*out, html); err != nil {
			return failedError{fmt.Sprintf("report: %v", err)}
		}
		fmt.Fprintf(stdout, "wrote %s: %d charts, %s\n", *out, len(p.Charts()), sizeText(len(html)))
	}
	if *pngDir != "" {
		paths, err := p.WritePNGs(*pngDir, pngDPI)
		if err != nil {
			return failedError{fmt.Sprintf("report: %v", err)}
		}
		fmt.Fprintf(stdout, "wrote %d PNG charts in %s\n", len(paths), *pngDir)
	}
	return nil
}

func readReportFile(name string) (*htmlreport.Recorded, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, usagef("report: %s: %v", name, unwrapPathError(err))
	}
	defer f.Close()
	rec, err := htmlreport.Read(name, f)
	switch {
	case errors.Is(err, report.ErrEmpty):
		return nil, usagef("report: %s is empty; give a CSV file perflab wrote with --record", name)
	case errors.Is(err, report.ErrNoRows):
		return nil, usagef("report: %s has a header and no rows: its run measured nothing", name)
	case err != nil:
		return nil, usagef("report: %s: %v; give a CSV file perflab wrote with --record", name, err)
	}
	return rec, nil
}

// sizeText says a size in KB or MB.
func sizeText(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KB", (n+1023)/1024)
}
