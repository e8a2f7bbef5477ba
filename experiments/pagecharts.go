package experiments

import (
	"math"
	"slices"
	"strings"

	"perflab/engine"
	"perflab/engine/report"
	"perflab/engine/report/page"
	"perflab/engine/stats"
)

// The charts of a recorded load session: each configuration's figures
// beside the study's, and each run over time.

// configCharts are the mean latency and the throughput of each
// configuration beside the study's.
func (v *recordedSession) configCharts() []*page.Chart {
	xlabel := "configuration"
	if len(v.varying) > 0 {
		var names []string
		for _, k := range v.varying {
			names = append(names, k.Name)
		}
		xlabel = strings.Join(names, ", ")
	}
	ticks := make([]string, len(v.configs))
	for i, c := range v.configs {
		ticks[i] = v.tick(c)
	}
	figures := []struct {
		name, title, unit, column string
		study                     func(StudyCell) float64
	}{
		{"mean", "mean latency of " + v.measured, "ms", "mean_ms", func(s StudyCell) float64 { return msOf(s.Mean) }},
		{"throughput", "throughput of " + v.measured, "req/s", "rps", func(s StudyCell) float64 { return s.RPS }},
	}
	var charts []*page.Chart
	for _, f := range figures {
		measured := page.Dots{Name: "perflab", Color: page.Blue}
		study := page.Dots{Name: "the study", Color: page.Orange, Reference: true}
		hasStudy := false
		for _, c := range v.configs {
			values := v.figureOf(c, f.column)
			med, lo, hi := math.NaN(), math.NaN(), math.NaN()
			if len(values) > 0 {
				sum := stats.Summarize(values)
				med = sum.Median
				if sum.Finite() {
					lo, hi = sum.Lo, sum.Hi
				}
			}
			measured.Values = append(measured.Values, med)
			measured.Lo, measured.Hi = append(measured.Lo, lo), append(measured.Hi, hi)
			if len(values) > 1 {
				measured.Runs = append(measured.Runs, values)
			} else {
				measured.Runs = append(measured.Runs, nil)
			}
			ref := math.NaN()
			if v.exp != nil {
				if cell, ok := v.exp.StudyFor(c.settings); ok && f.study(cell) > 0 {
					ref, hasStudy = f.study(cell), true
				}
			}
			study.Values = append(study.Values, ref)
		}
		if v.repeats() > 1 {
			measured.Name = "perflab, median of runs"
		}
		series := []page.Dots{measured}
		if hasStudy {
			series = append(series, study)
		}
		ch := page.DotChart(v.prefix+"-"+f.name+"-per-configuration", f.title+" per configuration", xlabel, f.unit, ticks, series)
		ch.Caption = "A dot per configuration"
		if v.repeats() > 1 {
			ch.Caption += ": the median of its runs (the small rings), with whiskers for the median's 95% interval where it ran 6 times or more"
		}
		if hasStudy {
			ch.Caption += "; triangles are the study's figures where it ran that configuration"
		}
		ch.Caption += "."
		charts = append(charts, ch)
	}
	return charts
}

// runSection is one run over time: its latency percentiles each second
// (and in the open model its service time beside them), its throughput
// and errors, with the run's events marked.
func (v *recordedSession) runSection(c *recordedConfig, r *report.RunRecord) *page.Section {
	title := r.Name()
	if len(v.varying) > 0 {
		title += ": " + v.label(c)
	}
	s := &page.Section{Title: title}
	series := v.series(r)
	// Charts of a step say its name; the total needs none.
	of := ""
	if series != engine.AllSeries {
		of = series + ": "
	}
	rows := r.Intervals[series]
	if len(rows) == 0 {
		s.Notes = append(s.Notes, "This run recorded no whole second.")
		return s
	}
	col := func(name string) []float64 {
		out := make([]float64, len(rows))
		for i, row := range rows {
			out[i] = row.Num(name)
		}
		return out
	}
	// A second's row covers the second that ends at elapsed_s: it is
	// drawn in the middle of that second.
	x := col("elapsed_s")
	for i := range x {
		x[i] -= 0.5
	}
	var markers []page.Marker
	for _, e := range r.Events {
		markers = append(markers, page.Marker{At: e.At, Label: e.What})
	}
	name := v.prefix + "-" + page.Slug(r.Name())
	ax := page.Axes{X: "seconds into the run", Clock: x[len(x)-1] >= 120}
	if ax.Clock {
		ax.X = "time into the run (m:ss)"
	}
	charts, notes := latencyCharts(name, of, ax, x, col, markers)
	s.Charts, s.Notes = append(s.Charts, charts...), append(s.Notes, notes...)
	ax.LogY, ax.YMin, ax.YMax, ax.Y = false, 0, 0, "per second"
	tp := page.TimeChart(name+"-throughput", of+"throughput and errors", ax, []page.Line{
		{Name: "req/s", X: x, Y: col("rps"), Color: page.Blue},
		{Name: "errors/s", X: x, Y: col("errors"), Color: page.Red},
	}, markers)
	tp.Caption = "Requests that ended each second, and how many of them failed."
	s.Charts = append(s.Charts, tp)
	return s
}

// latencyCharts are a run's latency each second and, in the open model,
// its service time on the same scale; or a note when no answer ended in
// a whole second.
func latencyCharts(name, of string, ax page.Axes, x []float64, col func(string) []float64, markers []page.Marker) (charts []*page.Chart, notes []string) {
	latency := []page.Line{
		{Name: "p50", X: x, Y: col("p50_ms"), Color: page.Blue},
		{Name: "p90", X: x, Y: col("p90_ms"), Color: page.Orange},
		{Name: "p99", X: x, Y: col("p99_ms"), Color: page.Red},
		{Name: "max", X: x, Y: col("max_ms"), Color: page.Purple},
	}
	service := []page.Line{
		{Name: "p50", X: x, Y: col("service_p50_ms"), Color: page.Blue, Dashed: true},
		{Name: "p90", X: x, Y: col("service_p90_ms"), Color: page.Orange, Dashed: true},
		{Name: "p99", X: x, Y: col("service_p99_ms"), Color: page.Red, Dashed: true},
	}
	open := slices.ContainsFunc(service[0].Y, func(y float64) bool { return !math.IsNaN(y) })
	ax.LogY = page.LogWorthy(latency)
	ax.Y = "ms"
	if ax.LogY {
		ax.Y = "ms (log scale)"
	}
	latTitle := of + "latency each second"
	if open {
		ax.YMin, ax.YMax = page.YRange(append(slices.Clone(latency), service...), ax.LogY)
		latTitle = of + "latency from the schedule (corrected)"
	}
	answered := slices.ContainsFunc(latency[0].Y, func(y float64) bool { return !math.IsNaN(y) })
	if answered {
		lat := page.TimeChart(name+"-latency", latTitle, ax, latency, markers)
		lat.Caption = "Each second's percentiles and maximum of the answers that ended in it, drawn at the middle of the second."
		charts = append(charts, lat)
	} else {
		notes = append(notes, "No answer ended in any whole second of this run: it has no latency to chart.")
	}
	if open {
		svc := page.TimeChart(name+"-service", of+"service time (from the send)", ax, service, markers)
		svc.Caption = "The open model's service time, on the same scale: the gap between the two charts is time spent waiting to be sent."
		charts = append(charts, svc)
	}
	return charts, notes
}
