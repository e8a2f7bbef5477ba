package tui

import (
	"fmt"
	"math"
	"strings"

	"charm.land/lipgloss/v2"

	"perflab/engine"
)

// The split panel stacks, for each second of the charts' window, where
// the measured step's median answer spent its time, as the service's
// Server-Timing header tells it: the wait for a worker (queue), the
// database, the cache, the rest of the view, any other part the service
// names, and what the service does not account for (network: the latency
// less the server's parts, the network and the generator). A part that
// only some answers carry (db once the cache answers most requests)
// counts in proportion: its p50 times the share of the second's answers
// that carried it, so it shrinks as it becomes rare.

// The parts of a bar, bottom up.
const (
	partQueue = iota
	partDB
	partCache
	partView
	partOther
	partNetwork
	nParts
)

var partNames = [nParts]string{"queue", "db", "cache", "view", "other", "network"}

// partGlyphs tell the parts apart without colour.
var partGlyphs = [nParts]string{"█", "▓", "▒", "░", "▚", "┊"}

var partColors = [nParts]palette{{166, 214}, {26, 75}, {28, 114}, {91, 177}, {136, 221}, {246, 240}}

const (
	splitMinWidth = 30
	splitWidth    = 4 + splitLabelW + 2 + int(chartWindow) // the scale and one bar a second
	// splitSharedWidth shows half the window, for a shared row.
	splitSharedWidth = splitWidth - int(chartWindow)/2
	splitHeight      = 2 + 7
)

// splitPoint is one whole second's split, in ms.
type splitPoint struct {
	t     float64 // the second's end on the charts' clock
	parts [nParts]float64
}

// splitLog keeps the split of every second in the charts' window.
type splitLog struct {
	points []splitPoint
	// seen is set once an answer carried Server-Timing.
	seen bool
	// counts are the metrics the run could not use.
	counts engine.TimingCounts
}

// timingOf is the series whose split the panel shows: the measured step
// (the snapshot's total on the dashboard) when it has Server-Timing,
// else the first step that has.
func timingOf(s *engine.Snapshot) []engine.Timing {
	if s.All.Timing != nil {
		return s.All.Timing
	}
	for _, st := range s.Steps {
		if st.Timing != nil {
			return st.Timing
		}
	}
	return nil
}

// add records the second that snap closes, at t on the charts' clock.
func (l *splitLog) add(t float64, snap *engine.Snapshot) {
	l.counts = snap.ServerTiming
	parts, ok := partsOf(timingOf(snap))
	if !ok {
		return
	}
	l.seen = true
	l.points = append(l.points, splitPoint{t: t, parts: parts})
	keep := t - chartWindow - 2
	i := 0
	for i < len(l.points) && l.points[i].t < keep {
		i++
	}
	if i > 0 {
		l.points = append(l.points[:0], l.points[i:]...)
	}
}

// partsOf is a second's split: each metric's p50 weighted by the share of
// the answers with Server-Timing that carried it, summed into its part.
func partsOf(ts []engine.Timing) (parts [nParts]float64, ok bool) {
	var carried int64
	for _, tm := range ts {
		if tm.Name == engine.TimingRest {
			carried = tm.Last.Answered
		}
	}
	if carried == 0 {
		return parts, false
	}
	for _, tm := range ts {
		if tm.Last.Answered == 0 || tm.Name == "total" {
			continue
		}
		share := math.Min(1, float64(tm.Last.Answered)/float64(carried))
		parts[partOf(tm.Name)] += msOf(tm.Last.P50) * share
	}
	return parts, true
}

func partOf(name string) int {
	if name == engine.TimingRest {
		return partNetwork
	}
	for i, n := range partNames[:partOther] {
		if n == name {
			return i
		}
	}
	return partOther
}

// splitLabelW is the scale's width beside the bars.
const splitLabelW = 5

// splitCols is how many columns of bars fit in inner width w, beside the
// scale and the axis.
func splitCols(w int) int { return w - splitLabelW - 2 }

// splitSpan is how many seconds the bars show in inner width w: the
// charts' window, or one second a column when narrower.
func splitSpan(w int) float64 { return math.Max(1, math.Min(chartWindow, float64(splitCols(w)))) }

// splitTitle names the panel and the seconds it shows in inner width w.
func splitTitle(w int) string {
	return fmt.Sprintf("split p50 ms, %.0f s", splitSpan(w))
}

// splitLines renders the split into w×h cells: a legend with the newest
// second's parts, the bars, and an axis carrying the charts' marks.
func (p *loadPage) splitLines(w, h int) []string {
	st, l := p.styles, &p.split
	snap := p.frame.snap
	if !l.seen {
		switch {
		case snap == nil:
			return []string{st.Dim.Render("waiting for the first snapshot…")}
		case snap.All.Run.Answered == 0:
			return []string{st.Dim.Render("waiting for the first answers…")}
		}
		if p.info.hasTwin {
			return wrap(st.Dim.Render("this step's answers carry no Server-Timing: the twin sends it on its API answers, not on pages and files"), w)
		}
		lines := wrap("the service sends no Server-Timing", w)
		return append(lines, wrap(st.Dim.Render("so the latency cannot be split into the server's parts and the rest"), w)...)
	}
	start, end := l.window(w)
	parts := l.visibleParts(start)
	lines := splitLegend(st, parts, l.points[len(l.points)-1], w)
	if c := l.counts; c.Malformed+c.Dropped > 0 && len(lines)+4 <= h {
		lines = append(lines, st.Warn.Render(fit(fmt.Sprintf("skipped: %d malformed, %d past %d names", c.Malformed, c.Dropped, engine.MaxTimings), w)))
	}
	rows := h - len(lines) - 1
	if rows < 2 {
		return lines
	}
	return append(lines, l.bars(st, p.hist.marks, start, end, w, rows)...)
}

// window is the span of time the bars show in inner width w.
func (l *splitLog) window(w int) (start, end float64) {
	span := splitSpan(w)
	end = math.Max(span, l.points[len(l.points)-1].t)
	return end - span, end
}

// visibleParts are the parts some second in the window has.
func (l *splitLog) visibleParts(start float64) []int {
	var out []int
	for k := range nParts {
		for _, pt := range l.points {
			if pt.t > start && pt.parts[k] > 0 {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

// splitLegend names each visible part beside its glyph and its value in
// the newest second, as many to a line as fit.
func splitLegend(st *Styles, parts []int, newest splitPoint, w int) []string {
	var lines []string
	line := ""
	for _, k := range parts {
		item := partStyle(st, k).Render(partGlyphs[k]) + " " + partNames[k] + " " + st.Value.Render(msf(newest.parts[k]))
		switch {
		case line == "":
			line = item
		case visibleWidth(line)+2+visibleWidth(item) <= w:
			line += "  " + item
		default:
			lines = append(lines, line)
			line = item
		}
	}
	return append(lines, line)
}

func partStyle(st *Styles, k int) lipgloss.Style {
	return lipgloss.NewStyle().Foreground(partColors[k].color(st.IsDark))
}

// bars draws the stacked bars of the seconds in (start, end] into rows
// rows above an axis, each second over the columns of its span, with the
// scale on the left.
func (l *splitLog) bars(st *Styles, marks []mark, start, end float64, w, rows int) []string {
	top := 0.0
	for _, pt := range l.points {
		if pt.t > start {
			top = math.Max(top, sum(pt.parts[:]))
		}
	}
	if top == 0 {
		top = 1
	}
	label, labelW := msf(top), splitLabelW
	cols := splitCols(w)
	if cols < 4 {
		return nil
	}
	col := func(t float64) int { return int(math.Ceil((t-start)/(end-start)*float64(cols))) - 1 }
	at := make([]*splitPoint, cols)
	for i := range l.points {
		pt := &l.points[i]
		for c := max(col(pt.t-1)+1, 0); c <= min(col(pt.t), cols-1); c++ {
			at[c] = pt
		}
	}
	stacks := make([][]int, cols)
	for c, pt := range at {
		stacks[c] = stackOf(pt, top, rows)
	}
	lines := make([]string, 0, rows+1)
	for r := rows - 1; r >= 0; r-- {
		left := ""
		switch r {
		case rows - 1:
			left = label
		case 0:
			left = "0"
		}
		lines = append(lines, st.Dim.Render(padLeft(left, labelW))+" "+st.Border.Render("┤")+barRow(st, stacks, r))
	}
	axis := []rune(strings.Repeat("─", cols))
	for _, m := range marks {
		if m.t > start && m.t <= end {
			axis[min(max(col(m.t), 0), cols-1)] = '▲'
		}
	}
	return append(lines, strings.Repeat(" ", labelW+1)+st.Border.Render("└"+string(axis)))
}

// stackOf is the cells of one bar, bottom up: the part each shows, -1
// above the bar. A bar takes its share of the rows (at least one cell
// when it has any time), shared among its parts by largest remainder, so
// a short bar still shows its largest part.
func stackOf(pt *splitPoint, top float64, rows int) []int {
	cells := make([]int, rows)
	for i := range cells {
		cells[i] = -1
	}
	if pt == nil {
		return cells
	}
	total := sum(pt.parts[:])
	if total <= 0 {
		return cells
	}
	n := min(max(int(math.Round(total/top*float64(rows))), 1), rows)
	var count [nParts]int
	var rem [nParts]float64
	given := 0
	for k, v := range pt.parts {
		exact := v / total * float64(n)
		count[k] = int(exact)
		rem[k] = exact - float64(count[k])
		given += count[k]
	}
	for ; given < n; given++ {
		best := 0
		for k := range nParts {
			if rem[k] > rem[best] {
				best = k
			}
		}
		count[best]++
		rem[best] = -1
	}
	at := 0
	for k, c := range count {
		for range c {
			cells[at] = k
			at++
		}
	}
	return cells
}

// barRow is row r (0 at the bottom) of the bars' cells.
func barRow(st *Styles, stacks [][]int, r int) string {
	var b strings.Builder
	run, runPart := 0, -1
	flush := func() {
		if run == 0 {
			return
		}
		if runPart < 0 {
			b.WriteString(strings.Repeat(" ", run))
		} else {
			b.WriteString(partStyle(st, runPart).Render(strings.Repeat(partGlyphs[runPart], run)))
		}
		run = 0
	}
	for _, cells := range stacks {
		if k := cells[r]; k != runPart {
			flush()
			runPart = k
		}
		run++
	}
	flush()
	return b.String()
}

func sum(vs []float64) float64 {
	s := 0.0
	for _, v := range vs {
		s += v
	}
	return s
}
