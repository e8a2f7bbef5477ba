package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// column indexes rows by the CSV header.
func column(rows [][]string) map[string]int {
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	return col
}

func TestExperimentsHeadless(t *testing.T) {
	cases := []struct {
		experiment string
		args       []string
		want       map[string]string // CSV cells every row must have
		series     string
	}{
		{"likes", []string{"--workers", "2", "--mode", "async", "--cache", "on", "--query", "prefetch", "--profile", "go", "--vus", "5"},
			map[string]string{"workers": "2", "mode": "async", "cache": "on", "query": "prefetch", "offload": "", "profile": "go", "vus": "5"}, "likes"},
		{"static", []string{"--offload", "on", "--profile", "go", "--vus", "5", "--think", "100ms"},
			map[string]string{"workers": "1", "mode": "sync", "cache": "", "query": "", "offload": "on", "profile": "go", "vus": "5"}, "static"},
	}
	for _, c := range cases {
		t.Run(c.experiment, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run.csv")
			args := append([]string{"--record", out, "--experiment", c.experiment, "--duration", "2s"}, c.args...)
			stdout, stderr, code := perflab(t, args...)
			if code != 0 {
				t.Fatalf("exit %d\nstderr: %s", code, stderr)
			}
			rows := readCSV(t, out)
			col := column(rows)
			seen := map[string]bool{}
			for _, r := range rows[1:] {
				if r[col["experiment"]] != c.experiment || r[col["run"]] != "1" {
					t.Fatalf("row %v: experiment/run cells wrong", r)
				}
				for k, v := range c.want {
					if r[col[k]] != v {
						t.Fatalf("row %v: %s = %q, want %q", r, k, r[col[k]], v)
					}
				}
				seen[r[col["kind"]]+"/"+r[col["series"]]] = true
				if r[col["series"]] == c.series && r[col["errors"]] != "0" {
					t.Fatalf("errors in row %v", r)
				}
				if r[col["kind"]] == "summary" && r[col["series"]] == c.series {
					checkMeasured(t, r, col)
				}
			}
			for _, k := range []string{"interval/all", "interval/" + c.series, "summary/all", "summary/" + c.series} {
				if !seen[k] {
					t.Fatalf("no %s row; rows: %v", k, seen)
				}
			}
			// The twin's Server-Timing: a summary row per metric of the step.
			timing := map[string]bool{}
			for _, r := range readCSVWithTiming(t, out)[1:] {
				if name := r[col["timing"]]; name != "" && r[col["kind"]] == "summary" && r[col["series"]] == c.series && r[col["requests"]] != "0" {
					timing[name] = true
				}
			}
			for _, name := range []string{"queue", "view", "(network)"} {
				if c.experiment == "likes" && !timing[name] {
					t.Errorf("no summary row of the %s step's %s timing; rows: %v", c.series, name, timing)
				}
			}
			if !strings.Contains(stdout, "perflab beside the seed") {
				t.Fatalf("no seed table on stdout:\n%s", stdout)
			}
			if c.experiment == "likes" && !strings.Contains(stdout, "Where the time went in the likes step") {
				t.Errorf("no split of the likes step on stdout:\n%s", stdout)
			}
		})
	}
}

// checkMeasured fails unless a summary row shows requests made and
// answered: a request count, a rate and every latency cell filled with a
// positive figure in order (min <= p50 <= p90 <= p99 <= max).
func checkMeasured(t *testing.T, r []string, col map[string]int) {
	t.Helper()
	num := func(name string) float64 {
		v, err := strconv.ParseFloat(r[col[name]], 64)
		if err != nil {
			t.Fatalf("row %v: %s = %q is not a number", r, name, r[col[name]])
		}
		return v
	}
	if n := num("requests"); n < 5 {
		t.Fatalf("row %v: %v requests, want a real run", r, n)
	}
	if num("rps") <= 0 {
		t.Fatalf("row %v: no throughput", r)
	}
	prev := 0.0
	for _, name := range []string{"min_ms", "p50_ms", "p90_ms", "p99_ms", "max_ms"} {
		v := num(name)
		if v <= 0 || v < prev {
			t.Fatalf("row %v: %s = %v after %v; latency cells must be positive and ordered", r, name, v, prev)
		}
		prev = v
	}
	if m := num("mean_ms"); m < num("min_ms") || m > num("max_ms") {
		t.Fatalf("row %v: mean outside min..max", r)
	}
}

// TestSweepRunsAreSeparate checks each configuration of a sweep is its own
// run: the run column changes, each run has its own summary rows and its
// knob values, and the table lists every run.
func TestSweepRunsAreSeparate(t *testing.T) {
	out := filepath.Join(t.TempDir(), "sweep.csv")
	stdout, stderr, code := perflab(t, "--record", out, "--experiment", "likes", "--profile", "go", "--vus", "5",
		"--sweep", "workers=1,2", "--sweep", "cache=off,on", "--duration", "1s")
	if code != 0 {
		t.Fatalf("exit %d\nstderr: %s", code, stderr)
	}
	rows := readCSV(t, out)
	col := column(rows)
	summaries := map[string]string{} // run -> workers/cache of its "all" summary
	lastRun := "0"
	for _, r := range rows[1:] {
		run := r[col["run"]]
		if run < lastRun {
			t.Fatalf("run column went back from %s to %s", lastRun, run)
		}
		lastRun = run
		if r[col["kind"]] == "summary" && r[col["series"]] == "likes" {
			checkMeasured(t, r, col)
		}
		if r[col["kind"]] == "summary" && r[col["series"]] == "all" {
			if _, dup := summaries[run]; dup {
				t.Fatalf("run %s has two summaries", run)
			}
			summaries[run] = r[col["workers"]] + "/" + r[col["cache"]]
		}
	}
	want := map[string]string{"1": "1/off", "2": "1/on", "3": "2/off", "4": "2/on"}
	for run, cfg := range want {
		if summaries[run] != cfg {
			t.Fatalf("summaries %v, want %v", summaries, want)
		}
	}
	for _, line := range []string{"workers=1 cache=off", "workers=2 cache=on"} {
		if !strings.Contains(stdout, line) {
			t.Fatalf("table lacks %q:\n%s", line, stdout)
		}
	}
}

func TestExperimentUsageErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.csv")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--experiment", "likes", "--offload", "on"}, "has no knob --offload"},
		{[]string{"--experiment", "static", "--cache", "on"}, "has no knob --cache"},
		{[]string{"--experiment", "likes", "--workers", "17"}, "use one of 1..16"},
		{[]string{"--experiment", "likes", "--mode", "fast"}, "use one of sync, async"},
		{[]string{"--experiment", "likes", "--sweep", "workers="}, "has no values"},
		{[]string{"--experiment", "likes", "--sweep", "color=red"}, "has no knob --color"},
		{[]string{"--experiment", "likes", "--sweep", "workers=1,99"}, "use one of 1..16"},
		{[]string{"--experiment", "likes", "--url", "http://x/"}, "does not apply to --url"},
		{[]string{"--experiment", "likes", "--method", "POST"}, "does not apply to the likes experiment"},
		{[]string{"--experiment", "likes", "--images", "3"}, "does not apply to the likes experiment"},
		{[]string{"--experiment", "likes", "--redis", "nope"}, "--redis must be embedded or redis://"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			_, stderr, code := perflab(t, append([]string{"--record", out}, c.args...)...)
			if code != 2 || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, stderr, c.want)
			}
		})
	}
	// Without --record and without a terminal, nothing can show the run.
	_, stderr, code := perflab(t, "--experiment", "likes", "--sweep", "workers=1,2")
	if code != 2 || !strings.Contains(stderr, "--record") {
		t.Fatalf("sweep without --record: exit %d, %q", code, stderr)
	}
	_, stderr, code = perflab(t, "--experiment", "likes")
	if code != 2 || !strings.Contains(stderr, "terminal") {
		t.Fatalf("no terminal, no --record: exit %d, %q", code, stderr)
	}
}

// TestSweepInterruptKeepsWhatRan stops a sweep with SIGINT during its
// second run: the file holds the first run whole and the summary of the
// part of the second that ran, and the table lists what was measured.
func TestSweepInterruptKeepsWhatRan(t *testing.T) {
	out := filepath.Join(t.TempDir(), "sweep.csv")
	cmd := exec.Command(binary, "--record", out, "--experiment", "likes", "--profile", "go", "--vus", "5",
		"--sweep", "workers=1,2,3", "--duration", "4s")
	var stdout bytes.Buffer
	var stderr lockedBuffer // read while the process writes it
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once the second run's measured part has written a row,
	// however long the warm-ups take on a busy machine.
	deadline := time.Now().Add(90 * time.Second)
	for {
		data, _ := os.ReadFile(out)
		if strings.Contains(string(data), "\ninterval,2,") {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the second run never measured; stderr:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("interrupted sweep: %v\nstderr:\n%s", err, stderr.String())
	}
	rows := readCSV(t, out)
	col := column(rows)
	summaries := map[string]bool{}
	for _, r := range rows[1:] {
		if r[col["kind"]] == "summary" && r[col["series"]] == "all" {
			summaries[r[col["run"]]] = true
		}
	}
	if !summaries["1"] || !summaries["2"] || summaries["3"] {
		t.Fatalf("summaries for runs %v, want 1 and 2 only", summaries)
	}
	if !strings.Contains(stdout.String(), "workers=2") || strings.Contains(stdout.String(), "workers=3") {
		t.Fatalf("table should list runs 1 and 2:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Fatalf("no word of the interruption on stderr:\n%s", stderr.String())
	}
}

// lockedBuffer is a bytes.Buffer safe to read while a process writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
