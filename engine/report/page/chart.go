package page

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Chart is one chart: a gonum plot and its legend, drawn to the right of
// the plot rather than over its data.
type Chart struct {
	// Name names the chart's PNG file and its element on the page.
	Name  string
	Title string // drawn above the plot
	// Caption is a line under the chart on the page, not in the PNG.
	Caption string
	// Kind says what the data marks are: "time" (lines over time),
	// "dots" (a dot per category) or "bars".
	Kind          string
	Width, Height vg.Length // zero: the default size
	plot          *plot.Plot
	legend        plot.Legend
	hasLegend     bool
}

// The charts' colours: the data in saturated colours, everything else
// (axes, grid, markers) in greys, so a reader, or a test, tells data
// marks from the frame by colour alone.
var (
	Blue   = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	Orange = color.RGBA{R: 0xe6, G: 0x7e, B: 0x0e, A: 0xff}
	Red    = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	Purple = color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}
	Green  = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
	Teal   = color.RGBA{R: 0x17, G: 0xa2, B: 0xb8, A: 0xff}
	grid   = color.Gray{Y: 0xe4}
	marker = color.Gray{Y: 0x70}
	ink    = color.Gray{Y: 0x20}
)

// Palette are the data colours in the order series take them.
var Palette = []color.Color{Blue, Orange, Red, Purple, Green, Teal}

func init() {
	// Liberation Sans has the metrics of Arial and Helvetica, which the
	// page asks browsers for, so labels measured here fit there.
	plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
	plotter.DefaultFont = plot.DefaultFont
}

func newChart(name, title, kind string) *Chart {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = 13
	p.Title.Padding = 6
	g := plotter.NewGrid()
	g.Horizontal.Color, g.Vertical.Color = grid, grid
	if kind != "time" {
		g.Vertical.Color = nil
	}
	p.Add(g)
	c := &Chart{Name: name, Title: title, Kind: kind, plot: p, legend: plot.NewLegend()}
	c.legend.Top, c.legend.Left = true, true
	c.legend.TextStyle.Font.Size = 11
	c.legend.ThumbnailWidth = 0.3 * vg.Inch
	c.legend.Padding = 3
	p.Y.Tick.Marker = niceTicks{}
	return c
}

func (c *Chart) addLegend(name string, thumbs ...plot.Thumbnailer) {
	c.legend.Add(name, thumbs...)
	c.hasLegend = true
}

// draw draws the plot, and the legend in a column on its right.
func (c *Chart) draw(dc draw.Canvas) {
	if !c.hasLegend {
		c.plot.Draw(dc)
		return
	}
	lw := c.legend.Rectangle(dc).Size().X + 0.15*vg.Inch
	c.plot.Draw(draw.Crop(dc, 0, -lw, 0, 0))
	top := c.plot.Title.TextStyle.Rectangle(c.plot.Title.Text).Size().Y + c.plot.Title.Padding
	c.legend.Draw(draw.Crop(dc, dc.Size().X-lw+0.1*vg.Inch, 0, 0, -top))
}

// Line is one series of a time chart: Y at each X; a NaN Y leaves a gap.
type Line struct {
	Name  string
	X, Y  []float64
	Color color.Color
	// Dashed lines stand for a second measure of the same figure (the
	// open model's service time beside its corrected latency).
	Dashed bool
	// Steps draws a count that holds until the next point.
	Steps bool
}

// Marker is a labelled vertical line on a time chart: a knob changed, a
// stage began.
type Marker struct {
	At    float64
	Label string
}

// Axes are a time chart's axes.
type Axes struct {
	X, Y string // labels
	// Clock labels X ticks as m:ss, for runs of minutes.
	Clock bool
	// LogX, LogY put the axis on a log scale (positive values only).
	LogX, LogY bool
	// YMin and YMax, when YMax is above 0, fix the range of Y: charts to
	// compare side by side share it.
	YMin, YMax float64
}

// TimeChart draws lines over time with markers.
func TimeChart(name, title string, ax Axes, lines []Line, markers []Marker) *Chart {
	c := newChart(name, title, "time")
	p := c.plot
	p.X.Label.Text, p.Y.Label.Text = ax.X, ax.Y
	xmin, xmax := math.Inf(1), math.Inf(-1)
	for _, l := range lines {
		for _, seg := range segments(l, ax.LogY) {
			pl, err := plotter.NewLine(seg)
			if err != nil {
				continue
			}
			pl.LineStyle = lineStyle(l)
			if l.Steps {
				pl.StepStyle = plotter.PostStep
			}
			p.Add(pl)
			xmin, xmax = math.Min(xmin, seg[0].X), math.Max(xmax, seg[len(seg)-1].X)
		}
		c.addLegend(l.Name, legendLine(l))
	}
	if math.IsInf(xmin, 1) {
		xmin, xmax = 0, 1
	}
	lo, hi := YRange(lines, ax.LogY)
	if ax.YMax > 0 {
		lo, hi = ax.YMin, ax.YMax
	}
	p.Y.Min, p.Y.Max = lo, hi
	if ax.LogY {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, logTicks{}
	}
	if ax.LogX {
		p.X.Min, p.X.Max = xmin/1.2, xmax*1.2
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, logTicks{}
	} else {
		p.X.Min, p.X.Max = math.Min(0, xmin), xmax
		if xmax > 1 {
			p.X.Max = math.Ceil(xmax)
		}
		p.X.Tick.Marker = niceTicks{}
		if ax.Clock {
			p.X.Tick.Marker = clockTicks{}
		}
	}
	if len(markers) > 0 {
		p.Add(&markerLines{markers: markers})
	}
	return c
}

// YRange is the range of Y a time chart of these lines shows: from 0 (or,
// on a log scale, a little below the least value) to a little above the
// greatest.
func YRange(lines []Line, log bool) (lo, hi float64) {
	lo, hi = math.Inf(1), 0.0
	for _, l := range lines {
		for _, y := range l.Y {
			if y > 0 && !math.IsInf(y, 0) {
				lo, hi = math.Min(lo, y), math.Max(hi, y)
			}
		}
	}
	switch {
	case hi == 0:
		return 0, 1
	case log:
		return lo / 1.25, hi * 1.25
	}
	return 0, hi * 1.05
}

// LogWorthy says a chart of these lines reads better on a log scale:
// its greatest value is more than 20 times its typical one (a max line
// far above the median).
func LogWorthy(lines []Line) bool {
	var ys []float64
	for _, l := range lines {
		for _, y := range l.Y {
			if y > 0 {
				ys = append(ys, y)
			}
		}
	}
	if len(ys) < 2 {
		return false
	}
	slices.Sort(ys)
	return ys[len(ys)-1] > 20*ys[len(ys)/2]
}

// segments splits a line at its gaps (NaN, and on a log scale values
// that are not positive).
func segments(l Line, log bool) []plotter.XYs {
	var out []plotter.XYs
	var cur plotter.XYs
	for i, x := range l.X {
		y := l.Y[i]
		if math.IsNaN(y) || math.IsNaN(x) || log && y <= 0 {
			if len(cur) > 0 {
				out = append(out, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, plotter.XY{X: x, Y: y})
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func lineStyle(l Line) draw.LineStyle {
	s := draw.LineStyle{Color: l.Color, Width: 1.3}
	if l.Dashed {
		s.Dashes = []vg.Length{4, 2.5}
	}
	return s
}

// legendLine draws a line's sample in the legend.
func legendLine(l Line) plot.Thumbnailer {
	return &plotter.Line{LineStyle: lineStyle(l)}
}

// markerLines draws markers as dashed grey lines across the plot, each
// labelled at the top; labels that would overlap go a line lower, or, if
// three lines are taken, are left out.
type markerLines struct{ markers []Marker }

func (m *markerLines) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	ls := draw.LineStyle{Color: marker, Width: 0.8, Dashes: []vg.Length{3, 2}}
	ts := text.Style{Color: ink, Font: font.From(plot.DefaultFont, 9), Handler: p.Title.TextStyle.Handler}
	height := ts.Rectangle("M").Size().Y + 2
	var rowEnds [3]vg.Length
	for i := range rowEnds {
		rowEnds[i] = c.Min.X - 1
	}
	for _, mk := range m.markers {
		x := trX(mk.At)
		if x < c.Min.X || x > c.Max.X {
			continue
		}
		c.StrokeLine2(ls, x, c.Min.Y, x, c.Max.Y)
		w := ts.Rectangle(mk.Label).Size().X
		left := x + 2
		style := ts
		if left+w > c.Max.X {
			left, style.XAlign = x-2-w, draw.XRight
		}
		for row := range rowEnds {
			if left > rowEnds[row] {
				at := x + 2
				if style.XAlign == draw.XRight {
					at = x - 2
				}
				c.FillText(style, vg.Point{X: at, Y: c.Max.Y - vg.Length(row+1)*height}, mk.Label)
				rowEnds[row] = left + w + 4
				break
			}
		}
	}
}

// clockTicks mark a run of minutes at a round step of seconds, as m:ss.
type clockTicks struct{}

var clockSteps = []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200}

func (t clockTicks) Ticks(lo, hi float64) []plot.Tick {
	step := clockSteps[len(clockSteps)-1]
	for _, s := range clockSteps {
		if (hi-lo)/s <= 8 {
			step = s
			break
		}
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+1e-9; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: fmt.Sprintf("%d:%02d", int(v)/60, int(v)%60)})
	}
	return ticks
}

// niceTicks label 4 to 7 round values (steps of 1, 2, 2.5 or 5 times
// a power of ten), with as many decimals as the step needs.
type niceTicks struct{}

func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 4, 64)}}
	}
	raw := (hi - lo) / 6
	base := math.Pow(10, math.Floor(math.Log10(raw)))
	step, mantissa := 10*base, 10.0
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*base >= raw {
			step, mantissa = m*base, m
			break
		}
	}
	exp := int(math.Round(math.Log10(step / mantissa)))
	prec := max(0, -exp)
	if mantissa == 2.5 && exp <= 0 {
		prec++
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', prec, 64)})
	}
	return ticks
}

// logTicks label 1, 2 and 5 of each decade (1 alone over many decades),
// with the other digits as minor ticks.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	labelled := []float64{1, 2, 5}
	if hi/lo > 1e3 {
		labelled = []float64{1}
	}
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		base := math.Pow(10, e)
		for d := 1.0; d < 10; d++ {
			v := d * base
			if v < lo || v > hi {
				continue
			}
			tick := plot.Tick{Value: v}
			if slices.Contains(labelled, d) {
				tick.Label = strconv.FormatFloat(v, 'g', -1, 64)
			}
			ticks = append(ticks, tick)
		}
	}
	return ticks
}

// Dots is one series of a dot chart: a value per category (NaN where it
// has none), with an interval around it where Lo and Hi are given and
// the runs behind it drawn small where Runs are.
type Dots struct {
	Name  string
	Color color.Color
	// Reference series (the study's figures) are drawn as triangles.
	Reference bool
	Values    []float64
	Lo, Hi    []float64
	Runs      [][]float64
}

// DotChart draws one dot per category and series, the series side by
// side within each category.
func DotChart(name, title, xlabel, ylabel string, categories []string, series []Dots) *Chart {
	c := newChart(name, title, "dots")
	p := c.plot
	p.X.Label.Text, p.Y.Label.Text = xlabel, ylabel
	nominalX(p, categories)
	p.X.Min, p.X.Max = -0.5, float64(len(categories))-0.5
	hi := 0.0
	for si, s := range series {
		off := (float64(si) - float64(len(series)-1)/2) * 0.22
		var pts plotter.XYs
		var errs plotter.YErrors
		var bars plotter.XYs
		var runs plotter.XYs
		for i, v := range s.Values {
			x := float64(i) + off
			for _, r := range runAt(s.Runs, i) {
				runs = append(runs, plotter.XY{X: x, Y: r})
				hi = math.Max(hi, r)
			}
			if math.IsNaN(v) {
				continue
			}
			pts = append(pts, plotter.XY{X: x, Y: v})
			hi = math.Max(hi, v)
			if lo, up := at(s.Lo, i), at(s.Hi, i); !math.IsNaN(lo) && !math.IsNaN(up) {
				bars = append(bars, plotter.XY{X: x, Y: v})
				errs = append(errs, struct{ Low, High float64 }{v - lo, up - v})
				hi = math.Max(hi, up)
			}
		}
		if len(runs) > 0 {
			sc, _ := plotter.NewScatter(runs)
			sc.GlyphStyle = draw.GlyphStyle{Color: faded(s.Color), Radius: 2.5, Shape: draw.RingGlyph{}}
			p.Add(sc)
		}
		if len(bars) > 0 {
			eb, err := plotter.NewYErrorBars(errorBars{bars, errs})
			if err == nil {
				eb.LineStyle = draw.LineStyle{Color: s.Color, Width: 1.2}
				eb.CapWidth = 6
				p.Add(eb)
			}
		}
		glyph := draw.GlyphStyle{Color: s.Color, Radius: 4, Shape: draw.CircleGlyph{}}
		if s.Reference {
			glyph = draw.GlyphStyle{Color: s.Color, Radius: 4.5, Shape: draw.PyramidGlyph{}}
		}
		if len(pts) > 0 {
			sc, _ := plotter.NewScatter(pts)
			sc.GlyphStyle = glyph
			p.Add(sc)
		}
		c.addLegend(s.Name, &plotter.Scatter{GlyphStyle: glyph})
	}
	p.Y.Min, p.Y.Max = 0, math.Max(hi*1.08, 1e-9)
	return c
}

// nominalX names the categories under the X axis, and keeps its line
// (plot's NominalX drops it).
func nominalX(p *plot.Plot, categories []string) {
	p.NominalX(categories...)
	p.X.Width = 0.5
}

func at(vs []float64, i int) float64 {
	if i < len(vs) {
		return vs[i]
	}
	return math.NaN()
}

func runAt(runs [][]float64, i int) []float64 {
	if i < len(runs) {
		return runs[i]
	}
	return nil
}

func faded(c color.Color) color.Color {
	r, g, b, _ := c.RGBA()
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: 0x90}
}

// errorBars are points with their intervals, as plotter.YErrorBars reads
// them.
type errorBars struct {
	plotter.XYs
	plotter.YErrors
}

// Bars is one series of a bar chart: a value per category, NaN where it
// has none; Label writes a bar's value above it.
type Bars struct {
	Name   string
	Color  color.Color
	Values []float64
	Label  func(float64) string
}

// BarChart draws a group of bars per category.
func BarChart(name, title, ylabel string, categories []string, series []Bars) *Chart {
	c := newChart(name, title, "bars")
	p := c.plot
	p.Y.Label.Text = ylabel
	nominalX(p, categories)
	// The plot is the chart less its axis and legend, about 2.4 in: the
	// bars of a category take 70% of its share of that.
	w, _ := c.size()
	slot := (w - 2.4*vg.Inch) / vg.Length(len(categories)) * 0.7 / vg.Length(len(series))
	hi := 0.0
	for si, s := range series {
		vals := make(plotter.Values, len(categories))
		var labels plotter.XYLabels
		for i := range vals {
			if v := at(s.Values, i); !math.IsNaN(v) {
				vals[i] = v
				hi = math.Max(hi, v)
				if s.Label != nil {
					labels.XYs = append(labels.XYs, plotter.XY{X: float64(i), Y: v})
					labels.Labels = append(labels.Labels, s.Label(v))
				}
			}
		}
		b, err := plotter.NewBarChart(vals, slot)
		if err != nil {
			continue
		}
		b.Color, b.LineStyle.Width = s.Color, 0
		b.Offset = (vg.Length(si) - vg.Length(len(series)-1)/2) * slot
		p.Add(b)
		c.addLegend(s.Name, b)
		if l, err := plotter.NewLabels(labels); err == nil && len(labels.Labels) > 0 {
			for i := range l.TextStyle {
				l.TextStyle[i].Font.Size = 8.5
				l.TextStyle[i].Color = ink
				l.TextStyle[i].XAlign = draw.XCenter
			}
			l.Offset = vg.Point{X: b.Offset, Y: 2}
			p.Add(l)
		}
	}
	p.X.Min, p.X.Max = -0.5, float64(len(categories))-0.5
	p.Y.Min, p.Y.Max = 0, math.Max(hi*1.15, 1e-9)
	return c
}
