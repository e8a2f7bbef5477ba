package tui

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"perflab/engine"
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
	labelW := w - 6*num
	if labelW < 10 {
		return []string{st.Dim.Render(fit("too narrow for the sweep", w))}
	}
	head := padRight("configuration", labelW) + padLeft("mean", num) + padLeft("p90", num) + padLeft("req/s", num) +
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
		case c.Running:
			row += st.Pending.Render(padLeft("running…", 3*num))
			focus = i
		case c.Figures.Requests > 0:
			row += padLeft(ms(c.Figures.Mean), num) + padLeft(ms(c.Figures.P90), num) + padLeft(rate(c.Figures.RPS), num)
			focus = i
		default:
			row += padLeft("", 3*num)
		}
		if c.HasStudy {
			seedP90 := "-"
			if c.Study.P90 > 0 {
				seedP90 = seedMS(c.Study.P90)
			}
			vs := ""
			if c.Figures.Answered > 0 && !c.Running {
				vs = relChange(msOf(c.Study.Mean), msOf(c.Figures.Mean))
			}
			row += st.Dim.Render(padLeft(seedMS(c.Study.Mean), num)+padLeft(seedP90, num)) + padLeft(vs, num)
		}
		rows = append(rows, row)
	}
	var status string
	switch {
	case s.err != nil:
		status = st.Bad.Render("sweep stopped: " + s.err.Error())
	case s.running:
		status = st.Pending.Render(fmt.Sprintf("sweeping %d configurations; s stops", s.total))
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
