package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReportInBrowser records a likes sweep (two configurations, each
// run twice, with a two-stage plan) and a Fishial race through the
// binary, makes their report pages, and opens each in headless Chromium:
// the pages load with no console error and no network request, and
// every chart has data on its axes. The sweep's --report page, written as
// the run ended, is the page perflab report makes from its CSV.
func TestReportInBrowser(t *testing.T) {
	b := startBrowser(t)
	dir := t.TempDir()
	likes, live := filepath.Join(dir, "likes.csv"), filepath.Join(dir, "likes-live.html")
	_, stderr, code := perflab(t, "--record", likes, "--report", live, "--experiment", "likes", "--profile", "go",
		"--vus", "2", "--think", "20ms", "--stages", "1s:4,2s:8", "--sweep", "cache=off,on", "--repeat", "2", "--threshold", "http_req_failed<100%")
	if code != 0 {
		t.Fatalf("likes sweep: exit %d\n%s", code, stderr)
	}
	race := filepath.Join(dir, "fishial.csv")
	if _, stderr, code := perflab(t, "--record", race, "--experiment", "fishial", "--images", "4", "--time-scale", "0.02",
		"--processes", "2", "--nodes", "2"); code != 0 {
		t.Fatalf("race: exit %d\n%s", code, stderr)
	}
	pngs := filepath.Join(dir, "png")
	likesPage, racePage := filepath.Join(dir, "likes.html"), filepath.Join(dir, "fishial.html")
	stdout, stderr, code := perflab(t, "report", likes, "-o", likesPage, "--png", pngs)
	if code != 0 || !strings.Contains(stdout, "wrote "+likesPage) {
		t.Fatalf("report: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, stderr, code := perflab(t, "report", race, "-o", racePage); code != 0 {
		t.Fatalf("report of the race: exit %d\n%s", code, stderr)
	}

	// The page written as the session ended is the one made from its CSV,
	// but for the names: the session has no file name yet.
	fromCSV, _ := os.ReadFile(likesPage)
	atEnd, err := os.ReadFile(live)
	if err != nil {
		t.Fatalf("--report wrote no page: %v", err)
	}
	if a, b := unnamed(fromCSV), unnamed(atEnd); a != b {
		t.Errorf("the --report page differs from perflab report's:\n%s", firstDifference(a, b))
	}

	pageHas(t, likesPage, "mean latency of likes per configuration", "throughput of likes per configuration",
		"Summary of each run", "Thresholds", "http_req_failed&lt;100%", "stage 2/2 → 8 users", "run 2 repeat 2: cache=on",
		"likes experiment, perflab&#39;s medians across runs", "the cache cuts latency")
	got, problems := checkInBrowser(t, b, likesPage, 2+4*2, 0.45)
	for _, p := range problems {
		t.Errorf("%s: %s", likesPage, p)
	}
	if got.Tables < 3 {
		t.Errorf("likes page: %d tables, want the summary, the thresholds and the study's", got.Tables)
	}
	files, _ := filepath.Glob(filepath.Join(pngs, "*.png"))
	if len(files) != len(got.Charts) {
		t.Errorf("--png wrote %d files for %d charts", len(files), len(got.Charts))
	}

	_, problems = checkInBrowser(t, b, racePage, 3, 0.45)
	for _, p := range problems {
		t.Errorf("%s: %s", racePage, p)
	}
	pageHas(t, racePage, "wall time per strategy", "CPU per image", "sequential", "async", "The race, beside the study")
}

// pageHas fails the test for each text the page at path lacks.
func pageHas(t *testing.T, path string, texts ...string) {
	t.Helper()
	html, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range texts {
		if !strings.Contains(string(html), want) {
			t.Errorf("%s lacks %q", filepath.Base(path), want)
		}
	}
}

// TestBrowserCheckSeesFaults: the browser check of TestReportInBrowser
// fails a page that fetches something, logs an error, or has a chart
// with nothing on its axes, so its passing means something.
func TestBrowserCheckSeesFaults(t *testing.T) {
	b := startBrowser(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.csv")
	os.WriteFile(good, []byte(strings.Join(fishialHeader, ",")+"\n"+
		"progress,sequential,1,,0.5,,,,\nsummary,sequential,1,1,0.5,0.4,1.0,0.01,100\n"+
		"progress,async,1,,0.1,,,,\nsummary,async,1,1,0.1,0.09,5.0,0.01,100\n"), 0o644)
	page := filepath.Join(dir, "good.html")
	if _, stderr, code := perflab(t, "report", good, "-o", page); code != 0 {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	if _, problems := checkInBrowser(t, b, page, 3, 0.45); len(problems) > 0 {
		t.Fatalf("the page as written: %q", problems)
	}
	html, _ := os.ReadFile(page)
	// An empty chart: the CPU bars' paths taken out of their figure.
	broken := regexp.MustCompile(`(?s)(data-chart="good-cpu-per-image".*?)<path d="[^"]*" style="fill:#9467BD" />`).
		ReplaceAllString(string(html), "$1")
	broken = regexp.MustCompile(`(?s)(data-chart="good-cpu-per-image".*?)<path d="[^"]*" style="fill:#9467BD" />`).ReplaceAllString(broken, "$1")
	broken = strings.Replace(broken, "</body>", `<img src="http://127.0.0.1:9/pixel.png"><script>console.error("boom")</script></body>`, 1)
	bad := filepath.Join(dir, "bad.html")
	os.WriteFile(bad, []byte(broken), 0o644)
	_, problems := checkInBrowser(t, b, bad, 3, 0.45)
	for _, want := range []string{"fetched", "console reported errors", "chart good-cpu-per-image"} {
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("the check missed %q; it found %q", want, problems)
		}
	}
}

var fishialHeader = []string{"kind", "strategy", "images", "workers", "seconds", "ideal_seconds", "speedup", "cpu_seconds", "images_per_cpu_second"}

// unnamed is a page without what names its files: the title, the line
// that lists the files, and the names' prefixes on sections and charts.
func unnamed(page []byte) string {
	s := regexp.MustCompile(`(?m)^.*(<title>|<h1>|Made by perflab report).*\n`).ReplaceAllString(string(page), "")
	s = regexp.MustCompile(` id="[^"]*"`).ReplaceAllString(s, "")
	s = regexp.MustCompile(`data-chart="[a-z0-9]+-`).ReplaceAllString(s, `data-chart="`)
	return strings.ReplaceAll(s, "likes.csv: the likes experiment", "The likes experiment")
}

func firstDifference(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return "line " + la[i][:min(200, len(la[i]))] + "\nagainst " + lb[i][:min(200, len(lb[i]))]
		}
	}
	return "one is longer"
}

// TestReportBadInput: what is not a recording perflab wrote is one line
// and exit 2, and nothing is written.
func TestReportBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	empty := write("empty.csv", "")
	blank := write("blank.csv", "\n\n")
	notes := write("notes.txt", "hello, world\nthis is not a recording\n")
	headerOnly := write("header.csv", "kind,run,elapsed_s,experiment,series,workers,mode,cache,query,offload,profile,vus,rate,requests,errors,rps,min_ms,mean_ms,p50_ms,p90_ms,p95_ms,p99_ms,max_ms\n")
	raceHeader := write("race.csv", "kind,strategy,images,workers,seconds,ideal_seconds,speedup,cpu_seconds,images_per_cpu_second\n")
	ragged := write("ragged.csv", "kind,run,elapsed_s,experiment,series,workers,mode,cache,query,offload,profile,vus,rate,requests,errors,rps,min_ms,mean_ms,p50_ms,p90_ms,p95_ms,p99_ms,max_ms\n"+
		"interval,1,1\ninterval,1,2,,all,,,,,,,4,,10,0,10,1,1,1,1,1,1,1\n")
	out := filepath.Join(dir, "out.html")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"report", "-o", out}, "give one or more CSV files"},
		{[]string{"report", empty}, "say where to write"},
		{[]string{"report", filepath.Join(dir, "missing.csv"), "-o", out}, "no such file"},
		{[]string{"report", empty, "-o", out}, "empty.csv is empty"},
		{[]string{"report", blank, "-o", out}, "blank.csv is empty"},
		{[]string{"report", notes, "-o", out}, "not a CSV that perflab --record wrote"},
		{[]string{"report", headerOnly, "-o", out}, "has a header and no rows"},
		{[]string{"report", raceHeader, "-o", out}, "has a header and no rows"},
		{[]string{"report", ragged, "-o", out}, "line 2 has 3 cells"},
		{[]string{"report", headerOnly, "-o", filepath.Join(dir, "nodir", "x.html")}, "does not exist"},
		{[]string{"report", headerOnly, "--bogus"}, "unknown flag --bogus"},
	}
	for _, c := range cases {
		_, stderr, code := perflab(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, %q; want 2 and one line with %q", c.args, code, stderr, c.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("bad input wrote %s", out)
	}
}

// TestReportOfACutShortRecording: a recording whose writer was killed
// mid-run (no summary rows for its last run, half a row at the end) is
// still reported, with what it holds, and the page and stderr say it was
// cut short.
func TestReportOfACutShortRecording(t *testing.T) {
	url := target(t)
	dir := t.TempDir()
	full := filepath.Join(dir, "full.csv")
	if _, stderr, code := perflab(t, "--url", url, "--vus", "2", "--think", "20ms", "--duration", "2s", "--repeat", "2", "--record", full); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// Keep repeat 1 whole, and of repeat 2 its first second and half a
	// row, as a writer killed in the middle of it leaves the file.
	rows := readCSV(t, full)
	col := column(rows)
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	for _, r := range rows {
		if r[col["repeat"]] != "2" || r[col["kind"]] == "interval" && r[col["elapsed_s"]] == "1" {
			w.Write(r)
		}
	}
	w.Flush()
	cut := filepath.Join(dir, "cut.csv")
	os.WriteFile(cut, append(b.Bytes(), "interval,1,2,,all,,,,,,,2,,3"...), 0o644)
	page := filepath.Join(dir, "cut.html")
	stdout, stderr, code := perflab(t, "report", cut, "-o", page)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	for _, want := range []string{"cut.csv was cut short", "run 1 repeat 2 has no summary", "last line stops in the middle of a row"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	pageHas(t, page, `class="warn"`, "This recording was cut short", "cut short at 1", "run 1 repeat 2")
}

// TestReportPageOnInterrupt: --report writes the page when Ctrl-C ends
// the run, with the seconds measured so far.
func TestReportPageOnInterrupt(t *testing.T) {
	url := target(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "run.html")
	cmd := exec.Command(binary, "--url", url, "-c", "2", "--duration", "60s", "--record", filepath.Join(dir, "run.csv"), "--report", page)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once the CSV holds a second or two.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if data, _ := os.ReadFile(filepath.Join(dir, "run.csv")); bytes.Count(data, []byte("\ninterval,")) >= 4 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("interrupted run: %v\n%s", err, stderr.String())
	}
	pageHas(t, page, "Load runs against a URL", "latency each second", "throughput and errors", "max model, 2 connections")
}
