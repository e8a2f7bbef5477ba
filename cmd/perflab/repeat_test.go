package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRepeatOnTheTwin runs a likes sweep three times over, interleaved,
// through the built binary: every configuration has one summary row per
// repeat, the runs alternate, stat rows close the file, and the table
// gives medians across the runs.
func TestRepeatOnTheTwin(t *testing.T) {
	out := filepath.Join(t.TempDir(), "rep.csv")
	stdout, stderr, code := perflab(t, "--record", out, "--experiment", "likes", "--profile", "go", "--vus", "4",
		"--think", "20ms", "--sweep", "cache=off,on", "--repeat", "3", "--duration", "1s")
	if code != 0 {
		t.Fatalf("exit %d\nstderr: %s", code, stderr)
	}
	rows := readCSV(t, out)
	col := column(rows)
	var order []string
	stat := map[string]int{}
	for _, r := range rows[1:] {
		switch r[col["kind"]] {
		case "summary":
			if r[col["series"]] == "likes" {
				order = append(order, r[col["run"]]+"/"+r[col["repeat"]])
				checkMeasured(t, r, col)
			}
		case "stat":
			if r[col["series"]] == "likes" {
				stat[r[col["run"]]+"/"+r[col["statistic"]]]++
				if r[col["statistic"]] == "median" && r[col["mean_ms"]] == "" {
					t.Errorf("stat row without a median: %v", r)
				}
			}
		}
	}
	if got, want := strings.Join(order, " "), "1/1 2/1 1/2 2/2 1/3 2/3"; got != want {
		t.Fatalf("likes summaries in order %q, want interleaved %q", got, want)
	}
	for _, k := range []string{"1/median", "1/ci_low", "1/ci_high", "2/median", "2/ci_low", "2/ci_high"} {
		if stat[k] != 1 {
			t.Fatalf("stat rows %v: want one of each statistic per configuration", stat)
		}
	}
	for _, want := range []string{"medians across runs with 95% intervals", "cache=off", "±∞", "The study's conclusions", "the cache cuts latency"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "(repeat 3/3)") {
		t.Errorf("stderr does not count repeats:\n%s", stderr)
	}
}

// TestShufflePrintsItsSeed: a shuffled order says its seed, and the seed
// gives the same order again.
func TestShufflePrintsItsSeed(t *testing.T) {
	url := target(t)
	dir := t.TempDir()
	_, stderr, code := perflab(t, "--url", url, "-c", "1", "--duration", "250ms", "--repeat", "2", "--shuffle-seed", "7", "--record", filepath.Join(dir, "a.csv"))
	if code != 0 || !strings.Contains(stderr, "seed 7") {
		t.Fatalf("exit %d, stderr %q: want the seed said", code, stderr)
	}
	if _, stderr, code := perflab(t, "--url", url, "--shuffle", "--record", filepath.Join(dir, "b.csv")); code != 2 || !strings.Contains(stderr, "--shuffle orders several runs") {
		t.Fatalf("a shuffle of one run: exit %d, %q", code, stderr)
	}
}

// recordURL records n runs against a server whose answers take delay.
func recordURL(t *testing.T, path string, delay time.Duration, n string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	if _, stderr, code := perflab(t, "--url", srv.URL, "-c", "2", "--duration", "500ms", "--repeat", n, "--record", path); code != 0 {
		t.Fatalf("record %s: exit %d: %s", path, code, stderr)
	}
}

// TestCompareRecordedRuns compares two recorded CSVs through the built
// binary: a target made 20 ms slower is significantly worse on every
// latency figure, --fail-above turns that into exit 1, and one run per
// side gives figures but no verdict.
func TestCompareRecordedRuns(t *testing.T) {
	dir := t.TempDir()
	fast, slow := filepath.Join(dir, "fast.csv"), filepath.Join(dir, "slow.csv")
	recordURL(t, fast, 0, "5")
	recordURL(t, slow, 20*time.Millisecond, "5")

	stdout, stderr, code := perflab(t, "compare", fast, slow)
	if code != 0 {
		t.Fatalf("compare: exit %d: %s", code, stderr)
	}
	for _, fig := range []string{"mean ms", "p50 ms", "p90 ms"} {
		line := lineWith(stdout, fig)
		if !strings.Contains(line, "p=0.008") || strings.Contains(line, " ~ ") || !strings.Contains(line, "+") {
			t.Errorf("%s: %q, want a significant rise at p=0.008 (5 runs each, fully apart)", fig, line)
		}
	}
	if _, stderr, code := perflab(t, "compare", fast, slow, "--fail-above", "5%"); code != 1 || !strings.Contains(stderr, "worse beyond --fail-above 5%") {
		t.Fatalf("--fail-above 5%%: exit %d, %q; want 1 and the figures named", code, stderr)
	}
	if _, _, code := perflab(t, "compare", slow, fast, "--fail-above", "5%"); code != 0 {
		t.Fatalf("an improvement failed --fail-above: exit %d", code)
	}

	once1, once2 := filepath.Join(dir, "once1.csv"), filepath.Join(dir, "once2.csv")
	recordURL(t, once1, 0, "1")
	recordURL(t, once2, 20*time.Millisecond, "1")
	stdout, _, code = perflab(t, "compare", once1, once2, "--fail-above", "5%")
	if code != 0 || !strings.Contains(lineWith(stdout, "mean ms"), "n<4") || !strings.Contains(stdout, "too few runs for a verdict") {
		t.Fatalf("one run each: exit %d\n%s\nwant figures, n<4 and no verdict", code, stdout)
	}
}

func TestCompareBadInput(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.csv")
	recordURL(t, good, 0, "1")
	notCSV := filepath.Join(dir, "notes.txt")
	os.WriteFile(notCSV, []byte("hello\n"), 0o644)
	fish := filepath.Join(dir, "fishial.csv")
	os.WriteFile(fish, []byte("kind,strategy,images,workers,seconds,ideal_seconds,speedup,cpu_seconds,images_per_cpu_second\n"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"compare", good}, "give two recorded CSV files"},
		{[]string{"compare", good, filepath.Join(dir, "missing.csv")}, "no such file"},
		{[]string{"compare", good, notCSV}, "not a perflab load-run CSV"},
		{[]string{"compare", good, fish}, "Fishial race"},
		{[]string{"compare", good, "--by", "mode"}, "no two configurations that differ only in mode"},
		{[]string{"compare", good, "--by", "color"}, "no knob column color"},
		{[]string{"compare", good, good, "--fail-above", "lots"}, "--fail-above"},
	}
	for _, c := range cases {
		_, stderr, code := perflab(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, %q; want 2 and one line with %q", c.args, code, stderr, c.want)
		}
	}
}

// lineWith is the first line of s that contains sub.
func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}
