package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"perflab/server/proc"
)

func TestMain(m *testing.M) {
	proc.Main()
	// Children of a -race test binary would otherwise sleep a second on
	// exit (the race runtime's default), which every Close waits for.
	if os.Getenv("GORACE") == "" {
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	os.Exit(m.Run())
}

// fastConfig is the default configuration under the go profile, for tests
// where the declared costs do not matter.
func fastConfig() Config {
	c := DefaultConfig()
	c.Profile = ProfileGo
	return c
}

// startTwin starts a twin for one test and stops it when the test ends,
// checking that none of its processes, and none of its files unless kept,
// outlive Close.
func startTwin(t *testing.T, c Config) *Twin {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tw, err := Start(ctx, c)
	if err != nil {
		t.Fatalf("start twin: %v", err)
	}
	t.Cleanup(func() {
		pids := twinPIDs(tw.Stats())
		if err := tw.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		for _, pid := range pids {
			if proc.Running(pid) {
				t.Errorf("process %d still runs after Close", pid)
			}
		}
		if !c.KeepData {
			if _, err := os.Stat(tw.DataDir()); c.DataDir == "" && !os.IsNotExist(err) {
				t.Errorf("data directory %s left behind after Close", tw.DataDir())
			}
		}
	})
	return tw
}

// twinPIDs lists the twin's child processes: workers, task worker,
// embedded Redis, edge.
func twinPIDs(s Stats) []int {
	var pids []int
	for _, w := range s.Workers {
		if w.PID != 0 {
			pids = append(pids, w.PID)
		}
	}
	for _, pid := range []int{s.Tasks.PID, s.Edge.PID} {
		if pid != 0 {
			pids = append(pids, pid)
		}
	}
	if s.Redis != nil && s.Redis.PID != 0 {
		pids = append(pids, s.Redis.PID)
	}
	return pids
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// needProgram returns the path of an external program a test needs. When
// it is missing the test is skipped, loudly, unless
// PERFLAB_REQUIRE_EXTERNAL=1 makes that a failure.
func needProgram(t *testing.T, name, install string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("%s is not installed, so this test cannot run; install it (%s) to run it", name, install)
	if os.Getenv("PERFLAB_REQUIRE_EXTERNAL") == "1" {
		t.Fatal(msg + " (PERFLAB_REQUIRE_EXTERNAL=1)")
	}
	t.Skip("SKIPPED: " + msg)
	return ""
}

// api is a test client of one twin.
type api struct {
	t     *testing.T
	base  string
	token string
	hc    *http.Client
}

func newAPI(t *testing.T, base string) *api {
	return &api{t: t, base: base, hc: &http.Client{Timeout: 30 * time.Second}}
}

// do sends a request and returns the answer with its body read.
func (a *api) do(method, path, body string, header ...string) (*http.Response, []byte) {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, b
}

// signin logs in as the fixture user and keeps the access token.
func (a *api) signin() {
	a.t.Helper()
	resp, body := a.do("POST", "/api/auths/signin/", `{"email":"ruby@gmail.com","password":"12345678"}`)
	if resp.StatusCode != http.StatusOK {
		a.t.Fatalf("signin: %d %s", resp.StatusCode, body)
	}
	var tok struct{ Access string }
	if err := json.Unmarshal(body, &tok); err != nil || tok.Access == "" {
		a.t.Fatalf("signin answer has no access token: %s", body)
	}
	a.token = tok.Access
}

// likes GETs the likes list and decodes it.
func (a *api) likes() []likeEntry {
	a.t.Helper()
	resp, body := a.do("GET", "/api/logbooks/likes/", "")
	if resp.StatusCode != http.StatusOK {
		a.t.Fatalf("likes: %d %s", resp.StatusCode, body)
	}
	var out []likeEntry
	if err := json.Unmarshal(body, &out); err != nil {
		a.t.Fatalf("likes answer is not the list: %v: %s", err, body)
	}
	return out
}
