package experiments

import (
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"perflab/engine"
	"perflab/engine/report"
	"perflab/engine/report/page"
)

// recordedSweep is a likes sweep, workers 1 and 4 without the cache
// under the study's conditions, each run n times, as the csv output
// writes it: workers=4 is slower, and its runs spread.
func recordedSweep(t *testing.T, n int) *report.Recording {
	t.Helper()
	var b strings.Builder
	out, err := report.New("csv", report.Dest{W: &b, KnobColumns: KnobColumns()})
	if err != nil {
		t.Fatal(err)
	}
	snap := func(second int, mean time.Duration, done bool) *engine.Snapshot {
		f := engine.Figures{Requests: 50, Answered: 50, RPS: 50, Min: mean / 4, Mean: mean, P50: mean, P90: 2 * mean, P95: 2 * mean, P99: 3 * mean, Max: 4 * mean}
		series := func(name string) engine.Series { return engine.Series{Name: name, Last: f, Run: f} }
		likes := series("likes")
		// The twin's Server-Timing: more workers, less queue, more db.
		for _, part := range []struct {
			name string
			p50  time.Duration
		}{{"queue", mean / 2}, {"db", mean / 3}, {engine.TimingRest, time.Millisecond}} {
			pf := engine.Figures{Requests: 50, Answered: 50, P50: part.p50}
			likes.Timing = append(likes.Timing, engine.Timing{Name: part.name, Last: pf, Run: pf})
		}
		return &engine.Snapshot{Elapsed: time.Duration(second) * time.Second, Second: second, Done: done, Load: engine.Load{Model: "closed", VUs: 50},
			All: series(engine.AllSeries), Steps: []engine.Series{series("signin"), likes}}
	}
	for rep := 1; rep <= n; rep++ {
		for run, workers := range []string{"1", "4"} {
			s := Likes.Defaults()
			s["workers"] = workers
			l := Likes.Labels(s, run+1)
			l.Repeat = rep
			out.Write(report.Begin{Labels: l, Settings: s, Config: Likes.Describe(s), Measured: "likes", Repeats: n})
			mean := time.Duration(90+60*run+rep) * time.Millisecond
			for sec := 1; sec <= 3; sec++ {
				out.Write(snap(sec, mean, false))
			}
			out.Write(snap(3, mean, true))
		}
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	rec, err := report.ReadRecording(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestLoadSectionOfASweep: a sweep's section charts each configuration
// beside the study, with intervals once there are six runs, tabulates
// the runs and the study's table with its conclusions tested, and has a
// section per run with its latency and throughput over time.
func TestLoadSectionOfASweep(t *testing.T) {
	s := LoadSection("likes.csv: the likes experiment", "likes", recordedSweep(t, 6))
	var names []string
	for _, c := range s.Charts {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, " "); got != "likes-mean-per-configuration likes-throughput-per-configuration" {
		t.Errorf("charts %q", got)
	}
	if len(s.Sections) != 12 || !s.Sections[0].Folded {
		t.Fatalf("%d run sections (folded %v), want 12, folded", len(s.Sections), s.Sections[0].Folded)
	}
	if run := s.Sections[6]; run.Title != "run 2: workers=4" || len(run.Charts) != 2 || run.Charts[0].Name != "likes-run-2-latency" {
		t.Errorf("second run's section %q with %d charts", run.Title, len(run.Charts))
	}
	html, err := (&page.Page{Title: "t", Sections: []*page.Section{s}}).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	text := string(html)
	for _, want := range []string{
		"Every run: mode=sync cache=off query=naive profile=django",
		"The study&#39;s lesson",
		"whiskers for the median", "triangles are the study",
		"Summary of each run (likes; latency in ms)",
		"100.58", // the study's mean for sync, 1 worker, no cache
		"152.90", // and for 4 workers
		"more workers do not help (workers 1 -&gt; 4", // the claim, tested
		"holds (p=",
		"Where the time went in the likes step", // the Server-Timing split
		"workers 1 -&gt; 4 (mode=sync cache=off query=naive profile=django db=sqlite db-conn=per-request): queue p50 &#43;30.0 ms, db p50 &#43;20.0 ms",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the section lacks %q", want)
		}
	}
	// Six runs a configuration: whiskers, in the dot chart's colour.
	if n := strings.Count(text, "stroke:#1F77B4;stroke-width:1.2"); n != 2*2*3 {
		t.Errorf("%d whisker strokes, want 12 (2 charts x 2 configurations x bar and caps)", n)
	}
}

// TestLoadSectionOfOneRun: a single run against a URL has no chart per
// configuration and no study, its runs unfolded.
func TestLoadSectionOfOneRun(t *testing.T) {
	rec := recordedSweep(t, 1)
	rec.Runs = rec.Runs[:1]
	for _, r := range rec.Runs {
		r.Experiment = ""
	}
	s := LoadSection("url.csv", "url", rec)
	if len(s.Charts) != 0 || len(s.Sections) != 1 || s.Sections[0].Folded {
		t.Fatalf("%d charts, %d runs: want none and one, open", len(s.Charts), len(s.Sections))
	}
	if !strings.Contains(s.Notes[0], "Load runs against a URL: 1 run of 3 s; closed model, 50 users. Figures are of every request") {
		t.Errorf("intro %q", s.Notes[0])
	}
	if len(s.Tables) != 1 {
		t.Errorf("%d tables, want the summary alone", len(s.Tables))
	}
}

// TestLoadSectionOfARunCutAtOnce: a run that recorded its first stage
// and nothing else still has its place on the page.
func TestLoadSectionOfARunCutAtOnce(t *testing.T) {
	rec := recordedSweep(t, 1)
	rec.Runs = append(rec.Runs, &report.RunRecord{Run: 3, Repeat: 1, Experiment: "likes", Knobs: rec.Runs[1].Knobs,
		Intervals: map[string][]report.Row{}, Summary: map[string]report.Row{},
		Events: []report.RecordedEvent{{At: 0, What: "stage 1/2 → 10 users"}}})
	s := LoadSection("cut.csv", "cut", rec)
	last := s.Sections[len(s.Sections)-1]
	if !strings.HasPrefix(last.Title, "run 3") || len(last.Notes) != 1 {
		t.Errorf("last run %q, notes %q: want run 3 saying it recorded no second", last.Title, last.Notes)
	}
	if _, err := (&page.Page{Sections: []*page.Section{s}}).Bytes(); err != nil {
		t.Fatal(err)
	}
}

// TestLoadSectionOfARunWithoutAnswers: a run in which no answer ended
// says so instead of drawing an empty latency chart.
func TestLoadSectionOfARunWithoutAnswers(t *testing.T) {
	var b strings.Builder
	w := csv.NewWriter(&b)
	header := report.Columns
	w.Write(header)
	row := make([]string, len(header))
	for i, c := range header {
		switch c {
		case "kind":
			row[i] = "interval"
		case "run", "repeat", "elapsed_s":
			row[i] = "1"
		case "series":
			row[i] = "all"
		case "requests", "errors", "rps":
			row[i] = "0"
		}
	}
	w.Write(row)
	w.Flush()
	rec, err := report.ReadRecording(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	s := LoadSection("none.csv", "none", rec)
	run := s.Sections[0]
	if len(run.Charts) != 1 || run.Charts[0].Name != "none-run-1-throughput" || len(run.Notes) != 1 {
		t.Errorf("charts %d, notes %q: want the throughput alone and a note", len(run.Charts), run.Notes)
	}
}
