package page

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gonum.org/v1/plot"
)

func samplePage() *Page {
	x := []float64{0.5, 1.5, 2.5, 3.5}
	lat := TimeChart("run-1-latency", "latency each second", Axes{X: "s", Y: "ms"},
		[]Line{{Name: "p50", X: x, Y: []float64{1, 2, math.NaN(), 2}, Color: Blue}, {Name: "p99", X: x, Y: []float64{5, 9, 7, 6}, Color: Red}},
		[]Marker{{At: 1, Label: "workers=4"}, {At: 2, Label: "stage 2/3 → 50 users"}})
	nan := math.NaN()
	dots := DotChart("mean-per-configuration", "mean per configuration", "workers", "ms", []string{"1", "2", "4"}, []Dots{
		{Name: "perflab", Color: Blue, Values: []float64{10, 20, 30}, Lo: []float64{8, nan, 25}, Hi: []float64{12, nan, 33},
			Runs: [][]float64{{9, 10, 11}, nil, {26, 30, 31}}},
		{Name: "the study", Color: Orange, Reference: true, Values: []float64{12, nan, 28}},
	})
	bars := BarChart("wall-time", "wall time", "s", []string{"sequential", "async"}, []Bars{
		{Name: "perflab", Color: Blue, Values: []float64{34.2, 0.87}, Label: func(v float64) string { return "x" }},
		{Name: "ideal", Color: Teal, Values: []float64{34, 0.85}},
	})
	return &Page{Title: "perflab report: <run>.csv", Lines: []string{"made from a test"}, Sections: []*Section{{
		Title: "likes.csv: the likes experiment", Warnings: []string{"cut short"}, Notes: []string{"a note"},
		Charts:   []*Chart{dots},
		Tables:   []*Table{{Caption: "thresholds", Header: []string{"threshold", "value", ""}, Rows: [][]string{{"p(99)<250ms", "12.00ms", "ok"}, {"rps>1000", "40.0/s", "FAILED"}}}},
		Sections: []*Section{{Title: "run 1", Charts: []*Chart{lat}}, {Title: "run 2", Charts: []*Chart{bars}, Folded: true}},
	}}}
}

// TestPageIsSelfContained: the page inlines its charts and styles and
// refers to nothing outside itself (an SVG namespace is a name, not a
// request), escapes its text, and marks ok and FAILED.
func TestPageIsSelfContained(t *testing.T) {
	data, err := samplePage().Bytes()
	if err != nil {
		t.Fatal(err)
	}
	html := string(data)
	if n := strings.Count(html, "<svg "); n != 3 {
		t.Errorf("%d inline SVG charts, want 3", n)
	}
	if strings.Contains(html, "<?xml") {
		t.Error("an SVG prolog inside the page")
	}
	for _, ref := range regexp.MustCompile(`(?i)(src|href)\s*=\s*"([^"]*)"`).FindAllStringSubmatch(html, -1) {
		if !strings.HasPrefix(ref[2], "data:") && !strings.HasPrefix(ref[2], "#") {
			t.Errorf("the page refers to %q", ref[0])
		}
	}
	if strings.Contains(html, "@import") || strings.Contains(html, "url(") {
		t.Error("the styles load something")
	}
	for _, want := range []string{"perflab report: &lt;run&gt;.csv", `<td class="ok">ok</td>`, `<td class="fail">FAILED</td>`,
		`<td class="num">12.00ms</td>`, `class="warn"`, "<details", "workers=4", "stage 2/3 → 50 users",
		`data-chart="run-1-latency" data-kind="time"`, `data-kind="dots"`, `data-kind="bars"`} {
		if !strings.Contains(html, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// TestDotChartDrawsIntervals: whiskers where an interval is given and
// not elsewhere, a small ring per run, and the reference series apart.
func TestDotChartDrawsIntervals(t *testing.T) {
	p := samplePage()
	svg, err := p.Sections[0].Charts[0].svg()
	if err != nil {
		t.Fatal(err)
	}
	s := string(svg)
	// Error bars: a vertical stroke and two caps each, in the series'
	// colour, for the two configurations with an interval.
	if n := strings.Count(s, "stroke:#1F77B4;stroke-width:1.2"); n != 2*3 {
		t.Errorf("%d whisker strokes, want 6 (2 intervals x bar and 2 caps)", n)
	}
	if n := strings.Count(s, `style="fill:#1F77B4"`); n != 3+1 {
		t.Errorf("%d filled dots, want 3 and the legend's", n)
	}
	if n := strings.Count(s, "stroke-opacity"); n != 6 {
		t.Errorf("%d run rings, want 6", n)
	}
	if n := strings.Count(s, `fill:#E67E0E`); n != 2+1 {
		t.Errorf("%d reference marks, want 2 and the legend's", n)
	}
}

// TestTimeChartBreaksAtGaps: a second with no answer (NaN) is a gap in
// its line, not a drop to zero.
func TestTimeChartBreaksAtGaps(t *testing.T) {
	segs := segments(Line{X: []float64{1, 2, 3, 4}, Y: []float64{1, math.NaN(), 3, 4}}, false)
	if len(segs) != 2 || len(segs[0]) != 1 || len(segs[1]) != 2 {
		t.Fatalf("segments %v, want [1] and [3 4]", segs)
	}
	if segs := segments(Line{X: []float64{1, 2}, Y: []float64{0, 5}}, true); len(segs) != 1 || len(segs[0]) != 1 {
		t.Fatalf("on a log scale a 0 is a gap: %v", segs)
	}
}

func TestTicks(t *testing.T) {
	cases := []struct {
		name   string
		ticker plot.Ticker
		lo, hi float64
		want   string
	}{
		{"nice 0..27", niceTicks{}, 0, 27, "0 5 10 15 20 25"},
		{"nice 0..2.7", niceTicks{}, 0, 2.7, "0.0 0.5 1.0 1.5 2.0 2.5"},
		{"nice 0..0.26", niceTicks{}, 0, 0.26, "0.00 0.05 0.10 0.15 0.20 0.25"},
		{"nice 0..1100", niceTicks{}, 0, 1100, "0 200 400 600 800 1000"},
		{"nice 0..1.4", niceTicks{}, 0, 1.4, "0.00 0.25 0.50 0.75 1.00 1.25"},
		{"clock 10 min", clockTicks{}, 0, 600, "0:00 2:00 4:00 6:00 8:00 10:00"},
		{"log 0.5..120", logTicks{}, 0.5, 120, "0.5 1 2 5 10 20 50 100"},
		{"log 0.01..500", logTicks{}, 0.01, 500, "0.01 0.1 1 10 100"},
	}
	for _, c := range cases {
		var labels []string
		for _, tk := range c.ticker.Ticks(c.lo, c.hi) {
			if tk.Label != "" {
				labels = append(labels, tk.Label)
			}
		}
		if got := strings.Join(labels, " "); got != c.want {
			t.Errorf("%s: ticks %q, want %q", c.name, got, c.want)
		}
	}
}

// TestWritePNGs: one PNG per chart, named after it, at the resolution
// asked.
func TestWritePNGs(t *testing.T) {
	dir := t.TempDir()
	paths, err := samplePage().WritePNGs(dir, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"mean-per-configuration.png", "run-1-latency.png", "wall-time.png"}
	if len(paths) != len(want) {
		t.Fatalf("wrote %v, want %v", paths, want)
	}
	for i, p := range paths {
		if filepath.Base(p) != want[i] {
			t.Errorf("file %s, want %s", p, want[i])
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if w := img.Bounds().Dx(); w != 750 {
			t.Errorf("%s is %d px wide, want 7.5 in at 100 dpi", p, w)
		}
	}
}
