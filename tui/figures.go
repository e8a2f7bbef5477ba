package tui

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"perflab/engine"
	"perflab/engine/threshold"

	"github.com/charmbracelet/x/ansi"
)

// figureColumn is one column of the figures table. Columns with a higher
// rank number are the first to go when the panel is narrow.
type figureColumn struct {
	name    string
	rank    int
	latency bool
	value   func(engine.Figures) float64
	text    func(engine.Figures) string
}

func latencyColumn(name string, rank int, get func(engine.Figures) time.Duration) figureColumn {
	return figureColumn{
		name: name, rank: rank, latency: true,
		value: func(f engine.Figures) float64 { return msOf(get(f)) },
		text: func(f engine.Figures) string {
			if f.Answered == 0 {
				return "-"
			}
			return ms(get(f))
		},
	}
}

var figureColumns = []figureColumn{
	latencyColumn("min", 4, func(f engine.Figures) time.Duration { return f.Min }),
	latencyColumn("mean", 1, func(f engine.Figures) time.Duration { return f.Mean }),
	latencyColumn("p50", 1, func(f engine.Figures) time.Duration { return f.P50 }),
	latencyColumn("p90", 1, func(f engine.Figures) time.Duration { return f.P90 }),
	latencyColumn("p95", 3, func(f engine.Figures) time.Duration { return f.P95 }),
	latencyColumn("p99", 1, func(f engine.Figures) time.Duration { return f.P99 }),
	latencyColumn("max", 2, func(f engine.Figures) time.Duration { return f.Max }),
	{name: "req/s", rank: 2, // the generator line below says it too
		value: func(f engine.Figures) float64 { return f.RPS },
		text:  func(f engine.Figures) string { return rate(f.RPS) }},
	{name: "err", rank: 1, // failures are never dropped for room
		value: func(f engine.Figures) float64 { return float64(f.Errors) },
		text:  func(f engine.Figures) string { return fmt.Sprint(f.Errors) }},
}

const (
	figureLabelWidth  = 9
	figureColumnWidth = 7
)

// figuresMinWidth and figuresWidth are the panel's narrowest useful and
// full widths, frame included.
var (
	figuresMinWidth = 4 + figureLabelWidth + 5*figureColumnWidth
	figuresWidth    = 4 + figureLabelWidth + len(figureColumns)*figureColumnWidth
	// figuresSharedWidth drops only the min column, for a shared row.
	figuresSharedWidth = figuresWidth - figureColumnWidth
)

// figuresHeight is the panel's height, frame included: room is kept for
// the baseline rows so the layout does not jump when b is pressed.
func figuresHeight(open, thresholds bool) int {
	h := 2 + 6 // header, last, run, baseline, delta, notes
	if open {
		h++
	}
	if thresholds {
		h++
	}
	return h
}

// figuresLines renders the table into inner width w: the last second,
// in the open model its service time, the whole run, and against a
// baseline the change of every figure.
func figuresLines(st *Styles, snap *engine.Snapshot, base *baseline, w, h int) []string {
	var cols []figureColumn
	for rank := 1; rank <= 4; rank++ {
		var pick []figureColumn
		for _, c := range figureColumns {
			if c.rank <= rank {
				pick = append(pick, c)
			}
		}
		if figureLabelWidth+len(pick)*figureColumnWidth > w {
			break
		}
		cols = pick
	}
	if cols == nil {
		return []string{st.Dim.Render(fit("too narrow for the figures", w))}
	}
	row := func(label string, f engine.Figures, style func(string) string) string {
		var b strings.Builder
		b.WriteString(padRight(label, figureLabelWidth))
		for _, c := range cols {
			b.WriteString(padLeft(c.text(f), figureColumnWidth))
		}
		return style(b.String())
	}
	plain := func(s string) string { return s }
	// Rows in display order, each with the rank at which it goes when the
	// panel is short: the notes first, then the service time, the change,
	// the baseline.
	type ranked struct {
		text string
		rank int
	}
	var head strings.Builder
	head.WriteString(padRight("ms", figureLabelWidth))
	for _, c := range cols {
		head.WriteString(padLeft(c.name, figureColumnWidth))
	}
	rows := []ranked{
		{st.Dim.Render(head.String()), 0},
		{row("last 1 s", snap.All.Last, func(s string) string { return st.Value.Render(s) }), 0},
	}
	if snap.Load.Model == "open" {
		rows = append(rows, ranked{row("service", snap.All.LastService, plain), 3})
	}
	rows = append(rows, ranked{row("run", snap.All.Run, plain), 0})
	if base != nil {
		rows = append(rows, ranked{row("baseline", base.figures, func(s string) string { return st.Dim.Render(s) }), 1})
		var b strings.Builder
		b.WriteString(padRight("change", figureLabelWidth))
		for _, c := range cols {
			b.WriteString(padLeft(shiftCell(base, c), figureColumnWidth))
		}
		rows = append(rows, ranked{st.Value.Render(b.String()), 2})
	}
	rows = append(rows, ranked{notesLine(st, snap, base, w), 4})
	for drop := 4; len(rows) > h && drop > 0; drop-- {
		rows = slices.DeleteFunc(rows, func(r ranked) bool { return r.rank == drop })
	}
	lines := make([]string, len(rows))
	for i, r := range rows {
		lines[i] = r.text
	}
	return lines
}

// notesLine says what the table cannot: checks passed, what the errors
// were, and how to mark a baseline.
func notesLine(st *Styles, snap *engine.Snapshot, base *baseline, w int) string {
	var parts []string
	var passed, failed int64
	for _, c := range snap.Checks {
		passed += c.Passed
		failed += c.Failed
	}
	if passed+failed > 0 {
		pct := float64(passed) / float64(passed+failed) * 100
		text := fmt.Sprintf("checks %.1f%%", pct)
		if failed > 0 {
			text = st.Bad.Render(text)
		}
		parts = append(parts, text)
	}
	if e := snap.Errors; e.Total() > 0 {
		var kinds []string
		for _, k := range e.Kinds() {
			if k.Count > 0 {
				kinds = append(kinds, fmt.Sprintf("%d %s", k.Count, k.Name))
			}
		}
		parts = append(parts, st.Bad.Render("errors "+strings.Join(kinds, ", ")))
	}
	if base == nil {
		parts = append(parts, st.Dim.Render("b marks a baseline"))
	} else {
		parts = append(parts, st.Dim.Render(baselineNote(base)))
	}
	return fit(strings.Join(parts, "  "), w)
}

// shiftCell is a column's change against the baseline: "-70±8%" once its
// 95% interval excludes no change, "~" while it spans it, "…" while either
// window is too short for blocks; nothing for the error count.
func shiftCell(b *baseline, c figureColumn) string {
	i := slices.IndexFunc(figureColumns, func(x figureColumn) bool { return x.name == c.name })
	if c.name == "err" || i < 0 || i >= len(b.shifts) {
		return ""
	}
	s := b.shifts[i]
	switch {
	case !s.Ready:
		return "…"
	case !s.Real():
		return "~"
	}
	half := 100 * max(s.Hi-s.Change, s.Change-s.Lo)
	cell := fmt.Sprintf("%+.0f±%.0f%%", 100*s.Change, half)
	if ansi.StringWidth(cell) > figureColumnWidth-1 {
		cell = strings.TrimSuffix(cell, "%")
	}
	if ansi.StringWidth(cell) > figureColumnWidth-1 {
		cell = fmt.Sprintf("%+.0f%%", 100*s.Change) // an interval too wide to fit
	}
	return cell
}

// baselineNote says which windows the change line compares.
func baselineNote(b *baseline) string {
	note := fmt.Sprintf("baseline %s-%s vs since %s (%d s)", clock(b.from), clock(b.at), clock(b.curFrom), b.curN)
	block := 0
	for _, s := range b.shifts {
		block = max(block, s.Block)
	}
	if block > 0 {
		note += fmt.Sprintf(", %d s blocks", block)
	}
	return note
}

// thresholdsLine holds each threshold against the run so far: the
// failing ones first, in the bad style, with their values.
func thresholdsLine(st *Styles, ths []threshold.Threshold, snap *engine.Snapshot, w int) string {
	var failed, ok []string
	for _, t := range ths {
		r := t.Evaluate(snap)
		switch {
		case math.IsNaN(r.Value):
			ok = append(ok, st.Dim.Render(r.Expr+" …"))
		case r.OK:
			ok = append(ok, "✓ "+r.Expr)
		default:
			failed = append(failed, st.Bad.Render("✗ "+r.Expr+" "+r.Text()))
		}
	}
	return fit(strings.Join(append(failed, ok...), "  "), w)
}
