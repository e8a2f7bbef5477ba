package tui

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/guptarohit/asciigraph"

	"perflab/engine"
)

// chartWindow is how much time the charts show.
const chartWindow = 60.0 // seconds

// history is what the charts draw: one point per snapshot over the last
// minute or so, and marks where something was changed. Its clock is
// the load's own: the runs of a sweep each start at zero, so each new run
// is placed right after the previous one.
type history struct {
	points      []point // oldest first
	marks       []mark
	offset      float64 // added to a snapshot's elapsed time
	last        float64 // time of the newest point
	lastElapsed float64
}

type point struct {
	t             float64
	p50, p90, p99 float64 // ms; NaN when nothing was answered
	rps           float64
}

type mark struct {
	t     float64
	label string
}

// snapshotPeriod is the engine's publishing period, the gap left between
// the runs of a sweep on the charts' clock.
const snapshotPeriod = 0.25

// add records a snapshot and returns its time on the charts' clock.
func (h *history) add(s *engine.Snapshot) float64 {
	e := s.Elapsed.Seconds()
	if len(h.points) > 0 && e < h.lastElapsed {
		h.offset = h.last - e + snapshotPeriod
	}
	h.lastElapsed = e
	t := h.offset + e
	if len(h.points) > 0 && t <= h.last {
		return h.last // the same moment again (a final snapshot)
	}
	h.last = t
	p := point{t: t, rps: s.All.Last.RPS, p50: math.NaN(), p90: math.NaN(), p99: math.NaN()}
	if f := s.All.Last; f.Answered > 0 {
		p.p50, p.p90, p.p99 = msOf(f.P50), msOf(f.P90), msOf(f.P99)
	}
	h.points = append(h.points, p)
	// Keep a little more than the window so its left edge stays drawn.
	keep := h.last - chartWindow - 2
	i := 0
	for i < len(h.points) && h.points[i].t < keep {
		i++
	}
	if i > 0 {
		h.points = append(h.points[:0], h.points[i:]...)
	}
	j := 0
	for j < len(h.marks) && h.marks[j].t < keep {
		j++
	}
	if j > 0 {
		h.marks = append(h.marks[:0], h.marks[j:]...)
	}
	return t
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// mark labels the newest moment, e.g. "w=4" when workers changed.
func (h *history) mark(label string) { h.marks = append(h.marks, mark{t: h.last, label: label}) }

// unmark drops the newest mark with that label (a change that failed).
func (h *history) unmark(label string) {
	for i := len(h.marks) - 1; i >= 0; i-- {
		if h.marks[i].label == label {
			h.marks = append(h.marks[:i], h.marks[i+1:]...)
			return
		}
	}
}

// span is the time the charts show: the first minute fills from the
// left, after that the window scrolls.
func (h *history) span() (start, end float64) {
	end = math.Max(chartWindow, h.last)
	return end - chartWindow, end
}

// column maps time t to one of cols columns.
func column(t, start float64, cols int) int {
	c := int((t - start) / chartWindow * float64(cols))
	return min(max(c, 0), cols-1)
}

// series resamples the window into cols columns. Latency takes the
// worst value falling in a column so a short spike stays visible;
// throughput its mean. Columns between two samples (wide charts) repeat
// the earlier one.
func (h *history) series(cols int, pick func(point) float64, worst bool) []float64 {
	start, _ := h.span()
	out := make([]float64, cols)
	n := make([]int, cols)
	for i := range out {
		out[i] = math.NaN()
	}
	for _, p := range h.points {
		if p.t < start {
			continue
		}
		v := pick(p)
		if math.IsNaN(v) {
			continue
		}
		c := column(p.t, start, cols)
		switch {
		case n[c] == 0:
			out[c] = v
		case worst:
			out[c] = math.Max(out[c], v)
		default:
			out[c] += v
		}
		n[c]++
	}
	first, last := -1, -1
	for c := range out {
		if n[c] > 0 {
			if !worst {
				out[c] /= float64(n[c])
			}
			if first < 0 {
				first = c
			}
			last = c
		}
	}
	for c := first + 1; first >= 0 && c < last; c++ {
		if n[c] == 0 {
			out[c] = out[c-1]
		}
	}
	return out
}

// chartSpec is what differs between the latency and throughput charts.
type chartSpec struct {
	series [][]float64
	colors []asciigraph.AnsiColor
	labels bool // a row of time and mark labels under the axis
}

// latencyChart draws p99, p90 and p50 (in that order, so the median is
// drawn over the tails) into w×h cells.
func (h *history) latencyChart(st *Styles, w, hgt int) []string {
	return h.chart(st, w, hgt, true, func(cols int) chartSpec {
		return chartSpec{
			series: [][]float64{
				h.series(cols, func(p point) float64 { return p.p99 }, true),
				h.series(cols, func(p point) float64 { return p.p90 }, true),
				h.series(cols, func(p point) float64 { return p.p50 }, true),
			},
			colors: []asciigraph.AnsiColor{st.Chart.P99, st.Chart.P90, st.Chart.P50},
			labels: true,
		}
	})
}

// rpsChart draws requests per second into w×h cells.
func (h *history) rpsChart(st *Styles, w, hgt int) []string {
	return h.chart(st, w, hgt, false, func(cols int) chartSpec {
		return chartSpec{
			series: [][]float64{h.series(cols, func(p point) float64 { return p.rps }, false)},
			colors: []asciigraph.AnsiColor{st.Chart.RPS},
			labels: hgt >= 6,
		}
	})
}

// chart lays out a plot with its y labels, an axis carrying the marks,
// and (when asked and there is room) a row of labels under it.
func (h *history) chart(st *Styles, w, hgt int, latency bool, spec func(cols int) chartSpec) []string {
	start, end := h.span()
	top := 0.0
	for _, p := range h.points {
		if p.t < start {
			continue
		}
		if latency {
			top = math.Max(top, nanZero(p.p99))
			top = math.Max(top, nanZero(p.p90))
			top = math.Max(top, nanZero(p.p50))
		} else {
			top = math.Max(top, p.rps)
		}
	}
	if top == 0 {
		top = 1
	}
	format := "%.0f"
	switch {
	case top < 2:
		format = "%.2f"
	case top < 20:
		format = "%.1f"
	}
	labelW := len(fmt.Sprintf(format, top))
	const offset = 3 // asciigraph's gap between labels and the plot
	leftPad := offset + labelW
	cols := w - leftPad
	if cols < 8 || hgt < 3 {
		return []string{st.Dim.Render(fit("too narrow for a chart", w))}
	}
	sp := spec(cols)
	axisRows := 1
	if sp.labels {
		axisRows = 2
	}
	plotRows := hgt - axisRows
	if plotRows < 2 {
		plotRows, axisRows, sp.labels = hgt-1, 1, false
	}
	if !hasValue(sp.series) {
		lines := make([]string, hgt)
		lines[hgt/2] = st.Dim.Render(fit("waiting for the first answers…", w))
		return lines
	}
	opts := []asciigraph.Option{
		asciigraph.Height(plotRows - 1),
		asciigraph.LowerBound(0),
		asciigraph.UpperBound(top),
		asciigraph.Offset(offset),
		asciigraph.YAxisValueFormatter(func(v float64) string {
			// The bottom label comes out as a tiny negative number from the
			// library's arithmetic; it is zero.
			return padLeft(fmt.Sprintf(format, math.Max(v, 0)), labelW)
		}),
	}
	if !st.NoColor {
		opts = append(opts, asciigraph.SeriesColors(sp.colors...), asciigraph.AxisColor(st.Chart.Axis), asciigraph.LabelColor(st.Chart.Axis))
	}
	plot := strings.Split(asciigraph.PlotMany(sp.series, opts...), "\n")
	if len(plot) > plotRows {
		plot = plot[len(plot)-plotRows:]
	}
	lines := append(plot, h.axis(st, leftPad, cols, start, end, sp.labels)...)
	return lines
}

func nanZero(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

func hasValue(series [][]float64) bool {
	for _, s := range series {
		for _, v := range s {
			if !math.IsNaN(v) {
				return true
			}
		}
	}
	return false
}

// axis draws the time axis with a ▲ at every mark and, under it, the
// marks' labels (newest first where they collide) and the window's times
// where there is room left.
func (h *history) axis(st *Styles, leftPad, cols int, start, end float64, labels bool) []string {
	axis := []rune(strings.Repeat("─", cols))
	var visible []mark
	for _, m := range h.marks {
		if m.t >= start {
			visible = append(visible, m)
			axis[column(m.t, start, cols)] = '▲'
		}
	}
	// Colour the axis and the marks apart so marks stand out, one styled
	// run per stretch of axis.
	var b strings.Builder
	b.WriteString(strings.Repeat(" ", leftPad-1))
	run := []rune{'└'}
	for _, r := range axis {
		if r != '▲' {
			run = append(run, r)
			continue
		}
		b.WriteString(st.Border.Render(string(run)))
		b.WriteString(st.Key.Render("▲"))
		run = run[:0]
	}
	b.WriteString(st.Border.Render(string(run)))
	out := []string{b.String()}
	if !labels {
		return out
	}
	row := []rune(strings.Repeat(" ", cols))
	used := make([]bool, cols)
	place := func(text string, at int) {
		r := []rune(text)
		if len(r) > cols {
			return
		}
		at = min(max(at, 0), cols-len(r))
		lo, hi := max(at-1, 0), min(at+len(r)+1, cols)
		for i := lo; i < hi; i++ {
			if used[i] {
				return
			}
		}
		for i, c := range r {
			row[at+i] = c
			used[at+i] = true
		}
	}
	for i := len(visible) - 1; i >= 0; i-- {
		place(visible[i].label, column(visible[i].t, start, cols))
	}
	for _, tick := range []struct {
		t     float64
		align int // 0 left, 1 centre, 2 right
	}{{start, 0}, {start + chartWindow/2, 1}, {end, 2}} {
		text := clock(time.Duration(tick.t * float64(time.Second)))
		at := column(tick.t, start, cols)
		switch tick.align {
		case 1:
			at -= len(text) / 2
		case 2:
			at = cols - len(text)
		}
		place(text, at)
	}
	return append(out, st.Dim.Render(strings.TrimRight(strings.Repeat(" ", leftPad)+string(row), " ")))
}
