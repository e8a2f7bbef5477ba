package htmlreport

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"perflab/engine"
	"perflab/engine/report"
	"perflab/engine/threshold"
	"perflab/experiments"
	"perflab/experiments/fishial"
)

func snapshot(second int, done bool) *engine.Snapshot {
	f := engine.Figures{Requests: 20, Answered: 20, RPS: 20, Min: time.Millisecond, Mean: 3 * time.Millisecond, P50: 2 * time.Millisecond,
		P90: 5 * time.Millisecond, P95: 6 * time.Millisecond, P99: 9 * time.Millisecond, Max: 12 * time.Millisecond}
	s := engine.Series{Name: engine.AllSeries, Last: f, Run: f, LastService: f, RunService: f}
	return &engine.Snapshot{Elapsed: time.Duration(second) * time.Second, Second: second, Done: done,
		Load: engine.Load{Model: "open", Rate: 20}, All: s, Steps: []engine.Series{{Name: "url", Last: f, Run: f}}}
}

// TestOutputWritesThePageAtClose: --report's output writes nothing until
// the session closes, then the page of what it saw, in one piece: a run
// in the open model has its service time charted beside the corrected
// latency, and its thresholds tabulated.
func TestOutputWritesThePageAtClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.html")
	th, _ := threshold.Parse("p(99)<5ms")
	out, err := report.New("html", report.Dest{Path: path, KnobColumns: experiments.KnobColumns(), Thresholds: []threshold.Threshold{th}})
	if err != nil {
		t.Fatal(err)
	}
	out.Write(report.Begin{Labels: report.Labels{Run: 1, Repeat: 1}, Index: 0, Total: 1, Repeats: 1})
	for s := 1; s <= 3; s++ {
		out.Write(snapshot(s, false))
	}
	out.Write(snapshot(3, true))
	if _, err := os.Stat(path); err == nil {
		t.Fatal("the page was written before the session closed")
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Load runs against a URL", "open model, 20 req/s scheduled", "latency from the schedule (corrected)",
		"service time (from the send)", "throughput and errors", "p(99)&lt;5ms", "9.00ms", "FAILED", "service p50"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".run.html.*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestOutputOfARace: the same output, handed a race's events, writes the
// race's page.
func TestOutputOfARace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "race.html")
	out, err := report.New("html", report.Dest{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	out.Write(fishial.Start{Config: fishial.DefaultConfig()})
	res := fishial.Result{Strategy: "async", Images: 2, Workers: 1, Seconds: 0.9, IdealSeconds: 0.85, Speedup: 38, CPUSeconds: 0.04, ImagesPerCPUSecond: 50}
	for _, p := range []fishial.Progress{{Strategy: "async", Done: 1, Total: 2, Elapsed: 800 * time.Millisecond},
		{Strategy: "async", Done: 2, Total: 2, Elapsed: 900 * time.Millisecond}, {Strategy: "async", Done: 2, Total: 2, Elapsed: 900 * time.Millisecond, Result: &res}} {
		out.Write(p)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(path)
	for _, want := range []string{"The Fishial race", "wall time per strategy", "CPU per image", "20.00"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(string(html), "Load runs") {
		t.Error("a race's page has a load section")
	}
}

func TestReadTellsFilesApart(t *testing.T) {
	cases := []struct {
		name, in string
		want     error
	}{
		{"empty", "", report.ErrEmpty},
		{"text", "hello\n", ErrNotRecorded},
		{"load header", strings.Join(report.Columns, ",") + "\n", report.ErrNoRows},
		{"race header", strings.Join(fishial.Columns, ",") + "\n", report.ErrNoRows},
	}
	for _, c := range cases {
		if _, err := Read(c.name, strings.NewReader(c.in)); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}
