// Package report writes what a session measures: outputs that each write
// one format (tidy CSV rows, the end-of-run summary) behind one small
// interface and a registry by name, and the one-line progress display.
package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"perflab/engine"
	"perflab/engine/threshold"
)

// Columns are the load-run CSV columns, in order. The first 23 are fixed
// by the design contract; the rest follow them.
var Columns = []string{
	"kind", "run", "elapsed_s", "experiment", "series",
	"workers", "mode", "cache", "query", "offload", "profile",
	"vus", "rate", "requests", "errors", "rps",
	"min_ms", "mean_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms",
	// Extra columns: the open model's service time beside its corrected
	// latency, the max model's connections, checks and generator health.
	"service_p50_ms", "service_p90_ms", "service_p99_ms",
	"conns", "checks_passed", "checks_failed", "send_lag_p99_ms", "generator_cpu",
	// Repeats: the repeat a row belongs to, and on stat rows, which
	// statistic across the repeats of a configuration the row holds and
	// the interval's confidence.
	"repeat", "statistic", "confidence",
	// Then requests cut off by the end of the run and requests sent again.
	"unfinished", "retries",
	// The load agent an interval row is from, "all" for the merged row of
	// a run spread over agents; empty when there are none.
	"agent",
	// Event rows: what changed during a run (a knob, a stage of the
	// plan). Threshold rows: each threshold against the whole run, its
	// value in the threshold's unit and whether it held.
	"event", "threshold", "threshold_value", "threshold_ok",
}

func init() {
	Register(Format{Name: "csv", Help: "tidy CSV: an interval row per second per series, summary rows per run", New: func(d Dest) (Output, error) {
		c, err := NewCSV(d.W, d.KnobColumns)
		if err == nil {
			c.ths = d.Thresholds
		}
		return c, err
	}})
}

// contractKnobs are the knob columns the design contract places among its
// 23; a knob column not among them is appended after every fixed column.
var contractKnobs = []string{"workers", "mode", "cache", "query", "offload", "profile"}

// CSV writes load-run rows: the header first, an interval row per series
// for every whole second, an event row for each change during a run (a
// knob, a stage of the plan), summary rows and threshold rows at the end
// of each run. Every row reaches the file as it is written, so a run cut
// short leaves a valid file.
type CSV struct {
	mu     sync.Mutex
	w      *csv.Writer
	extra  []string // knob columns after the fixed ones
	labels Labels
	ths    []threshold.Threshold
	// plan is the last stage text written for the run in progress, so a
	// stage is written once, when it starts.
	plan string
	err  error
	// summaries are the summary rows written, for the stat rows that
	// close a session with repeats.
	summaries repeatRows
	// agent names the load agent whose rows are being written.
	agent string
}

// NewCSV writes the header row to w and returns the recorder. knobColumns
// are the knob table's columns; those the contract does not place come
// last.
func NewCSV(w io.Writer, knobColumns []string) (*CSV, error) {
	c := &CSV{w: csv.NewWriter(w)}
	for _, col := range knobColumns {
		if !slices.Contains(contractKnobs, col) {
			c.extra = append(c.extra, col)
		}
	}
	header := append(slices.Clip(Columns), c.extra...)
	c.summaries.header = header
	if err := c.write(header); err != nil {
		return nil, fmt.Errorf("write CSV header: %w", err)
	}
	return c, nil
}

// Write takes a run's labels from Begin, writes rows for snapshots and
// an event row for each Change.
func (c *CSV) Write(ev Event) error {
	switch ev := ev.(type) {
	case Begin:
		c.SetLabels(ev.Labels)
	case *engine.Snapshot:
		return c.Snapshot(ev)
	case Change:
		return c.event(ev.Elapsed, ev.Knob+"="+ev.Value)
	case AgentSnapshot:
		if ev.Snapshot.Second == 0 {
			return nil // an agent's rows are its intervals; the run's summary is the merged one
		}
		c.mu.Lock()
		c.agent = ev.Agent
		c.mu.Unlock()
		err := c.rows("interval", ev.Snapshot, func(x engine.Series) (engine.Figures, engine.Figures) { return x.Last, x.LastService })
		c.mu.Lock()
		c.agent = ""
		c.mu.Unlock()
		return err
	}
	return nil
}

// Close writes the stat rows when some configuration ran more than once,
// and reports the first write error; the caller owns the file.
func (c *CSV) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, row := range c.summaries.statRows() {
		if err := c.write(row); err != nil {
			return err
		}
	}
	return c.err
}

// SetLabels sets the configuration cells for the rows that follow.
func (c *CSV) SetLabels(l Labels) {
	c.mu.Lock()
	c.labels, c.plan = l, ""
	c.mu.Unlock()
}

// Snapshot writes an event row when s starts a stage of the plan (or a
// live change took over from it), interval rows when s closes a whole
// second, and summary and threshold rows when s is the run's final
// snapshot.
func (c *CSV) Snapshot(s *engine.Snapshot) error {
	c.mu.Lock()
	plan := s.Load.Plan()
	started := plan != c.plan && s.Load.Stage <= s.Load.Stages
	if started {
		c.plan = plan
	}
	c.mu.Unlock()
	if started {
		if err := c.event(s.Elapsed, plan); err != nil {
			return err
		}
	}
	switch {
	case s.Done:
		if err := c.rows("summary", s, func(x engine.Series) (engine.Figures, engine.Figures) { return x.Run, x.RunService }); err != nil {
			return err
		}
		return c.thresholdRows(s)
	case s.Second > 0:
		return c.rows("interval", s, func(x engine.Series) (engine.Figures, engine.Figures) { return x.Last, x.LastService })
	}
	return nil
}

// labelRow is a row of kind with the run's label cells filled in and
// every other cell empty.
func (c *CSV) labelRow(kind, elapsed, series string) []string {
	row := make([]string, len(Columns)+len(c.extra))
	row[0], row[1], row[2], row[3], row[4] = kind, strconv.Itoa(c.labels.Run), elapsed, c.labels.Experiment, series
	for i, col := range contractKnobs {
		row[5+i] = c.labels.Knobs[col]
	}
	row[column["repeat"]] = strconv.Itoa(max(1, c.labels.Repeat))
	row[column["agent"]] = c.labels.Agent
	if c.agent != "" {
		row[column["agent"]] = c.agent
	}
	for i, col := range c.extra {
		row[len(Columns)+i] = c.labels.Knobs[col]
	}
	return row
}

// event writes an event row: what happened, at elapsed into the run.
func (c *CSV) event(elapsed time.Duration, what string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	row := c.labelRow("event", strconv.FormatFloat(elapsed.Seconds(), 'f', 3, 64), "")
	row[column["event"]] = what
	return c.write(row)
}

// thresholdRows write each threshold against the run that s ends.
func (c *CSV) thresholdRows(s *engine.Snapshot) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, res := range Evaluate(c.ths, s) {
		series := res.Step
		if series == "" {
			series = engine.AllSeries
		}
		row := c.labelRow("threshold", strconv.FormatFloat(s.Elapsed.Seconds(), 'f', 3, 64), series)
		row[column["threshold"]] = res.Expr
		if !math.IsNaN(res.Value) {
			row[column["threshold_value"]] = strconv.FormatFloat(res.Value, 'f', -1, 64)
		}
		row[column["threshold_ok"]] = strconv.FormatBool(res.OK)
		if err := c.write(row); err != nil {
			return err
		}
	}
	return nil
}

// Err reports the first write error, if any.
func (c *CSV) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *CSV) rows(kind string, s *engine.Snapshot, pick func(engine.Series) (engine.Figures, engine.Figures)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	elapsed := strconv.Itoa(s.Second)
	if kind == "summary" {
		elapsed = strconv.FormatFloat(s.Elapsed.Seconds(), 'f', 3, 64)
	}
	for _, series := range append([]engine.Series{s.All}, s.Steps...) {
		lat, svc := pick(series)
		passed, failed := checksOf(s.Checks, series.Name)
		row := c.row(kind, elapsed, s, series.Name, lat, svc, passed, failed)
		if err := c.write(row); err != nil {
			return err
		}
		if kind == "summary" {
			c.summaries.add(row)
		}
	}
	return nil
}

func checksOf(checks []engine.Check, series string) (passed, failed int64) {
	for _, ch := range checks {
		if series == engine.AllSeries || ch.Step == series {
			passed += ch.Passed
			failed += ch.Failed
		}
	}
	return passed, failed
}

func (c *CSV) row(kind, elapsed string, s *engine.Snapshot, series string, lat, svc engine.Figures, passed, failed int64) []string {
	row := c.labelRow(kind, elapsed, series)
	set := func(col, v string) { row[column[col]] = v }
	setAll := func(cols []string, vs []string) {
		for i, col := range cols {
			set(col, vs[i])
		}
	}
	switch s.Load.Model {
	case "closed":
		set("vus", strconv.Itoa(s.Load.VUs))
	case "open":
		set("rate", strconv.FormatFloat(s.Load.Rate, 'f', -1, 64))
		setAll([]string{"service_p50_ms", "service_p90_ms", "service_p99_ms"}, latencyCells(svc, svc.P50, svc.P90, svc.P99))
		if series == engine.AllSeries {
			set("send_lag_p99_ms", ms(s.Health.SendLagP99))
		}
	case "max":
		set("conns", strconv.Itoa(s.Load.Conns))
	}
	set("requests", strconv.FormatInt(lat.Requests, 10))
	set("errors", strconv.FormatInt(lat.Errors, 10))
	set("rps", strconv.FormatFloat(lat.RPS, 'f', 2, 64))
	setAll([]string{"min_ms", "mean_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms"},
		latencyCells(lat, lat.Min, lat.Mean, lat.P50, lat.P90, lat.P95, lat.P99, lat.Max))
	set("checks_passed", strconv.FormatInt(passed, 10))
	set("checks_failed", strconv.FormatInt(failed, 10))
	if series == engine.AllSeries {
		set("generator_cpu", strconv.FormatFloat(s.Health.CPU, 'f', 3, 64))
	}
	set("unfinished", strconv.FormatInt(lat.Unfinished, 10))
	set("retries", strconv.FormatInt(lat.Retries, 10))
	return row
}

// column is each fixed column's index.
var column = func() map[string]int {
	m := map[string]int{}
	for i, c := range Columns {
		m[c] = i
	}
	return m
}()

// latencyCells formats durations in ms, or empty cells when nothing was
// answered in the window.
func latencyCells(f engine.Figures, ds ...time.Duration) []string {
	out := make([]string, len(ds))
	if f.Answered == 0 {
		return out
	}
	for i, d := range ds {
		out[i] = ms(d)
	}
	return out
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64)
}

func (c *CSV) write(rec []string) error {
	if c.err != nil {
		return c.err
	}
	if err := c.w.Write(rec); err != nil {
		c.err = err
		return err
	}
	c.w.Flush()
	c.err = c.w.Error()
	return c.err
}
