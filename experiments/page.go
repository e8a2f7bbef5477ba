package experiments

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"perflab/engine"
	"perflab/engine/report"
	"perflab/engine/report/page"
	"perflab/engine/threshold"
)

// A recorded load session on the report page: the session's figures
// per configuration beside the study's (a dot per configuration, with
// its interval when it ran several times), the tables the terminal
// prints at the end (summary, thresholds, the study table), then each
// run's latency and throughput over time with its events marked.

// foldAbove is how many runs a session may have before the page folds
// each run's charts under its title.
const foldAbove = 8

// recordedSession is a recorded session grouped by configuration.
type recordedSession struct {
	rec      *report.Recording
	prefix   string      // chart names start with it
	exp      *Experiment // nil for a run against a URL
	measured string      // the series the figures are of
	configs  []*recordedConfig
	// varying are the knobs whose value differs between configurations,
	// in the table's order; the others are the same in every run.
	varying, fixed []*Knob
}

type recordedConfig struct {
	run      int
	settings Settings
	runs     []*report.RunRecord
}

// LoadSection is the page's section for a load session that the csv
// output recorded; prefix starts its charts' names.
func LoadSection(title, prefix string, rec *report.Recording) *page.Section {
	v := &recordedSession{rec: rec, prefix: prefix, measured: engine.AllSeries}
	if e, ok := ByName(rec.Runs[0].Experiment); ok {
		v.exp = e
		if e.Plan.Measured != "" {
			v.measured = e.Plan.Measured
		}
	}
	for _, run := range rec.Runs {
		i := slices.IndexFunc(v.configs, func(c *recordedConfig) bool { return c.run == run.Run })
		if i < 0 {
			v.configs = append(v.configs, &recordedConfig{run: run.Run, settings: settingsOf(run.Knobs)})
			i = len(v.configs) - 1
		}
		v.configs[i].runs = append(v.configs[i].runs, run)
	}
	for _, k := range Knobs {
		if k.Column == "" || !slices.ContainsFunc(v.configs, func(c *recordedConfig) bool { return c.settings[k.Name] != "" }) {
			continue
		}
		if slices.ContainsFunc(v.configs, func(c *recordedConfig) bool { return c.settings[k.Name] != v.configs[0].settings[k.Name] }) {
			v.varying = append(v.varying, k)
		} else {
			v.fixed = append(v.fixed, k)
		}
	}

	s := &page.Section{Title: title, Warnings: cutShort(rec.CutShort), Notes: v.intro()}
	if len(v.configs) > 1 || v.repeats() > 1 {
		s.Charts = v.configCharts()
	}
	s.Tables = append(s.Tables, v.summaryTable())
	if t := v.thresholdTable(); t != nil {
		s.Tables = append(s.Tables, t)
	}
	if g := v.studyGrid(); g != nil {
		s.Tables = append(s.Tables, &page.Table{Caption: g.title, Header: g.header, Rows: g.rows})
		s.After = append(s.After, g.notes...)
		if len(g.claims) > 0 {
			t := &page.Table{Caption: claimsTitle, Header: []string{"conclusion", "verdict"}}
			for _, c := range g.claims {
				claim, verdict, _ := strings.Cut(c, "): ")
				t.Rows = append(t.Rows, []string{claim + ")", verdict})
			}
			s.Tables = append(s.Tables, t)
		}
	}
	for _, c := range v.configs {
		for _, run := range c.runs {
			rs := v.runSection(c, run)
			rs.Folded = len(rec.Runs) > foldAbove
			s.Sections = append(s.Sections, rs)
		}
	}
	return s
}

// cutShort words a file's cut-short reasons as the page's warning.
func cutShort(reasons []string) []string {
	if len(reasons) == 0 {
		return nil
	}
	return []string{"This recording was cut short (" + strings.Join(reasons, "; ") + "); the page shows what it holds."}
}

// settingsOf reads knob values from a row's knob columns.
func settingsOf(columns map[string]string) Settings {
	s := Settings{}
	for _, k := range Knobs {
		if v := columns[k.Column]; k.Column != "" && v != "" {
			s[k.Name] = v
		}
	}
	return s
}

func (v *recordedSession) repeats() int {
	n := 0
	for _, c := range v.configs {
		n = max(n, len(c.runs))
	}
	return n
}

// label names a configuration by the knobs that vary: "mode=sync workers=1".
func (v *recordedSession) label(c *recordedConfig) string {
	var parts []string
	for _, k := range v.varying {
		parts = append(parts, k.Name+"="+c.settings[k.Name])
	}
	if len(parts) == 0 {
		return "run " + strconv.Itoa(c.run)
	}
	return strings.Join(parts, " ")
}

// tick is a configuration's short name under a chart: the varying
// knobs' values, "sync 1".
func (v *recordedSession) tick(c *recordedConfig) string {
	var parts []string
	for _, k := range v.varying {
		parts = append(parts, c.settings[k.Name])
	}
	if len(parts) == 0 {
		return "run " + strconv.Itoa(c.run)
	}
	return strings.Join(parts, " ")
}

func (v *recordedSession) intro() []string {
	var lines []string
	first := v.rec.Runs[0]
	what := "Load runs against a URL"
	if v.exp != nil {
		what = fmt.Sprintf("The %s experiment (%s)", v.exp.Name, v.exp.Title)
	}
	runs := plural(len(v.rec.Runs), "run") + " of " + lengths(v.rec.Runs)
	if len(v.rec.Runs) > 1 {
		runs += " each"
	}
	if len(v.configs) > 1 {
		runs = plural(len(v.configs), "configuration") + ", " + runs
	}
	of := "every request (the all series)"
	if v.measured != engine.AllSeries {
		of = "the " + v.measured + " step"
	}
	lines = append(lines, fmt.Sprintf("%s: %s; %s. Figures are of %s.", what, runs, loadOf(first), of))
	if n := len(first.Agents); n > 0 {
		lines = append(lines, fmt.Sprintf("The load was spread over %s; the figures are their merged ones.", plural(n, "agent")))
	}
	if len(v.fixed) > 0 {
		var parts []string
		for _, k := range v.fixed {
			parts = append(parts, k.Name+"="+v.configs[0].settings[k.Name])
		}
		lines = append(lines, "Every run: "+strings.Join(parts, " ")+".")
	}
	if v.exp != nil && v.exp.Lesson != "" {
		lines = append(lines, "The study's lesson: "+v.exp.Lesson)
	}
	return lines
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// lengths says how long the runs were: "30 s", "29 to 31 s".
func lengths(runs []*report.RunRecord) string {
	lo, hi := math.Inf(1), 0.0
	for _, r := range runs {
		s := runSeconds(r)
		lo, hi = math.Min(lo, s), math.Max(hi, s)
	}
	if math.Round(lo) == math.Round(hi) {
		return fmt.Sprintf("%.0f s", hi)
	}
	return fmt.Sprintf("%.0f to %.0f s", lo, hi)
}

// runSeconds is a run's length: its summary's, or the seconds it
// recorded when it was cut short.
func runSeconds(r *report.RunRecord) float64 {
	for _, row := range r.Summary {
		if s := row.Num("elapsed_s"); !math.IsNaN(s) {
			return s
		}
	}
	return float64(r.Seconds())
}

// loadOf describes a run's arrival model from its summary (the setting
// it ended with), or from its first second when it was cut short; a plan
// of stages is marked on the charts.
func loadOf(r *report.RunRecord) string {
	if len(r.Series) == 0 {
		return "nothing measured"
	}
	row, ok := r.Summary[r.Series[0]]
	if !ok {
		row = r.Intervals[r.Series[0]][0]
	}
	if slices.ContainsFunc(r.Events, func(e report.RecordedEvent) bool { return strings.HasPrefix(e.What, "stage ") }) {
		return loadModel(row) + " at the end of a plan of stages (marked on the charts)"
	}
	return loadModel(row)
}

func loadModel(row report.Row) string {
	switch {
	case row.Cell("rate") != "":
		return "open model, " + row.Cell("rate") + " req/s scheduled"
	case row.Cell("conns") != "":
		return "max model, " + row.Cell("conns") + " connections"
	case row.Cell("vus") != "":
		return "closed model, " + row.Cell("vus") + " users"
	}
	return "load model not recorded"
}

// series picks the run's measured series, or the total when the run
// lacks it.
func (v *recordedSession) series(r *report.RunRecord) string {
	if slices.Contains(r.Series, v.measured) {
		return v.measured
	}
	return engine.AllSeries
}

// figureOf is one figure of each of a configuration's runs that ended.
func (v *recordedSession) figureOf(c *recordedConfig, column string) []float64 {
	var out []float64
	for _, r := range c.runs {
		if row, ok := r.Summary[v.series(r)]; ok {
			if x := row.Num(column); !math.IsNaN(x) {
				out = append(out, x)
			}
		}
	}
	return out
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// summaryTable has a line per run: its figures over the whole run.
func (v *recordedSession) summaryTable() *page.Table {
	repeats := v.repeats() > 1
	open := slices.ContainsFunc(v.rec.Runs, func(r *report.RunRecord) bool { return r.Summary[v.series(r)].Cell("service_p50_ms") != "" })
	t := &page.Table{Caption: "Summary of each run (" + v.measured + "; latency in ms)"}
	t.Header = v.runHeader(repeats, "s", "requests", "errors", "req/s", "mean", "p50", "p90", "p95", "p99", "max")
	if open {
		t.Header = append(t.Header, "service p50", "service p99", "send lag p99")
	}
	t.Header = append(t.Header, "checks", "unfinished", "retries")
	for _, c := range v.configs {
		for _, r := range c.runs {
			row := v.runCells(c, r, repeats)
			sum, ok := r.Summary[v.series(r)]
			if !ok {
				row = append(row, fmt.Sprintf("cut short at %d", r.Seconds()))
				for range len(t.Header) - len(row) {
					row = append(row, "-")
				}
				t.Rows = append(t.Rows, row)
				continue
			}
			row = append(row, num(sum, "elapsed_s", 1), sum.Cell("requests"), sum.Cell("errors"), num(sum, "rps", -1))
			for _, col := range []string{"mean_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms"} {
				row = append(row, num(sum, col, -1))
			}
			if open {
				all := r.Summary[engine.AllSeries]
				row = append(row, num(sum, "service_p50_ms", -1), num(sum, "service_p99_ms", -1), num(all, "send_lag_p99_ms", -1))
			}
			checks := "-"
			if p, f := sum.Num("checks_passed"), sum.Num("checks_failed"); p+f > 0 {
				checks = fmt.Sprintf("%.0f of %.0f", p, p+f)
			}
			t.Rows = append(t.Rows, append(row, checks, sum.Cell("unfinished"), sum.Cell("retries")))
		}
	}
	return t
}

// runHeader are the columns that name a run, then the given ones.
func (v *recordedSession) runHeader(repeats bool, more ...string) []string {
	h := []string{"run"}
	if repeats {
		h = append(h, "repeat")
	}
	if len(v.varying) > 0 {
		h = append(h, "configuration")
	}
	return append(h, more...)
}

func (v *recordedSession) runCells(c *recordedConfig, r *report.RunRecord, repeats bool) []string {
	row := []string{strconv.Itoa(r.Run)}
	if repeats {
		row = append(row, strconv.Itoa(r.Repeat))
	}
	if len(v.varying) > 0 {
		row = append(row, v.label(c))
	}
	return row
}

// num formats a cell's number with about four significant digits, or
// with prec decimals; "-" when empty.
func num(r report.Row, col string, prec int) string {
	x := r.Num(col)
	switch {
	case math.IsNaN(x):
		return "-"
	case prec >= 0:
		return strconv.FormatFloat(x, 'f', prec, 64)
	}
	return report.Num(x)
}

// thresholdTable lists each threshold against each run, or nil when the
// session had none.
func (v *recordedSession) thresholdTable() *page.Table {
	repeats := v.repeats() > 1
	t := &page.Table{Caption: "Thresholds, each against the whole run", Header: v.runHeader(repeats, "threshold", "value", "")}
	for _, c := range v.configs {
		for _, r := range c.runs {
			for _, th := range r.Thresholds {
				value := strconv.FormatFloat(th.Value, 'g', 4, 64)
				if parsed, err := threshold.Parse(th.Expr); err == nil {
					value = threshold.Result{Threshold: parsed, Value: th.Value, OK: th.OK}.Text()
				}
				mark := "ok"
				if !th.OK {
					mark = "FAILED"
				}
				t.Rows = append(t.Rows, append(v.runCells(c, r, repeats), th.Expr, value, mark))
			}
		}
	}
	if len(t.Rows) == 0 {
		return nil
	}
	return t
}

// studyGrid is the study table of the session, as the terminal prints
// it at the end, rebuilt from the recorded summaries; nil for a session
// of no experiment.
func (v *recordedSession) studyGrid() *studyGrid {
	if v.exp == nil {
		return nil
	}
	t := &studyTable{}
	for _, c := range v.configs {
		for _, r := range c.runs {
			if len(r.Summary) == 0 {
				continue
			}
			t.Write(report.Begin{Labels: report.Labels{Run: r.Run, Repeat: r.Repeat, Experiment: r.Experiment, Knobs: r.Knobs},
				Settings: c.settings, Config: v.exp.Describe(c.settings), Measured: v.exp.Plan.Measured, Repeats: v.repeats()})
			final := &engine.Snapshot{Done: true}
			for _, name := range r.Series {
				if row, ok := r.Summary[name]; ok {
					st := engine.Series{Name: name, Run: figuresOf(row)}
					if name == engine.AllSeries {
						final.All = st
					} else {
						final.Steps = append(final.Steps, st)
					}
				}
			}
			t.Write(final)
		}
	}
	return t.grid()
}

// figuresOf reads a summary row's figures back.
func figuresOf(r report.Row) engine.Figures {
	d := func(col string) time.Duration {
		x := r.Num(col)
		if math.IsNaN(x) {
			return 0
		}
		return time.Duration(x * float64(time.Millisecond))
	}
	f := engine.Figures{Requests: int64(r.Num("requests")), Errors: int64(r.Num("errors")), RPS: r.Num("rps"),
		Min: d("min_ms"), Mean: d("mean_ms"), P50: d("p50_ms"), P90: d("p90_ms"), P95: d("p95_ms"), P99: d("p99_ms"), Max: d("max_ms")}
	if r.Cell("mean_ms") != "" {
		f.Answered = f.Requests - f.Errors
	}
	return f
}
