// Package page writes a report of recorded runs as one self-contained
// HTML page: sections of charts (SVG drawn by gonum.org/v1/plot, inlined)
// and tables, with its styles inside, so it opens anywhere without a
// network. The same charts can be written as PNG files for slides.
//
// A Page is data: sections hold charts, tables and notes, and know
// nothing of where they came from. The charts a load run or a race
// needs are built by the constructors in chart.go.
package page

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Page is the whole report.
type Page struct {
	Title string
	// Lines say what the page is of, one paragraph each, under the title.
	Lines    []string
	Sections []*Section
}

// Section is a part of the page: a file, or a run inside it.
type Section struct {
	Title string
	// Warnings say what is wrong with what the section shows (a file cut
	// short); they stand out above everything else.
	Warnings []string
	Notes    []string
	Charts   []*Chart
	Tables   []*Table
	// After are notes that follow the tables: what a table's marks mean.
	After []string
	// Sections nest one level: a file's runs.
	Sections []*Section
	// Folded sections start closed, their title a line to click; for
	// sessions of many runs.
	Folded bool
}

// Table is a table of text cells. A cell that reads "FAILED" is marked
// as a failure, "ok" as a pass; cells that start with a digit are set
// right-aligned.
type Table struct {
	Caption string
	Header  []string
	Rows    [][]string
}

// Charts are every chart of the page, in page order.
func (p *Page) Charts() []*Chart {
	var out []*Chart
	var walk func([]*Section)
	walk = func(ss []*Section) {
		for _, s := range ss {
			out = append(out, s.Charts...)
			walk(s.Sections)
		}
	}
	walk(p.Sections)
	return out
}

// nameCleaner keeps file names and ids to letters, digits and dashes.
var nameCleaner = regexp.MustCompile(`[^a-z0-9]+`)

// Slug makes a name fit for a file or an element id: "Run 3: workers=4"
// becomes "run-3-workers-4".
func Slug(s string) string {
	return strings.Trim(nameCleaner.ReplaceAllString(strings.ToLower(s), "-"), "-")
}

// uniqueNames gives every chart a distinct file name, numbering repeats.
func (p *Page) uniqueNames() map[*Chart]string {
	names := map[*Chart]string{}
	seen := map[string]int{}
	for _, c := range p.Charts() {
		name := Slug(c.Name)
		if name == "" {
			name = "chart"
		}
		seen[name]++
		if n := seen[name]; n > 1 {
			name = fmt.Sprintf("%s-%d", name, n)
		}
		names[c] = name
	}
	return names
}

// WritePNGs writes every chart to dir as NAME.png, at dpi dots per inch,
// and returns the files' paths.
func (p *Page) WritePNGs(dir string, dpi int) ([]string, error) {
	names := p.uniqueNames()
	var paths []string
	for _, c := range p.Charts() {
		w, h := c.size()
		canvas := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi))}
		c.draw(draw.New(canvas))
		var b bytes.Buffer
		if _, err := canvas.WriteTo(&b); err != nil {
			return paths, fmt.Errorf("draw %s: %w", c.Name, err)
		}
		path := filepath.Join(dir, names[c]+".png")
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// svgProlog is what vgsvg writes before the <svg> element, which an
// HTML page does not want.
var svgProlog = regexp.MustCompile(`(?s)^.*?<svg`)

// svg draws a chart as an SVG element for the page.
func (c *Chart) svg() (template.HTML, error) {
	w, h := c.size()
	canvas := vgsvg.New(w, h)
	c.draw(draw.New(canvas))
	var b bytes.Buffer
	if _, err := canvas.WriteTo(&b); err != nil {
		return "", fmt.Errorf("draw %s: %w", c.Name, err)
	}
	el := svgProlog.ReplaceAllString(b.String(), `<svg role="img" aria-label="`+template.HTMLEscapeString(c.Title)+`"`)
	return template.HTML(el), nil // vgsvg escapes the text it writes
}

// WriteHTML writes the page.
func (p *Page) WriteHTML(w io.Writer) error {
	svgs := map[*Chart]template.HTML{}
	for _, c := range p.Charts() {
		s, err := c.svg()
		if err != nil {
			return err
		}
		svgs[c] = s
	}
	names := p.uniqueNames()
	funcs := template.FuncMap{
		"svg":  func(c *Chart) template.HTML { return svgs[c] },
		"name": func(c *Chart) string { return names[c] },
		"cell": cellClass,
		"slug": Slug,
	}
	t, err := template.New("page").Funcs(funcs).Parse(pageTemplate)
	if err != nil {
		return err
	}
	return t.Execute(w, p)
}

// Bytes renders the page.
func (p *Page) Bytes() ([]byte, error) {
	var b bytes.Buffer
	err := p.WriteHTML(&b)
	return b.Bytes(), err
}

// cellClass styles a table cell by what it says.
func cellClass(s string) string {
	switch {
	case s == "FAILED" || strings.HasPrefix(s, "reversed"):
		return "fail"
	case s == "ok" || strings.HasPrefix(s, "holds"):
		return "ok"
	case numeric.MatchString(s):
		return "num"
	}
	return ""
}

// numeric matches a figure: a number, with a unit, a percent sign, an
// interval ("152.9 ±3%") or "x" after it; "-" alone is a missing one.
var numeric = regexp.MustCompile(`^(-|[-+]?[0-9][0-9.,]*(%|x|ms|µs|s|/s| s| ±.*| of [0-9]+)?)$`)

// size is a chart's size on the page and in a PNG.
func (c *Chart) size() (vg.Length, vg.Length) {
	if c.Width == 0 {
		return 7.5 * vg.Inch, 3.2 * vg.Inch
	}
	return c.Width, c.Height
}

const pageTemplate = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{{.Title}}</title>
<style>
body { font: 15px/1.45 "Liberation Sans", Arial, Helvetica, sans-serif; color: #1a1a1a; background: #fff; margin: 0 auto; padding: 1.2em 2em 3em; max-width: 1600px; }
h1 { font-size: 1.6em; margin: 0 0 .2em; }
h2 { font-size: 1.3em; margin: 1.6em 0 .4em; border-bottom: 2px solid #1f5f99; padding-bottom: .15em; }
h3, summary { font-size: 1.08em; font-weight: bold; margin: 1.2em 0 .3em; }
summary { cursor: pointer; }
p { margin: .3em 0; max-width: 70em; }
.meta { color: #555; }
.warn { background: #fff4d6; border-left: 4px solid #e0a000; padding: .4em .7em; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: .6em 1.4em; margin: .6em 0; }
figure.chart { margin: 0; }
figure.chart svg { width: 100%; height: auto; display: block; }
figure.chart svg text { font-family: "Liberation Sans", Arial, Helvetica, sans-serif !important; }
figcaption { font-size: .9em; color: #444; }
table { border-collapse: collapse; margin: .7em 0 1em; font-size: .92em; }
caption { text-align: left; font-weight: bold; padding: .2em 0 .4em; }
th, td { padding: .2em .6em; border-bottom: 1px solid #ddd; text-align: left; white-space: nowrap; }
th { background: #f0f4f8; border-bottom: 2px solid #c8d4e0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.ok { color: #176b2c; font-weight: bold; }
td.fail { color: #b00020; font-weight: bold; }
.run { margin-left: .4em; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{range .Lines}}<p class="meta">{{.}}</p>
{{end}}
{{- range .Sections}}{{template "section" .}}{{end}}
</body>
</html>
{{define "section"}}<section id="{{slug .Title}}"><h2>{{.Title}}</h2>
{{template "body" .}}
{{- range .Sections}}{{template "run" .}}{{end}}
</section>
{{end}}
{{define "run"}}
{{- if .Folded}}<details class="run" id="{{slug .Title}}"><summary>{{.Title}}</summary>
{{- else}}<section class="run" id="{{slug .Title}}"><h3>{{.Title}}</h3>{{end}}
{{template "body" .}}
{{- if .Folded}}</details>{{else}}</section>{{end}}
{{end}}
{{define "body"}}
{{- range .Warnings}}<p class="warn">{{.}}</p>
{{end}}
{{- range .Notes}}<p>{{.}}</p>
{{end}}
{{- if .Charts}}<div class="charts">
{{range .Charts}}<figure class="chart" data-chart="{{name .}}" data-kind="{{.Kind}}">{{svg .}}<figcaption>{{.Caption}}</figcaption></figure>
{{end}}</div>
{{end}}
{{- range .Tables}}<table>{{if .Caption}}<caption>{{.Caption}}</caption>{{end}}
<thead><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr>{{range .}}<td class="{{cell .}}">{{.}}</td>{{end}}</tr>
{{end}}</tbody></table>
{{end}}
{{- range .After}}<p class="meta">{{.}}</p>
{{end}}
{{- end}}`
