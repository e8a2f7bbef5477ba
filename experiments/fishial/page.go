package fishial

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"perflab/engine/report"
	"perflab/engine/report/page"
)

// A race on the report page: each strategy's wall time beside its ideal
// (and the study's, where the race was the study's), its CPU per image,
// the images recognised over time, and the table the terminal prints.

// ErrNotRaceCSV says a file is not a Fishial race's CSV.
var ErrNotRaceCSV = errors.New("not a perflab Fishial race CSV")

// RecordedRace is a race's CSV read back.
type RecordedRace struct {
	// Results are the strategies that finished, in the race's order.
	Results []Result
	// Progress are each strategy's progress rows: seconds since it
	// started at each image it finished.
	Progress map[string][]float64
	// Strategies are every strategy with a row, in the race's order.
	Strategies []string
	// CutShort says why the file looks cut short, "" when it does not.
	CutShort []string
}

// ReadRace reads a race's CSV written by the fishial-csv output. A file
// cut short is read as far as it goes, and CutShort says so.
func ReadRace(r io.Reader) (*RecordedRace, error) {
	t, err := report.ReadTable(r)
	if err != nil {
		if errors.Is(err, report.ErrEmpty) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrNotRaceCSV, err)
	}
	if !t.HasPrefix(Columns[:9]) {
		return nil, fmt.Errorf("%w: its header does not start with %s", ErrNotRaceCSV, strings.Join(Columns[:4], ","))
	}
	race := &RecordedRace{Progress: map[string][]float64{}}
	if t.CutShort != "" {
		race.CutShort = append(race.CutShort, t.CutShort)
	}
	finished := map[string]bool{}
	for i := range t.Rows {
		row := t.Row(i)
		strategy := row.Cell("strategy")
		if _, seen := race.Progress[strategy]; !seen {
			race.Strategies = append(race.Strategies, strategy)
			race.Progress[strategy] = nil
		}
		switch row.Cell("kind") {
		case "progress":
			race.Progress[strategy] = append(race.Progress[strategy], row.Num("seconds"))
		case "summary":
			finished[strategy] = true
			race.Results = append(race.Results, Result{Strategy: strategy, Images: row.Int("images", 0), Workers: row.Int("workers", 1),
				Seconds: row.Num("seconds"), IdealSeconds: row.Num("ideal_seconds"), Speedup: row.Num("speedup"),
				CPUSeconds: row.Num("cpu_seconds"), ImagesPerCPUSecond: row.Num("images_per_cpu_second")})
		}
	}
	if len(race.Strategies) == 0 {
		return nil, report.ErrNoRows
	}
	for _, s := range race.Strategies {
		if !finished[s] {
			race.CutShort = append(race.CutShort, fmt.Sprintf("%s stopped after %d images, without its summary", s, len(race.Progress[s])))
		}
	}
	return race, nil
}

// comparable reports whether the study's figure for r's strategy
// measures the same thing: its 40 images at the study's latencies (an
// ideal within a factor of two of the study's time; a time-scaled
// race's is ten times off).
func comparable(r Result) (StudyRow, bool) {
	s, ok := StudyFor(r.Strategy)
	return s, ok && r.Images == StudyImages && r.IdealSeconds > s.Seconds/2 && r.IdealSeconds < 2*s.Seconds
}

// Section is the page's section for a recorded race; prefix starts its
// charts' names.
func Section(title, prefix string, race *RecordedRace) *page.Section {
	s := &page.Section{Title: title}
	if len(race.CutShort) > 0 {
		s.Warnings = []string{"This race was cut short (" + strings.Join(race.CutShort, "; ") + "); the page shows what it holds."}
	}
	var names []string
	var wall, ideal, study, cpu []float64
	anyStudy := false
	for _, r := range race.Results {
		names = append(names, r.Strategy)
		wall, ideal = append(wall, r.Seconds), append(ideal, r.IdealSeconds)
		cpu = append(cpu, 1000*r.CPUSeconds/float64(max(1, r.Images)))
		if st, ok := comparable(r); ok {
			study, anyStudy = append(study, st.Seconds), true
		} else {
			study = append(study, math.NaN())
		}
	}
	if len(race.Results) > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("%s, %d images each.", plural(len(race.Results), "strategy", "strategies"), race.Results[0].Images))
		seconds := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) + " s" }
		bars := []page.Bars{
			{Name: "perflab", Color: page.Blue, Values: wall, Label: seconds},
			{Name: "ideal", Color: page.Teal, Values: ideal},
		}
		if anyStudy {
			bars = append(bars, page.Bars{Name: "the study", Color: page.Orange, Values: study})
		}
		w := page.BarChart(prefix+"-wall-time", "wall time per strategy", "seconds", names, bars)
		w.Caption = "Each strategy's wall time beside its ideal (the API's waits with zero overhead)"
		if anyStudy {
			w.Caption += " and the study's time"
		}
		w.Caption += "."
		c := page.BarChart(prefix+"-cpu-per-image", "CPU per image", "ms of CPU", names, []page.Bars{
			{Name: "perflab", Color: page.Purple, Values: cpu, Label: func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }},
		})
		c.Caption = "CPU (user + system) of every process a strategy started, per image: what waiting costs."
		s.Charts = append(s.Charts, w, c)
	}
	if p := progressChart(prefix, race); p != nil {
		s.Charts = append(s.Charts, p)
	}
	if len(race.Results) > 0 {
		s.Tables = append(s.Tables, raceTable(race.Results))
		if !anyStudy {
			s.After = append(s.After, fmt.Sprintf("The study's figures are for %d images at time-scale 1, which this race did not run.", StudyImages))
		}
	}
	s.After = append(s.After, strings.ReplaceAll(Lesson, "\n", " "))
	return s
}

// progressChart is each strategy's images recognised over time, on a log
// time scale when the strategies' lengths differ tenfold (they do: the
// study's race spans 40x).
func progressChart(prefix string, race *RecordedRace) *page.Chart {
	lo, hi := math.Inf(1), 0.0
	for _, s := range race.Strategies {
		if at := race.Progress[s]; len(at) > 0 {
			lo, hi = math.Min(lo, at[len(at)-1]), math.Max(hi, at[len(at)-1])
		}
	}
	if hi == 0 {
		return nil
	}
	ax := page.Axes{X: "seconds since the strategy started", Y: "images recognised", LogX: hi > 10*lo}
	if ax.LogX {
		ax.X += " (log scale)"
	}
	var lines []page.Line
	for i, s := range race.Strategies {
		at := race.Progress[s]
		if len(at) == 0 {
			continue
		}
		l := page.Line{Name: s, Color: page.Palette[i%len(page.Palette)], Steps: true}
		if !ax.LogX {
			l.X, l.Y = []float64{0}, []float64{0} // every strategy starts from none
		}
		for n, sec := range at {
			l.X, l.Y = append(l.X, sec), append(l.Y, float64(n+1))
		}
		lines = append(lines, l)
	}
	c := page.TimeChart(prefix+"-progress", "images recognised over time", ax, lines, nil)
	c.Caption = "Each finished image raises its strategy's line by one."
	return c
}

// raceTable is the race beside the study's table.
func raceTable(results []Result) *page.Table {
	t := &page.Table{Caption: "The race, beside the study's table",
		Header: []string{"strategy", "resources", "wall s", "ideal s", "vs ideal", "speed-up", "CPU s", "CPU ms per image", "images per CPU s", "study", "study s", "study speed-up"}}
	for _, r := range results {
		row := []string{r.Strategy, resources(r.Strategy, r.Workers), num(r.Seconds, 3), num(r.IdealSeconds, 3),
			fmt.Sprintf("%+.1f%%", 100*r.VsIdeal()), num(r.Speedup, 1) + "x", num(r.CPUSeconds, 3),
			num(1000*r.CPUSeconds/float64(max(1, r.Images)), 2), num(r.ImagesPerCPUSecond, 0)}
		if st, ok := StudyFor(r.Strategy); ok {
			row = append(row, st.Resources, num(st.Seconds, 2), num(st.Speedup, 1)+"x")
		} else {
			row = append(row, "-", "-", "-")
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}
