package experiments

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"perflab/engine"
	"perflab/engine/report"
)

// StudyCell is one measurement from the study, with the knob values it was
// taken under. Zero durations were not reported.
type StudyCell struct {
	// When is the configuration the figure is for, e.g. sync, 4 workers,
	// no cache; Under the conditions the study ran it under, e.g. the N+1
	// query and Django's costs. A run matches when both hold; other knobs
	// are free.
	When  Settings
	Under Settings
	Label string // e.g. "sync, 4 workers, no cache"
	Mean  time.Duration
	P50   time.Duration
	P90   time.Duration
	P95   time.Duration
	Max   time.Duration
	RPS   float64
}

// StudyFor returns the study's figures for settings s, if it measured them.
func (e *Experiment) StudyFor(s Settings) (StudyCell, bool) {
	for _, c := range e.Study {
		if c.matches(s) {
			return c, true
		}
	}
	return StudyCell{}, false
}

func (c StudyCell) matches(s Settings) bool {
	return len(differences(c.When, s)) == 0 && len(differences(c.Under, s)) == 0
}

// differences lists the knobs of want that s sets otherwise, as "profile
// django", in the table's order.
func differences(want, s Settings) []string {
	var out []string
	for _, k := range Knobs {
		if v, ok := want[k.Name]; ok && s[k.Name] != v {
			out = append(out, k.Name+" "+v)
		}
	}
	return out
}

// StudyGap says why the study has no figure for settings s: the
// conditions it ran a configuration like this one under ("the study ran
// this with query naive, profile django"), or that it never ran it. It is
// "" when StudyFor finds a figure.
func (e *Experiment) StudyGap(s Settings) string {
	for _, c := range e.Study {
		if len(differences(c.When, s)) == 0 {
			if d := differences(c.Under, s); len(d) > 0 {
				return "the study ran this with " + strings.Join(d, ", ")
			}
			return ""
		}
	}
	return "the study did not measure this configuration"
}

// StudyRuns are the configurations the study measured, with the
// conditions it ran them under, in its order: the dashboard's study sweep.
func (e *Experiment) StudyRuns() []Settings {
	runs := make([]Settings, len(e.Study))
	for i, c := range e.Study {
		runs[i] = Settings{}
		for k, v := range c.When {
			runs[i][k] = v
		}
		for k, v := range c.Under {
			runs[i][k] = v
		}
	}
	return runs
}

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

func init() {
	report.Register(report.Format{Name: "study", Help: "each configuration's figures beside the study's, and with repeats the study's conclusions tested", New: func(d report.Dest) (report.Output, error) {
		return &studyTable{w: d.W}, nil
	}})
}

// studyTable prints, when the session closes, each configuration's
// figures for the experiment's measured step beside the study's figures
// for the same configuration, where the study measured it. With repeats,
// the figures are medians with 95% intervals, and the study's conclusions
// that the session can test are tested.
type studyTable struct {
	w   io.Writer
	exp *Experiment
	rep report.Repeated
	// runs are the runs in the order they ended, for a session without
	// repeats: one row each, numbered as run.
	runs []studyRow
}

type studyRow struct {
	config   string
	settings Settings
	final    engine.Figures
}

func (t *studyTable) Write(ev report.Event) error {
	if b, ok := ev.(report.Begin); ok {
		t.exp, _ = ByName(b.Labels.Experiment)
	}
	if t.rep.Add(ev) {
		c := t.rep.Current()
		t.runs = append(t.runs, studyRow{config: c.Config, settings: Settings(c.Settings), final: c.Finals[len(c.Finals)-1]})
	}
	return nil
}

func (t *studyTable) Close() error {
	g := t.grid()
	if g == nil {
		return nil
	}
	_, err := io.WriteString(t.w, g.text())
	return err
}

const claimsTitle = "The study's conclusions, tested on the mean latency (Mann-Whitney U, 5% level)"

// studyGrid is the study table as cells, for the terminal and the page.
type studyGrid struct {
	title  string
	header []string
	rows   [][]string
	notes  []string
	// claims are the study's conclusions tested, a line each.
	claims []string
}

// grid is the table of the session so far, or nil before a run ended.
func (t *studyTable) grid() *studyGrid {
	if t.exp == nil || len(t.runs) == 0 {
		return nil
	}
	if t.rep.MaxRuns() > 1 {
		return t.repeated()
	}
	return t.single()
}

// single is the table of a session that ran each configuration once.
func (t *studyTable) single() *studyGrid {
	g := &studyGrid{title: fmt.Sprintf("%s experiment, perflab beside the seed (ms, req/s)", t.exp.Name),
		header: []string{"run", "configuration", "mean", "p50", "p90", "rps", "", "seed mean", "p50", "p90", "rps", ""}}
	for i, r := range t.runs {
		f := r.final
		row := []string{strconv.Itoa(i + 1), r.config, msCell(f.Mean), msCell(f.P50), msCell(f.P90), fmt.Sprintf("%.1f", f.RPS), ""}
		g.rows = append(g.rows, append(row, t.studyCells(r.settings)...))
	}
	return g
}

// repeated is the table of a session with repeats: medians with their
// intervals beside the study, then the study's conclusions tested.
func (t *studyTable) repeated() *studyGrid {
	g := &studyGrid{title: fmt.Sprintf("%s experiment, perflab's medians across runs with 95%% intervals, beside the seed (ms, req/s)", t.exp.Name),
		header: []string{"run", "configuration", "n", "mean", "p50", "p90", "p99", "rps", "", "seed mean", "p50", "p90", "rps", ""}}
	for _, c := range t.rep.Configs {
		row := []string{strconv.Itoa(c.Run), c.Config, strconv.Itoa(len(c.Finals))}
		for _, f := range report.Figures {
			row = append(row, report.MedianCell(c.Values(f)))
		}
		g.rows = append(g.rows, append(append(row, ""), t.studyCells(Settings(c.Settings))...))
	}
	if note := t.rep.IntervalNote(); note != "" {
		g.notes = append(g.notes, note)
	}
	g.claims = t.exp.testClaims(&t.rep)
	return g
}

// text renders the grid for the terminal.
func (g *studyGrid) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s\n", g.title)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, row := range append([][]string{g.header}, g.rows...) {
		last := len(row) - 1
		fmt.Fprintln(tw, strings.Join(row[:last], "\t")+"\t"+prefixed("  ", row[last]))
	}
	tw.Flush()
	for _, n := range g.notes {
		b.WriteString(n + "\n")
	}
	if len(g.claims) > 0 {
		b.WriteString("\n" + claimsTitle + ":\n")
		for _, l := range g.claims {
			b.WriteString("  " + l + "\n")
		}
	}
	b.WriteString("\n")
	return b.String()
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

// studyCells are the study's figures for settings, or why there are
// none: the last cell.
func (t *studyTable) studyCells(s Settings) []string {
	if seed, ok := t.exp.StudyFor(s); ok {
		return []string{msCell(seed.Mean), msCell(seed.P50), msCell(seed.P90), rpsCell(seed.RPS), ""}
	}
	return []string{"-", "-", "-", "-", t.exp.StudyGap(s)}
}

func msCell(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond))
}

func rpsCell(r float64) string {
	if r == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", r)
}
