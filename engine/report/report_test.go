package report

import (
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"perflab/engine"
)

func figures(n int64, p50 time.Duration) engine.Figures {
	return engine.Figures{Requests: n, Answered: n, RPS: float64(n), Min: p50 / 2, Mean: p50, P50: p50, P90: 2 * p50, P95: 3 * p50, P99: 4 * p50, Max: 5 * p50}
}

func snapshot(second int, done bool) *engine.Snapshot {
	series := func(name string) engine.Series {
		f := figures(40, 100*time.Millisecond)
		return engine.Series{Name: name, Last: f, Run: f, LastService: f, RunService: f}
	}
	return &engine.Snapshot{
		Elapsed: time.Duration(second) * time.Second, Second: second, Done: done,
		Load:   engine.Load{Model: "closed", VUs: 50},
		All:    series(engine.AllSeries),
		Steps:  []engine.Series{series("signin"), series("likes")},
		Checks: []engine.Check{{Name: "status was 200", Step: "likes", Passed: 39, Failed: 1}},
	}
}

func TestCSVRows(t *testing.T) {
	var b strings.Builder
	w, err := NewCSV(&b, []string{"workers", "mode", "cache", "query", "offload", "profile"})
	if err != nil {
		t.Fatal(err)
	}
	w.SetLabels(Labels{Run: 2, Experiment: "likes", Knobs: map[string]string{"workers": "4", "mode": "sync", "cache": "off"}})
	// A snapshot that closes no second writes nothing.
	mid := snapshot(0, false)
	final := snapshot(0, true)
	final.All.Run.Unfinished, final.All.Run.Retries = 3, 2
	for _, s := range []*engine.Snapshot{snapshot(1, false), mid, snapshot(2, false), final} {
		if err := w.Snapshot(s); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil {
		t.Fatalf("not valid CSV: %v", err)
	}
	if strings.Join(rows[0][:23], ",") != "kind,run,elapsed_s,experiment,series,workers,mode,cache,query,offload,profile,vus,rate,requests,errors,rps,min_ms,mean_ms,p50_ms,p90_ms,p95_ms,p99_ms,max_ms" {
		t.Fatalf("header = %v", rows[0])
	}
	if len(rows) != 1+3+3+3 {
		t.Fatalf("%d rows, want header + 3 series x (2 intervals + summary)", len(rows))
	}
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	r := rows[3] // second 1, series likes
	want := map[string]string{"kind": "interval", "run": "2", "elapsed_s": "1", "experiment": "likes", "series": "likes",
		"workers": "4", "mode": "sync", "cache": "off", "query": "", "vus": "50", "rate": "", "requests": "40",
		"p50_ms": "100.000", "max_ms": "500.000", "checks_passed": "39", "checks_failed": "1", "service_p50_ms": ""}
	for k, v := range want {
		if r[col[k]] != v {
			t.Errorf("interval row %s = %q, want %q", k, r[col[k]], v)
		}
	}
	if last := rows[len(rows)-3]; last[col["kind"]] != "summary" || last[col["series"]] != "all" || last[col["checks_passed"]] != "39" ||
		last[col["unfinished"]] != "3" || last[col["retries"]] != "2" {
		t.Errorf("summary row = %v", last)
	}
	// New columns come after every column that was there before them.
	if col["unfinished"] <= col["generator_cpu"] || col["retries"] != col["unfinished"]+1 {
		t.Errorf("unfinished at %d, retries at %d, after generator_cpu at %d", col["unfinished"], col["retries"], col["generator_cpu"])
	}
	for _, row := range rows {
		if len(row) != len(Columns) {
			t.Fatalf("row has %d cells, want %d", len(row), len(Columns))
		}
	}
}

func TestSummaryText(t *testing.T) {
	s := snapshot(0, true)
	s.Elapsed = 30 * time.Second
	s.Errors = engine.ErrorCounts{Check: 1, Dropped: 4}
	s.All.Run.Errors = 5
	s.All.Run.Unfinished, s.All.Run.Retries = 3, 2
	var b strings.Builder
	if err := Summary(&b, s); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"checks", "97.50%", "FAIL status was 200", "http_req_duration", "avg=100ms", "p(90)=200ms", "p(99)=400ms",
		"{ step:likes }", "http_req_failed", "12.50%  5 of 40", "http_reqs", "40  40.0/s", "errors by kind..................: dropped 4  check 1",
		"unfinished......................: 3  (in flight", "retries.........................: 2  (sent again"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "timeout 0") {
		t.Errorf("errors by kind lists a kind that did not happen:\n%s", out)
	}
}

// withTiming gives the likes step of a snapshot Server-Timing metrics.
func withTiming(s *engine.Snapshot) *engine.Snapshot {
	s.Steps[1].Timing = []engine.Timing{
		{Name: "queue", Last: figures(40, 30*time.Millisecond), Run: figures(400, 20*time.Millisecond)},
		{Name: "db", Last: figures(40, 17*time.Millisecond), Run: figures(400, 16*time.Millisecond)},
		{Name: engine.TimingRest, Last: figures(40, time.Millisecond), Run: figures(400, time.Millisecond)},
	}
	s.ServerTiming = engine.TimingCounts{Malformed: 3, Dropped: 7}
	return s
}

// TestCSVTimingRows: each Server-Timing metric has its rows, named in the
// timing column, its figures in the latency columns; the latency rows
// keep the column empty, and compare reads only those.
func TestCSVTimingRows(t *testing.T) {
	var b strings.Builder
	w, err := NewCSV(&b, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.SetLabels(Labels{Run: 1, Experiment: "likes"})
	for _, s := range []*engine.Snapshot{withTiming(snapshot(1, false)), withTiming(snapshot(0, true))} {
		if err := w.Snapshot(s); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	if col["timing"] != len(Columns)-1 || col["threshold_ok"] != col["timing"]-1 {
		t.Fatalf("timing column at %d of %v: want it appended last", col["timing"], rows[0])
	}
	var got []string
	for _, r := range rows[1:] {
		got = append(got, r[col["kind"]]+" "+r[col["series"]]+" "+r[col["timing"]]+" "+r[col["p50_ms"]]+" "+r[col["requests"]]+" "+r[col["errors"]])
	}
	want := []string{
		"interval all  100.000 40 0", "interval signin  100.000 40 0", "interval likes  100.000 40 0",
		"interval likes queue 30.000 40 ", "interval likes db 17.000 40 ", "interval likes (network) 1.000 40 ",
		"summary all  100.000 40 0", "summary signin  100.000 40 0", "summary likes  100.000 40 0",
		"summary likes queue 20.000 400 ", "summary likes db 16.000 400 ", "summary likes (network) 1.000 400 ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	rec, err := ReadRecorded(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Runs) != 3 {
		t.Errorf("compare read %d summary rows, want the 3 latency rows", len(rec.Runs))
	}
	full, err := ReadRecording(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	run := full.Runs[0]
	if len(run.Intervals["likes"]) != 1 || len(run.Timings["likes"]) != 3 || run.Timings["likes"][1].Cell("timing") != "db" {
		t.Errorf("recording: %d likes intervals, timings %v; want 1 interval and the 3 metrics' summary rows", len(run.Intervals["likes"]), run.Timings["likes"])
	}
}

// TestSummaryWhereTheTimeWent: the summary tabulates each step's metrics
// over the run and says once what it could not use.
func TestSummaryWhereTheTimeWent(t *testing.T) {
	var b strings.Builder
	if err := Summary(&b, withTiming(snapshot(0, true))); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"where the time went", "{ step:likes }", "\n      queue              400    20.00    40.00    80.00    20.00\n",
		"\n      (network)          400     1.00", "3 malformed metrics skipped, 7 values of names past the first 16 not recorded"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "malformed") != 1 {
		t.Errorf("the counts are reported more than once:\n%s", out)
	}
}

// TestSummaryNamesWhatSharesTheCPU: the generator line's CPU is its
// process's; the label names what else runs there.
func TestSummaryNamesWhatSharesTheCPU(t *testing.T) {
	for _, tc := range []struct{ sharing, want string }{
		{"", "  generator.......................: cpu 0.25 of 1 core"},
		{"twin supervisor", "  generator + twin supervisor.....: cpu 0.25 of 1 core"},
	} {
		s := snapshot(0, true)
		s.Health.CPU, s.Health.Cores, s.Health.Sharing = 0.25, 1, tc.sharing
		var b strings.Builder
		if err := Summary(&b, s); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tc.want+"\n") {
			t.Errorf("sharing %q: summary lacks %q:\n%s", tc.sharing, tc.want, b.String())
		}
	}
}

// TestSummaryNamesTheEngine: the generator line names the engine path,
// and on the event loop how many threads drove it and how they read and
// wrote; the JSON says the same.
func TestSummaryNamesTheEngine(t *testing.T) {
	for _, tc := range []struct {
		path, io string
		loops    int
		want     string
	}{
		{engine.PathGoroutine, "", 0, "  engine goroutine\n"},
		{engine.PathLoop, engine.LoopIOBatched, 1, "  engine loop (1 thread, io_uring)\n"},
		{engine.PathLoop, engine.LoopIOCalls + ", io_uring turned off", 4, "  engine loop (4 threads, read/write, io_uring turned off)\n"},
	} {
		s := snapshot(0, true)
		s.Health.Path, s.Health.LoopIO, s.Health.Loops = tc.path, tc.io, tc.loops
		var b strings.Builder
		if err := Summary(&b, s); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("%s %q: summary lacks %q:\n%s", tc.path, tc.io, tc.want, b.String())
		}
		if g := jsonRun(Begin{}, s, nil).Generator; g.Engine != tc.path || g.LoopIO != tc.io || g.LoopThreads != tc.loops {
			t.Errorf("JSON generator %+v, want engine %q, loop_io %q, loop_threads %d", g, tc.path, tc.io, tc.loops)
		}
	}
}

func TestDurationFormat(t *testing.T) {
	cases := map[time.Duration]string{0: "0s", 850 * time.Microsecond: "850µs", 48960 * time.Microsecond: "48.96ms",
		2230 * time.Millisecond: "2.23s", 100 * time.Millisecond: "100ms", 90 * time.Second: "1m30s"}
	for d, want := range cases {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestProgressLine(t *testing.T) {
	s := snapshot(12, false)
	s.Duration = 30 * time.Second
	s.Health.Warning = "generator CPU-bound"
	if line := ProgressLine(s); strings.Contains(line, "retries") {
		t.Errorf("progress line %q shows retries before there are any", line)
	}
	s.All.Run.Retries = 7
	line := ProgressLine(s)
	for _, want := range []string{"0:12/0:30", "40.0 req/s", "p50 100ms", "p99 400ms", "errors 0", "retries 7", "generator CPU-bound"} {
		if !strings.Contains(line, want) {
			t.Errorf("progress line %q lacks %q", line, want)
		}
	}
}
