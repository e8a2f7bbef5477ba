package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"perflab/engine"
)

// redisForAgents starts a real redis-server for the test and returns its
// URL.
func redisForAgents(t *testing.T) string {
	t.Helper()
	bin := needTool(t, "redis-server")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			c.Close()
			break
		}
		if time.Now().After(end) {
			t.Fatal("redis-server did not listen")
		}
	}
	return fmt.Sprintf("redis://127.0.0.1:%d", port)
}

// startAgent runs `perflab agent` until the test ends; it returns once
// the agent waits for plans.
func startAgent(t *testing.T, redisURL, name string, extra ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"agent", "--redis", redisURL, "--name", name, "--cpus", "1"}, extra...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "waiting for plans") {
				close(ready)
				break
			}
		}
		for sc.Scan() {
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatalf("agent %s did not start", name)
	}
	return cmd
}

// countingTarget answers "ok" and counts requests.
func countingTarget(t *testing.T) (string, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

// agentRows sums the requests of interval rows of series url by agent.
func agentRows(t *testing.T, path string) map[string]float64 {
	t.Helper()
	rows := readCSV(t, path)
	col := column(rows)
	sum := map[string]float64{}
	for _, r := range rows[1:] {
		if r[col["kind"]] == "interval" && r[col["series"]] == "url" {
			v, _ := strconv.ParseFloat(r[col["requests"]], 64)
			sum[r[col["agent"]]] += v
		}
	}
	return sum
}

// TestAgentsMergeExactly: three agent processes share a run; every merged
// second is the sum of the agents' seconds, and the merged histogram is
// the one of every agent's samples together: the same count and
// percentiles read back from the interval log.
func TestAgentsMergeExactly(t *testing.T) {
	redisURL := redisForAgents(t)
	for _, n := range []string{"a1", "a2", "a3"} {
		startAgent(t, redisURL, n)
	}
	url, served := countingTarget(t)
	dir := t.TempDir()
	csvPath, logPath := filepath.Join(dir, "run.csv"), filepath.Join(dir, "run.hlog")
	stdout, stderr, code := perflab(t, "--url", url, "-c", "6", "--duration", "3s", "--agents", redisURL, "--agents-min", "3",
		"--record", csvPath, "--hdr-log", logPath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	sums := agentRows(t, csvPath)
	if sums["a1"] == 0 || sums["a2"] == 0 || sums["a3"] == 0 || sums["all"] != sums["a1"]+sums["a2"]+sums["a3"] {
		t.Fatalf("interval requests by agent %v: the merged rows must be the agents' sum", sums)
	}
	// Each agent's line says how it drove its connections (a plain URL
	// takes the event loop), and so does the merged generator line.
	for _, name := range []string{"a1", "a2", "a3"} {
		if line := lineWith(stdout, "    "+name); !strings.Contains(line, "ok") || !strings.Contains(line, "loop (") {
			t.Errorf("no health line with its engine for %s:\n%s", name, stdout)
		}
	}
	if !strings.Contains(lineWith(stdout, "generator"), "engine loop (") {
		t.Errorf("the merged generator line does not name the agents' engine:\n%s", stdout)
	}
	// The log holds url (merged) and url~aN lines: renamed to one tag,
	// the agents' lines must merge into exactly the merged histogram.
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	agentsOnly := filepath.Join(dir, "agents.hlog")
	var b bytes.Buffer
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if strings.HasPrefix(line, "Tag=url~a") {
			line = "Tag=union," + line[strings.Index(line, ",")+1:]
		} else if strings.HasPrefix(line, "Tag=") {
			continue
		}
		b.WriteString(line)
	}
	os.WriteFile(agentsOnly, b.Bytes(), 0o644)
	merged, _, _ := perflab(t, "hdr", logPath, "--series", "url")
	union, _, _ := perflab(t, "hdr", agentsOnly, "--series", "union")
	m, u := hdrRow(t, merged, "url"), hdrRow(t, union, "union")
	if strings.Join(m[1:2], " ") != strings.Join(u[1:2], " ") || strings.Join(m[3:], " ") != strings.Join(u[3:], " ") {
		t.Fatalf("merged %v, the agents' samples together %v: want the same count and figures", m, u)
	}
	if got, _ := strconv.Atoi(m[1]); int64(got) > served.Load() || got == 0 {
		t.Fatalf("merged %d answers, the target served %d", got, served.Load())
	}
}

// TestAgentLostMovesShare: an agent killed mid-run is marked lost, its
// share goes to the others within 5 s, and what it sent before stays
// counted once.
func TestAgentLostMovesShare(t *testing.T) {
	redisURL := redisForAgents(t)
	victim := startAgent(t, redisURL, "a1")
	startAgent(t, redisURL, "a2")
	startAgent(t, redisURL, "a3")
	url, _ := countingTarget(t)
	csvPath := filepath.Join(t.TempDir(), "run.csv")
	// Kill a1 once it has sent two seconds, however slow the machine.
	go func() {
		for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if agentSeconds(csvPath, "a1") >= 2 {
				victim.Process.Kill()
				return
			}
		}
	}()
	stdout, stderr, code := perflab(t, "--url", url, "-c", "6", "--duration", "12s", "--agents", redisURL, "--agents-min", "3", "--record", csvPath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "agent a1 lost") || !strings.Contains(lineWith(stdout, "    a1"), "LOST") {
		t.Fatalf("the loss is not said:\n%s\n%s", stderr, stdout)
	}
	rows := readCSV(t, csvPath)
	col := column(rows)
	lastA1, movedAt := 0, 0
	for _, r := range rows[1:] {
		if r[col["kind"]] != "interval" || r[col["series"]] != "all" {
			continue
		}
		sec, _ := strconv.Atoi(r[col["elapsed_s"]])
		switch a := r[col["agent"]]; {
		case a == "a1":
			lastA1 = max(lastA1, sec)
		case a != "all" && r[col["conns"]] == "3" && movedAt == 0:
			movedAt = sec
		}
	}
	if movedAt == 0 || movedAt > lastA1+5+1 {
		t.Fatalf("a1's last second %d; the others took its share at second %d: want within 5 s", lastA1, movedAt)
	}
	sums := agentRows(t, csvPath)
	if sums["all"] != sums["a1"]+sums["a2"]+sums["a3"] || sums["a1"] == 0 {
		t.Fatalf("interval requests by agent %v: a1's seconds must count once", sums)
	}
}

// TestControllerDeathStopsAgents: killing the controller stops the
// agents' load within 5 s.
func TestControllerDeathStopsAgents(t *testing.T) {
	redisURL := redisForAgents(t)
	startAgent(t, redisURL, "a1")
	startAgent(t, redisURL, "a2")
	url, served := countingTarget(t)
	ctl := exec.Command(binary, "--url", url, "-c", "2", "--duration", "60s", "--agents", redisURL, "--agents-min", "2")
	if err := ctl.Start(); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(15 * time.Second); served.Load() == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			ctl.Process.Kill()
			t.Fatal("the agents never started")
		}
	}
	ctl.Process.Kill()
	ctl.Wait()
	killed := time.Now()
	for {
		before := served.Load()
		time.Sleep(500 * time.Millisecond)
		if served.Load() == before {
			break
		}
		if time.Since(killed) > 5*time.Second {
			t.Fatalf("the agents still send %d requests/s 5 s after the controller died", 2*(served.Load()-before))
		}
	}
	t.Logf("load stopped %s after the controller died", time.Since(killed).Round(100*time.Millisecond))
}

// TestAgentRefusesForeignTargets: an agent takes only targets its --allow
// matches (loopback by default), and says why.
func TestAgentRefusesForeignTargets(t *testing.T) {
	redisURL := redisForAgents(t)
	startAgent(t, redisURL, "a1")
	_, stderr, code := perflab(t, "--url", "http://192.0.2.10:8080/", "-c", "1", "--duration", "1s", "--agents", redisURL)
	if code == 0 || !strings.Contains(stderr, "refused the run") || !strings.Contains(stderr, "--allow") {
		t.Fatalf("exit %d, %q: want the run refused by a1's --allow", code, stderr)
	}
	if _, stderr, code := perflab(t, "--url", "http://127.0.0.1:1/", "--agents", "redis://127.0.0.1:1"); code != 2 || !strings.Contains(stderr, "does not answer") {
		t.Fatalf("unreachable Redis: exit %d, %q; want 2 and one line", code, stderr)
	}
	if _, stderr, code := perflab(t, "agent", "--redis", "redis://127.0.0.1:1"); code != 2 || !strings.Contains(stderr, "does not answer") {
		t.Fatalf("agent with an unreachable Redis: exit %d, %q", code, stderr)
	}
}

// agentSeconds counts the interval rows of series all an agent has in a
// CSV being written.
func agentSeconds(path, agent string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	rows, _ := csv.NewReader(f).ReadAll()
	if len(rows) < 2 {
		return 0
	}
	col := column(rows)
	n := 0
	for _, r := range rows[1:] {
		if len(r) == len(rows[0]) && r[col["kind"]] == "interval" && r[col["series"]] == "all" && r[col["agent"]] == agent {
			n++
		}
	}
	return n
}

// TestAgentPlanCarriesEngineFlags: --engine and --realtime-pacer reach
// the agents in their plan; without --engine the plan names no path.
func TestAgentPlanCarriesEngineFlags(t *testing.T) {
	step := engine.Step{Name: "url", Method: "GET", URL: "http://127.0.0.1:1/"}
	for _, c := range []struct {
		args     []string
		path     string
		realtime bool
	}{
		{[]string{"--url", step.URL, "--rate", "10"}, "", false},
		{[]string{"--url", step.URL, "--rate", "10", "--engine", "loop", "--realtime-pacer"}, engine.PathLoop, true},
		{[]string{"--url", step.URL, "-c", "2", "--engine", "goroutine"}, engine.PathGoroutine, false},
	} {
		o, err := parseRoot(c.args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		p, err := agentPlan(o, step, engine.Open{Rate: 10})
		if err != nil {
			t.Fatal(err)
		}
		if p.Engine != c.path || p.Realtime != c.realtime {
			t.Errorf("%v: plan engine %q, real-time %v; want %q, %v", c.args, p.Engine, p.Realtime, c.path, c.realtime)
		}
	}
}
