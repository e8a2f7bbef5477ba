package tui

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"perflab/engine"
	"perflab/engine/report"
	"perflab/engine/stats"
	"perflab/experiments"
)

const (
	seedWidth     = 28
	seedMinWidth  = 24
	seedMaxHeight = 2 + 8
)

// seedLines renders the study's figure for the configuration in force
// beside ours, then the lesson, into inner width w and at most h lines.
func seedLines(st *Styles, cell experiments.StudyCell, ok bool, gap, lesson string, last engine.Figures, w, h int) []string {
	var lines []string
	if ok {
		for _, l := range clip(wrap(cell.Label, w), 2, w) {
			lines = append(lines, st.Value.Render(l))
		}
		if cell.Mean > 0 {
			line := "mean " + seedMS(cell.Mean) + " ms"
			if last.Answered > 0 {
				you := "  now " + ms(last.Mean)
				if visibleWidth(line+you) <= w {
					line += st.Dim.Render(you)
				}
			}
			lines = append(lines, line)
		}
		var pcts []string
		for _, p := range []struct {
			name string
			v    float64
		}{{"p50", msOf(cell.P50)}, {"p90", msOf(cell.P90)}, {"p95", msOf(cell.P95)}} {
			if p.v > 0 {
				pcts = append(pcts, p.name+" "+seedMS(time.Duration(p.v*float64(time.Millisecond))))
			}
		}
		if len(pcts) > 0 {
			lines = append(lines, fit(strings.Join(pcts, "  "), w))
		}
		if cell.RPS > 0 {
			lines = append(lines, fmt.Sprintf("%s req/s", rate(cell.RPS)))
		}
	} else {
		if gap == "" {
			gap = "the study did not measure this configuration"
		}
		lines = append(lines, wrap(st.Dim.Render(gap), w)...)
	}
	if lesson != "" {
		room := h - len(lines) - 1
		if room > 0 {
			lines = append(lines, "")
			for _, l := range clip(wrap(lesson, w), room, w) {
				lines = append(lines, st.Dim.Render(l))
			}
		}
	}
	return lines
}

// sweepState is a seed sweep started with s: the cells so far and
// whether it still runs.
type sweepState struct {
	cells   []experiments.SweepCell // by index
	total   int
	repeats int
	running bool
	err     error
	stop    func()
	in      chan experiments.SweepCell
	errc    chan error
}

func (s *sweepState) record(c experiments.SweepCell) {
	s.total = c.Total
	for len(s.cells) <= c.Index {
		s.cells = append(s.cells, experiments.SweepCell{Index: len(s.cells), Total: c.Total})
	}
	s.cells[c.Index] = c
}

const (
	sweepMinWidth = 60
	sweepWidth    = 72
)

func sweepHeight(total int) int { return 2 + 2 + max(total, 2) }

// sweepLines renders the sweep as a table, ours beside the study's, into
// inner width w and h lines, keeping the running cell in view.
func sweepLines(st *Styles, s *sweepState, w, h int) []string {
	const num = 7
	// With repeats, mean and p90 are medians with their intervals.
	wide := num
	if s.repeats > 1 {
		wide = 11
	}
	labelW := w - 4*num - 2*wide
	if labelW < 10 {
		return []string{st.Dim.Render(fit("too narrow for the sweep", w))}
	}
	head := padRight("configuration", labelW) + padLeft("mean", wide) + padLeft("p90", wide) + padLeft("req/s", num) +
		padLeft("seed", num) + padLeft("p90", num) + padLeft("vs", num)
	lines := []string{st.Dim.Render(head)}
	var rows []string
	focus := 0
	for i, c := range s.cells {
		label := c.Label
		if label == "" {
			label = fmt.Sprintf("configuration %d", c.Index+1)
		}
		row := padRight(fit(label, labelW-1), labelW)
		switch {
		case c.Running && len(c.Runs) == 0:
			row += st.Pending.Render(padLeft(runningText(c), 2*wide+num))
			focus = i
		case len(c.Runs) > 1:
			mean, p90, rps := sweepValues(c.Runs)
			row += padLeft(report.MedianCell(mean), wide) + padLeft(report.MedianCell(p90), wide) + padLeft(rate(median(rps)), num)
			if c.Running {
				row = st.Pending.Render(row)
			}
			focus = i
		case c.Figures.Requests > 0:
			row += padLeft(ms(c.Figures.Mean), wide) + padLeft(ms(c.Figures.P90), wide) + padLeft(rate(c.Figures.RPS), num)
			focus = i
		default:
			row += padLeft("", 2*wide+num)
		}
		if c.HasStudy {
			seedP90 := "-"
			if c.Study.P90 > 0 {
				seedP90 = seedMS(c.Study.P90)
			}
			vs := ""
			if mean, _, _ := sweepValues(c.Runs); len(mean) > 0 {
				vs = relChange(msOf(c.Study.Mean), median(mean))
			}
			row += st.Dim.Render(padLeft(seedMS(c.Study.Mean), num)+padLeft(seedP90, num)) + padLeft(vs, num)
		}
		rows = append(rows, row)
	}
	var status string
	switch {
	case s.err != nil:
		status = st.Bad.Render("sweep stopped: " + s.err.Error())
	case s.running && s.repeats > 1:
		status = st.Pending.Render(fmt.Sprintf("sweeping %d configurations %d times over, interleaved; s stops", s.total, s.repeats))
	case s.running:
		status = st.Pending.Render(fmt.Sprintf("sweeping %d configurations; s stops", s.total))
	case s.repeats > 1:
		status = st.Dim.Render(fmt.Sprintf("medians of %d runs, ±: 95%% interval (∞ under %d runs); s runs it again", s.repeats, stats.MinIntervalN))
	default:
		status = st.Dim.Render("sweep done; s runs it again")
	}
	room := h - 2
	if room < 1 {
		return lines[:min(len(lines), max(h, 0))]
	}
	first := 0
	if len(rows) > room {
		first = min(max(focus-room/2, 0), len(rows)-room)
	}
	lines = append(lines, rows[first:min(len(rows), first+room)]...)
	return append(lines, fit(status, w))
}

// seedMS shows one of the study's figures as it was reported, to the
// hundredth of a millisecond, without padding zeros.
func seedMS(d time.Duration) string {
	v := math.Round(msOf(d)*100) / 100
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// runningText says which run of a configuration is on.
func runningText(c experiments.SweepCell) string {
	if c.Repeats > 1 {
		return fmt.Sprintf("run %d/%d…", c.Repeat, c.Repeats)
	}
	return "running…"
}

// sweepValues are the mean and p90 (ms) and req/s of each run.
func sweepValues(runs []engine.Figures) (mean, p90, rps []float64) {
	for _, f := range runs {
		if f.Answered == 0 {
			continue
		}
		mean = append(mean, msOf(f.Mean))
		p90 = append(p90, msOf(f.P90))
		rps = append(rps, f.RPS)
	}
	return mean, p90, rps
}

func median(xs []float64) float64 { return stats.Summarize(xs).Median }
