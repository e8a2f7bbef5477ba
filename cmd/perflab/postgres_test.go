package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"perflab/server/proc"
)

// TestDBUsage: a --db the twin cannot use is one line and exit 2 before
// anything starts, saying how to install PostgreSQL when it is missing.
func TestDBUsage(t *testing.T) {
	t.Setenv("PERFLAB_PG_BINDIR", t.TempDir()) // no initdb there
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--db", "postgres"}, "apt-get install postgresql"},
		{[]string{"--experiment", "likes", "--db", "postgres", "--record", filepath.Join(t.TempDir(), "x.csv")}, "apt-get install postgresql"},
		{[]string{"--experiment", "likes", "--sweep", "db=sqlite,postgres", "--record", filepath.Join(t.TempDir(), "x.csv")}, "apt-get install postgresql"},
		{[]string{"serve", "--db", "mysql"}, "--db must be sqlite, postgres or postgres://"},
		{[]string{"serve", "--db", "postgres://localhost:5432"}, "--db must be sqlite, postgres or postgres://"},
		{[]string{"serve", "--db-conn", "pooled"}, "--db-conn pooled is not allowed; use one of per-request, persistent"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != exitUsage || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, stderr.String(), exitUsage, tc.want)
			}
			if strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
				t.Errorf("bad usage should say so in one line, got %q", stderr.String())
			}
		})
	}
}

// needPostgres skips, loudly, without PostgreSQL's server programs,
// unless PERFLAB_REQUIRE_EXTERNAL=1 makes that a failure.
func needPostgres(t *testing.T) {
	t.Helper()
	if dir := os.Getenv("PERFLAB_PG_BINDIR"); dir != "" {
		if fileExists(filepath.Join(dir, "initdb")) {
			return
		}
	} else if dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(dirs) > 0 {
		return
	}
	msg := "PostgreSQL's server programs are not installed, so this test cannot run; install them (apt-get install postgresql) to run it"
	if os.Getenv("PERFLAB_REQUIRE_EXTERNAL") == "1" {
		t.Fatal(msg + " (PERFLAB_REQUIRE_EXTERNAL=1)")
	}
	t.Skip("SKIPPED: " + msg)
}

// clusterDir finds the private cluster of the perflab process pid.
func clusterDir(t *testing.T, pid int) string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), fmt.Sprintf("perflab-pg-%d-*", pid)))
	if len(dirs) != 1 {
		t.Fatalf("perflab %d has clusters %v, want one", pid, dirs)
	}
	return dirs[0]
}

// waitGone waits up to 5 s for the cluster's server processes to end.
func waitGone(t *testing.T, data, after string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := proc.InDirectory(data)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("postgres processes %v still run 5s after %s", pids, after)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServePostgresStopsClean: perflab serve --db postgres stopped
// with SIGTERM exits 0 having stopped its database server and removed
// the cluster's directory.
func TestServePostgresStopsClean(t *testing.T) {
	needPostgres(t)
	s := startServe(t, binary, "--db", "postgres", "--profile", "go", "--stats-every", "0", "--data-dir", t.TempDir())
	signinAndLikes(t, s.app)
	dir := clusterDir(t, s.cmd.Process.Pid)
	data := filepath.Join(dir, "data")
	if len(proc.InDirectory(data)) < 2 {
		t.Fatal("no postgres processes found in the cluster's data directory")
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	for range s.lines {
	}
	if err := s.cmd.Wait(); err != nil {
		t.Errorf("exit: %v, want 0", err)
	}
	if pids := proc.InDirectory(data); len(pids) > 0 {
		t.Errorf("postgres processes %v outlived perflab serve", pids)
	}
	if fileExists(dir) {
		t.Errorf("the cluster's directory %s is left after perflab serve exited", dir)
	}
}

// TestServePostgresAfterSIGKILL: perflab serve --db postgres killed with
// SIGKILL takes its database server with it within 5 s; killed together
// with the cluster's watchdog, it leaves the cluster's directory, which
// the next start removes.
func TestServePostgresAfterSIGKILL(t *testing.T) {
	needPostgres(t)
	args := []string{"--db", "postgres", "--profile", "go", "--stats-every", "0", "--data-dir", t.TempDir()}

	first := startServe(t, binary, args...)
	signinAndLikes(t, first.app)
	dir := clusterDir(t, first.cmd.Process.Pid)
	data := filepath.Join(dir, "data")
	if len(proc.InDirectory(data)) < 2 {
		t.Fatal("no postgres processes found in the cluster's data directory")
	}
	watchdog := first.stats(t).DB.Server.PID
	syscall.Kill(watchdog, syscall.SIGKILL)
	first.cmd.Process.Kill()
	first.cmd.Wait()
	waitGone(t, data, "perflab and its watchdog were killed")
	if !fileExists(dir) {
		t.Fatalf("the cluster %s is gone already; the next start was to find it stale", dir)
	}

	second := startServe(t, binary, args...)
	if fileExists(dir) {
		t.Errorf("the next start left the stale cluster %s", dir)
	}
	signinAndLikes(t, second.app)
	dir = clusterDir(t, second.cmd.Process.Pid)
	data = filepath.Join(dir, "data")
	second.cmd.Process.Kill()
	second.cmd.Wait()
	waitGone(t, data, "perflab was killed")
	for deadline := time.Now().Add(5 * time.Second); fileExists(dir); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the cluster %s is still there 5s after perflab was killed", dir)
		}
	}
}
