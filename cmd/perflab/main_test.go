package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"perflab/server/proc"
)

// binary is perflab built once for the tests that run it as users do.
var binary string

// TestMain lets tests re-execute the test binary as perflab's children,
// and builds the real binary for end-to-end tests.
func TestMain(m *testing.M) {
	proc.Main()
	dir, err := os.MkdirTemp("", "perflab-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "perflab")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build perflab: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// perflab runs the built binary and returns stdout, stderr and exit code.
func perflab(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run perflab: %v", err)
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}

func target(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	t.Cleanup(srv.Close)
	return srv.URL
}

// readCSV reads a load-run CSV's header and latency rows: the rows of
// Server-Timing metrics (a non-empty timing cell) are left out.
func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	rows := readCSVWithTiming(t, path)
	col := column(rows)
	i, ok := col["timing"]
	if !ok {
		return rows
	}
	out := rows[:1]
	for _, r := range rows[1:] {
		if r[i] == "" {
			out = append(out, r)
		}
	}
	return out
}

// readCSVWithTiming reads every row of a CSV.
func readCSVWithTiming(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s is not valid CSV: %v", path, err)
	}
	return rows
}

func TestUsageErrors(t *testing.T) {
	url := target(t)
	dir := t.TempDir()
	body := filepath.Join(dir, "missing.json")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "unknown flag --bogus"},
		{[]string{"stray"}, `unexpected argument "stray"`},
		{[]string{"--url", "ftp://x/"}, "scheme must be http or https"},
		{[]string{"--url", "http://"}, "no host"},
		{[]string{"--url", url, "-c", "0"}, "-c must be at least 1"},
		{[]string{"--url", url, "--vus", "-3"}, "--vus must be at least 1"},
		{[]string{"--url", url, "--rate", "0"}, "--rate must be above 0"},
		{[]string{"--url", url, "--duration", "-1s"}, "--duration must be above 0"},
		{[]string{"--url", url, "--timeout", "0s"}, "--timeout must be above 0"},
		{[]string{"--url", url, "--duration", "ten"}, "--duration ten: not a duration"},
		{[]string{"--url", url, "--duration", "5"}, "--duration 5: give a unit, e.g. 5s or 2m"},
		{[]string{"--url", url, "--think", "1", "--vus", "2"}, "--think 1: give a unit"},
		{[]string{"--url", url, "--timeout", "30"}, "--timeout 30: give a unit, e.g. 30s or 2m"},
		{[]string{"--url", url, "-c", "many"}, "-c many: not a number"},
		{[]string{"--url", "http://127.0.0.1:99999/"}, "port 99999 is not a TCP port (1..65535)"},
		{[]string{"--url", url, "--max-body", "lots"}, "--max-body lots: not a size"},
		{[]string{"--url", url, "--max-body", "0"}, "--max-body 0: must be at least 1 byte"},
		{[]string{"--url", url, "--engine", "fast"}, `--engine "fast": choose auto, loop, goroutine`},
		{[]string{"--url", "https://127.0.0.1:9/", "--engine", "loop"}, "the event loop cannot run this scenario: step url uses TLS"},
		{[]string{"--url", url, "-c", "2147483647"}, "-c 2147483647: more than the open-file limit allows"},
		{[]string{"--url", url, "--vus", "2147483647"}, "ulimit -n"},
		{[]string{"--url", url, "--rate", "10", "--max-in-flight", "2147483647"}, "--max-in-flight 2147483647: more than the open-file limit"},
		{[]string{"--url", url, "--stages", "5s:10,5s:2147483647"}, "--stages 5s:10,5s:2147483647: 2147483647 users or connections: more than the open-file limit"},
		{[]string{"--experiment", "likes", "--vus", "2147483647", "--record", filepath.Join(dir, "x.csv")}, "--vus 2147483647: more than the open-file limit"},
		{[]string{"--url", url, "-c", "4", "--rate", "10"}, "give only one of"},
		{[]string{"--url", url, "-c", "4", "--realtime-pacer"}, "--realtime-pacer paces the open model: add --rate R"},
		{[]string{"--url", url, "--rate", "10", "--engine", "goroutine", "--realtime-pacer"}, "--engine goroutine has none"},
		{[]string{"--url", url, "--think", "1s"}, "--think applies to virtual users"},
		{[]string{"--url", url, "--header", "NoColon"}, "--header"},
		{[]string{"--url", url, "--body", "@" + body}, "no such file"},
		{[]string{"--url", url, "--workers", "4"}, "does not apply to --url"},
		{[]string{"--url", url, "--record", filepath.Join(dir, "nodir", "x.csv")}, "does not exist"},
		{[]string{"--url", url, "--record", dir}, "is a directory"},
		{[]string{"--experiment", "nosuch", "--record", filepath.Join(dir, "x.csv")}, "unknown experiment"},
		{[]string{"--record", filepath.Join(dir, "x.csv")}, "need --experiment"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			stdout, stderr, code := perflab(t, c.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr %q", code, stderr)
			}
			if !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Fatalf("stderr %q, want one line containing %q", stderr, c.want)
			}
			if stdout != "" {
				t.Fatalf("stdout %q, want nothing before the run starts", stdout)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "x.csv")); err == nil {
		t.Fatal("a refused run left a CSV file behind")
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	stdout, _, code := perflab(t, "--help")
	if code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	var o options
	newRootFlags(&o).VisitAll(func(f *flag.Flag) {
		name := "--" + f.Name
		if len(f.Name) == 1 {
			name = "-" + f.Name
		}
		if !strings.Contains(stdout, name+" ") {
			t.Errorf("help does not document %s", name)
		}
	})
}

func TestHeadlessURLRunWritesCSV(t *testing.T) {
	url := target(t)
	out := filepath.Join(t.TempDir(), "run.csv")
	stdout, stderr, code := perflab(t, "--url", url, "--vus", "4", "--think", "20ms", "--duration", "2s", "--record", out)
	if code != 0 {
		t.Fatalf("exit %d; stderr %s", code, stderr)
	}
	for _, want := range []string{"http_req_duration", "http_reqs", "closed, 4 VUs"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	rows := readCSV(t, out)
	var kinds []string
	for _, r := range rows[1:] {
		kinds = append(kinds, r[0]+":"+r[2]+":"+r[4])
	}
	want := "interval:1:all interval:1:url interval:2:all interval:2:url"
	if got := strings.Join(kinds[:4], " "); got != want {
		t.Fatalf("first rows %q, want %q", got, want)
	}
	if last := rows[len(rows)-1]; last[0] != "summary" || last[4] != "url" || last[11] != "4" {
		t.Fatalf("last row %v, want the url summary with vus 4", last)
	}
}

func TestRefusedTargetExitsOne(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	stdout, stderr, code := perflab(t, "--url", "http://"+addr+"/", "-c", "2", "--duration", "500ms")
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %s", code, stderr)
	}
	if !strings.Contains(stderr, "every request failed") || !strings.Contains(stdout, "connect") {
		t.Fatalf("stderr %q / stdout %q: want the failure explained and connect errors counted", stderr, stdout)
	}
}

// TestInterruptKeepsValidCSV stops a long run with SIGINT: the process
// exits promptly and the file holds the seconds so far plus summary rows.
func TestInterruptKeepsValidCSV(t *testing.T) {
	url := target(t)
	out := filepath.Join(t.TempDir(), "run.csv")
	cmd := exec.Command(binary, "--url", url, "-c", "2", "--duration", "60s", "--record", out)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("interrupted run: %v", err)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("perflab did not stop within 10 s of SIGINT")
	}
	rows := readCSV(t, out)
	intervals, summaries := 0, 0
	for _, r := range rows[1:] {
		switch r[0] {
		case "interval":
			intervals++
		case "summary":
			summaries++
		}
	}
	if intervals < 2 || summaries != 2 {
		t.Fatalf("%d interval and %d summary rows, want >= 2 and 2", intervals, summaries)
	}
	if !strings.Contains(stdout.String(), "http_reqs") {
		t.Fatal("no summary printed after the interrupt")
	}
}

// TestEngineFlagPicksThePath runs the same open-model load on each
// engine path: the summary names the one that ran, and only the event
// loop's pacer reports its spinning.
func TestEngineFlagPicksThePath(t *testing.T) {
	url := target(t)
	for _, c := range []struct{ flag, want string }{{"auto", "loop"}, {"loop", "loop"}, {"goroutine", "goroutine"}} {
		stdout, stderr, code := perflab(t, "--url", url, "--rate", "200", "--duration", "1s", "--engine", c.flag)
		if code != 0 {
			t.Fatalf("--engine %s: exit %d; stderr %s", c.flag, code, stderr)
		}
		if !strings.Contains(stdout, "engine "+c.want) {
			t.Errorf("--engine %s: the summary does not say engine %s:\n%s", c.flag, c.want, stdout)
		}
		if spin := strings.Contains(stdout, "pacer spin"); spin != (c.want == "loop") {
			t.Errorf("--engine %s: pacer spin shown %v:\n%s", c.flag, spin, stdout)
		}
		n := -1
		if m := regexp.MustCompile(`http_reqs\.+: (\d+) `).FindStringSubmatch(stdout); m != nil {
			n, _ = strconv.Atoi(m[1])
		}
		if n < 180 || n > 220 {
			t.Errorf("--engine %s: not about 200 requests in 1 s at 200/s:\n%s", c.flag, stdout)
		}
	}
}
