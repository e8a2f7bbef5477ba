package report

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Recorded is a load-run CSV read back: its summary rows, one per run and
// series, each with the configuration that names it.
type Recorded struct {
	// Knobs are the file's knob columns, in the order of its header.
	Knobs []string
	Runs  []RecordedRun
}

// RecordedRun is one summary row.
type RecordedRun struct {
	Experiment string
	Series     string
	Run        int
	Repeat     int
	Knobs      map[string]string // by column; "" where the knob did not apply
	Figures    map[string]float64
}

// figureColumns are the columns compare reads for each figure.
var figureColumns = map[string]string{"mean": "mean_ms", "p50": "p50_ms", "p90": "p90_ms", "p99": "p99_ms", "req/s": "rps"}

// ErrNotLoadCSV says a file is not a perflab load-run CSV.
var ErrNotLoadCSV = errors.New("not a perflab load-run CSV")

// ReadRecorded reads a load-run CSV written by the csv output.
func ReadRecorded(r io.Reader) (*Recorded, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotLoadCSV, err)
	}
	if len(header) < 23 || !slices.Equal(header[:23], Columns[:23]) {
		if len(header) > 1 && header[0] == "kind" && header[1] == "strategy" {
			return nil, fmt.Errorf("%w: it is a Fishial race's CSV, which compare does not read", ErrNotLoadCSV)
		}
		return nil, fmt.Errorf("%w: its header does not start with %s", ErrNotLoadCSV, strings.Join(Columns[:5], ","))
	}
	col := map[string]int{}
	for i, name := range header {
		col[name] = i
	}
	rec := &Recorded{}
	for _, name := range header {
		if slices.Contains(contractKnobs, name) || !slices.Contains(Columns, name) {
			rec.Knobs = append(rec.Knobs, name)
		}
	}
	for line := 2; ; line++ {
		row, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrNotLoadCSV, line, err)
		}
		if len(row) != len(header) {
			return nil, fmt.Errorf("%w: line %d has %d cells, the header %d", ErrNotLoadCSV, line, len(row), len(header))
		}
		if row[0] != "summary" {
			continue
		}
		if i, ok := col["timing"]; ok && row[i] != "" {
			continue // a Server-Timing metric's row, not a run's
		}
		run := RecordedRun{Experiment: row[col["experiment"]], Series: row[col["series"]], Knobs: map[string]string{}, Figures: map[string]float64{}}
		run.Run, _ = strconv.Atoi(row[col["run"]])
		run.Repeat = 1
		if i, ok := col["repeat"]; ok {
			if n, err := strconv.Atoi(row[i]); err == nil {
				run.Repeat = n
			}
		}
		for _, k := range rec.Knobs {
			run.Knobs[k] = row[col[k]]
		}
		for fig, c := range figureColumns {
			if v, err := strconv.ParseFloat(row[col[c]], 64); err == nil {
				run.Figures[fig] = v
			}
		}
		rec.Runs = append(rec.Runs, run)
	}
	return rec, nil
}

// Config names a run's configuration: its experiment and knob cells,
// without the run number, so that two files' runs of one configuration
// match. Knobs that did not apply are left out.
func (r RecordedRun) Config(knobs []string, except string) string {
	var parts []string
	if r.Experiment != "" {
		parts = append(parts, r.Experiment+":")
	}
	for _, k := range knobs {
		if v := r.Knobs[k]; v != "" && k != except {
			parts = append(parts, k+"="+v)
		}
	}
	if len(parts) == 0 {
		return "(no knobs)"
	}
	return strings.Join(parts, " ")
}
