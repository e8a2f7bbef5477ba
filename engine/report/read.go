package report

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// A CSV that perflab wrote is read back in two shapes: Recording holds
// all of it (every run's interval rows, events, summary and threshold
// rows), for the report's charts; Recorded holds the summary rows alone,
// for compare. Both come from ReadRecording.

// ErrNotLoadCSV says a file is not a perflab load-run CSV.
var ErrNotLoadCSV = errors.New("not a perflab load-run CSV")

// ErrEmpty says a file holds nothing, not even a header.
var ErrEmpty = errors.New("the file is empty")

// ErrNoRows says a load-run CSV has its header and no row: its run
// measured nothing.
var ErrNoRows = errors.New("it has a header and no rows: nothing was measured")

// Table is a CSV read whole: its header and rows. A file that ends in
// the middle of a row (its writer was killed) loses that row, and
// CutShort says so; every other malformed row is an error.
type Table struct {
	Header []string
	Rows   [][]string
	// CutShort is why the file looks cut short, "" when it does not.
	CutShort string
	col      map[string]int // column index by name
}

// ReadTable reads a CSV file whole.
func ReadTable(r io.Reader) (*Table, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, ErrEmpty
	}
	t := &Table{col: map[string]int{}}
	// Rows reach the file whole, each ending in a newline, so a last line
	// without one is a row cut off in the middle.
	if i := bytes.LastIndexByte(data, '\n'); i < len(data)-1 {
		if i < 0 {
			return nil, fmt.Errorf("its only line has no end: no header was written whole")
		}
		data = data[:i+1]
		t.CutShort = "its last line stops in the middle of a row"
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	if t.Header, err = cr.Read(); err != nil {
		return nil, fmt.Errorf("line 1: %v", err)
	}
	for i, name := range t.Header {
		t.col[name] = i
	}
	for line := 2; ; line++ {
		row, err := cr.Read()
		if err == io.EOF {
			return t, nil
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", line, err)
		}
		if len(row) != len(t.Header) {
			return nil, fmt.Errorf("line %d has %d cells, the header %d", line, len(row), len(t.Header))
		}
		t.Rows = append(t.Rows, row)
	}
}

// HasPrefix reports whether the header starts with columns.
func (t *Table) HasPrefix(columns []string) bool {
	return len(t.Header) >= len(columns) && slices.Equal(t.Header[:len(columns)], columns)
}

// Row is one row of a Table, read by column name.
type Row struct {
	cells []string
	col   map[string]int
}

// Row returns row i.
func (t *Table) Row(i int) Row { return Row{cells: t.Rows[i], col: t.col} }

// Cell is the row's cell in the named column; "" when the file has no
// such column.
func (r Row) Cell(name string) string {
	if i, ok := r.col[name]; ok {
		return r.cells[i]
	}
	return ""
}

// Num is the named cell as a number, NaN when it is empty or absent.
func (r Row) Num(name string) float64 {
	v, err := strconv.ParseFloat(r.Cell(name), 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

// Int is the named cell as an integer, def when it is empty or absent.
func (r Row) Int(name string, def int) int {
	if n, err := strconv.Atoi(r.Cell(name)); err == nil {
		return n
	}
	return def
}

// Recording is a load-run CSV read back whole: its runs, each with its
// rows by kind.
type Recording struct {
	// Knobs are the file's knob columns, in the order of its header.
	Knobs []string
	// Runs are the runs in the order they started: every repeat of every
	// configuration.
	Runs []*RunRecord
	// CutShort says why the file looks cut short ("" when it does not):
	// a run without summary rows, or a last row cut in the middle.
	CutShort []string
}

// RunRecord is one run's rows.
type RunRecord struct {
	Run, Repeat int
	Experiment  string
	Knobs       map[string]string // by column; "" where the knob did not apply
	// Series are the series' names in the order they first appear.
	Series []string
	// Intervals are each series' interval rows, a second each.
	Intervals map[string][]Row
	// Summary is each series' summary row; empty when the run was cut
	// off before it ended.
	Summary    map[string]Row
	Events     []RecordedEvent
	Thresholds []RecordedThreshold
	// Agents name the load agents a run was spread over; their own rows
	// are left out, the merged ones read.
	Agents []string
}

// RecordedEvent is something that changed during a run, At seconds into
// it: a knob ("workers=4") or a stage of the plan.
type RecordedEvent struct {
	At   float64
	What string
}

// RecordedThreshold is a threshold against a whole run: Value in the
// threshold's unit (NaN without data) and whether it held.
type RecordedThreshold struct {
	Expr  string
	Value float64
	OK    bool
}

// ReadRecording reads a load-run CSV written by the csv output. A file
// that is not one, or has no row, is an error; a file cut short is read
// as far as it goes, and CutShort says so.
func ReadRecording(r io.Reader) (*Recording, error) {
	t, err := ReadTable(r)
	if err != nil {
		if errors.Is(err, ErrEmpty) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrNotLoadCSV, err)
	}
	if !t.HasPrefix(Columns[:23]) {
		if len(t.Header) > 1 && t.Header[0] == "kind" && t.Header[1] == "strategy" {
			return nil, fmt.Errorf("%w: it is a Fishial race's CSV", ErrNotLoadCSV)
		}
		return nil, fmt.Errorf("%w: its header does not start with %s", ErrNotLoadCSV, strings.Join(Columns[:5], ","))
	}
	rec := &Recording{}
	for _, name := range t.Header {
		if slices.Contains(contractKnobs, name) || !slices.Contains(Columns, name) {
			rec.Knobs = append(rec.Knobs, name)
		}
	}
	if t.CutShort != "" {
		rec.CutShort = append(rec.CutShort, t.CutShort)
	}
	runs := map[[2]int]*RunRecord{}
	for i := range t.Rows {
		row := t.Row(i)
		kind := row.Cell("kind")
		if kind == "stat" {
			continue // a configuration's, not a run's; the report recomputes them
		}
		key := [2]int{row.Int("run", 0), row.Int("repeat", 1)}
		run := runs[key]
		if run == nil {
			run = &RunRecord{Run: key[0], Repeat: key[1], Experiment: row.Cell("experiment"), Knobs: map[string]string{},
				Intervals: map[string][]Row{}, Summary: map[string]Row{}}
			for _, k := range rec.Knobs {
				run.Knobs[k] = row.Cell(k)
			}
			runs[key] = run
			rec.Runs = append(rec.Runs, run)
		}
		series := row.Cell("series")
		if agent := row.Cell("agent"); agent != "" && agent != "all" {
			// One load agent's own second: the run's rows are the merged ones.
			if !slices.Contains(run.Agents, agent) {
				run.Agents = append(run.Agents, agent)
			}
			continue
		}
		switch kind {
		case "interval", "summary":
			if !slices.Contains(run.Series, series) {
				run.Series = append(run.Series, series)
			}
			if kind == "interval" {
				run.Intervals[series] = append(run.Intervals[series], row)
			} else {
				run.Summary[series] = row
			}
		case "event":
			run.Events = append(run.Events, RecordedEvent{At: row.Num("elapsed_s"), What: row.Cell("event")})
		case "threshold":
			run.Thresholds = append(run.Thresholds, RecordedThreshold{Expr: row.Cell("threshold"),
				Value: row.Num("threshold_value"), OK: row.Cell("threshold_ok") == "true"})
		}
	}
	if len(rec.Runs) == 0 {
		return nil, ErrNoRows
	}
	for _, run := range rec.Runs {
		if len(run.Summary) == 0 {
			rec.CutShort = append(rec.CutShort, fmt.Sprintf("%s has no summary: it was cut off after %d s", run.Name(), run.Seconds()))
		}
	}
	return rec, nil
}

// Name says which run this is: "run 3", "run 3 repeat 2".
func (r *RunRecord) Name() string {
	if r.Repeat > 1 {
		return fmt.Sprintf("run %d repeat %d", r.Run, r.Repeat)
	}
	return fmt.Sprintf("run %d", r.Run)
}

// Seconds is how many whole seconds the run recorded.
func (r *RunRecord) Seconds() int {
	n := 0
	for _, rows := range r.Intervals {
		n = max(n, len(rows))
	}
	return n
}

// Recorded is a load-run CSV's summary rows, one per run and series, each
// with the configuration that names it.
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

// ReadRecorded reads the summary rows of a load-run CSV written by the
// csv output.
func ReadRecorded(r io.Reader) (*Recorded, error) {
	rec, err := ReadRecording(r)
	switch {
	case errors.Is(err, ErrNoRows):
		return &Recorded{}, nil
	case errors.Is(err, ErrEmpty):
		return nil, fmt.Errorf("%w: %v", ErrNotLoadCSV, err)
	case err != nil:
		return nil, err
	}
	out := &Recorded{Knobs: rec.Knobs}
	for _, run := range rec.Runs {
		for _, series := range run.Series {
			row, ok := run.Summary[series]
			if !ok {
				continue
			}
			rr := RecordedRun{Experiment: run.Experiment, Series: series, Run: run.Run, Repeat: run.Repeat, Knobs: run.Knobs, Figures: map[string]float64{}}
			for fig, c := range figureColumns {
				if v := row.Num(c); !math.IsNaN(v) {
					rr.Figures[fig] = v
				}
			}
			out.Runs = append(out.Runs, rr)
		}
	}
	return out, nil
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
