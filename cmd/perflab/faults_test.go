package main

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"perflab/engine"
	"perflab/engine/hostile"
)

// The binary against servers that misbehave on purpose: what a user sees
// (summary, exit status, CSV) must say what went wrong.

// TestDroppedRequestsShowAsFailures: against a server that drops every
// second request, the summary counts the failures by kind, nothing is
// retried, and the CSV's new columns are filled in.
func TestDroppedRequestsShowAsFailures(t *testing.T) {
	srv := hostile.Must(t, hostile.DropEverySecond)
	out := filepath.Join(t.TempDir(), "run.csv")
	stdout, stderr, code := perflab(t, "--url", srv.URL, "-c", "4", "--duration", "1s", "--record", out)
	if code != 0 {
		t.Fatalf("exit %d (half the requests failed, not all); stderr %s", code, stderr)
	}
	for _, want := range []string{"errors by kind..................: dropped ", "retries.........................: 0\n", "unfinished......................: "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "http_req_failed.................: 0.00%") {
		t.Fatalf("the summary reports no failures against a server that dropped %d requests:\n%s", srv.Dropped.Load(), stdout)
	}
	rows := readCSV(t, out)
	col := column(rows)
	last := rows[len(rows)-1]
	errors, _ := strconv.Atoi(last[col["errors"]])
	if last[col["kind"]] != "summary" || errors == 0 || last[col["retries"]] != "0" || last[col["unfinished"]] == "" {
		t.Fatalf("summary row %v: want errors counted, retries 0 and unfinished filled in", last)
	}
}

// TestNeverAnsweringTargetSaysSo: a target that accepts and never answers
// leaves every request unfinished; the run fails and says how many.
func TestNeverAnsweringTargetSaysSo(t *testing.T) {
	srv := hostile.Must(t, hostile.NeverAnswer)
	stdout, stderr, code := perflab(t, "--url", srv.URL, "-c", "4", "--duration", "500ms")
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %s", code, stderr)
	}
	if !strings.Contains(stderr, "no request completed: 4 unfinished") || !strings.Contains(stdout, "unfinished......................: 4") {
		t.Fatalf("stderr %q / stdout %q: want the 4 unfinished requests named", stderr, stdout)
	}
}

// TestEndlessBodyEndsOnTime: an answer that streams forever fails as too
// large and the run ends on time instead of buffering gigabytes.
func TestEndlessBodyEndsOnTime(t *testing.T) {
	srv := hostile.Must(t, hostile.EndlessBody)
	began := time.Now()
	stdout, stderr, code := perflab(t, "--url", srv.URL, "-c", "8", "--duration", "2s", "--max-body", "512KiB")
	// A hang check: before the bound, such a run took tens of seconds.
	if took := time.Since(began); took > 10*time.Second {
		t.Fatalf("a 2s run took %s", took)
	}
	if code != 1 || !strings.Contains(stdout, "errors by kind..................: body too large ") {
		t.Fatalf("exit %d, stdout %s, stderr %s: want every request failed as too large", code, stdout, stderr)
	}
}

// TestSIGTERMDuringALargeRamp: thousands of connections to a target that
// never accepts them, then SIGTERM: perflab stops at once instead of
// waiting for every connect to time out.
func TestSIGTERMDuringALargeRamp(t *testing.T) {
	url, stop, err := hostile.NoAccept()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	n := min(10000, engine.MaxConns())
	cmd := exec.Command(binary, "--url", url, "-c", strconv.Itoa(n), "--duration", "60s")
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Signal once the run has begun (its first line is out, so its
	// handler is set), a second into the ramp.
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(stderr.String(), "perflab:"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no first line in 20 s: stderr %q", stderr.String())
		}
	}
	time.Sleep(time.Second)
	cmd.Process.Signal(syscall.SIGTERM)
	sent := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("-c %d: still running 15 s after SIGTERM", n)
	}
	t.Logf("-c %d stopped %s after SIGTERM; %s", n, time.Since(sent).Round(time.Millisecond), strings.TrimSpace(stderr.String()))
	if !strings.Contains(stdout.String(), "unfinished") || !strings.Contains(stderr.String(), "interrupted") {
		t.Fatalf("stdout %q, stderr %q: want the summary of the interrupted run", stdout.String(), stderr.String())
	}
}
