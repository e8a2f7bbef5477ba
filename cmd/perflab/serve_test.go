package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"perflab/server"
	"perflab/server/proc"
)

func TestServeFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"serve", "--help"}, exitOK, "--workers N"},
		{[]string{"serve", "--workers", "20"}, exitUsage, "--workers 20 is not allowed; use one of 1..16"},
		{[]string{"serve", "--workers", "x"}, exitUsage, "--workers x is not allowed; use one of 1..16"},
		{[]string{"serve", "--mode", "threads"}, exitUsage, "--mode threads is not allowed; use one of sync, async"},
		{[]string{"serve", "--cache", "maybe"}, exitUsage, "--cache maybe is not allowed; use one of off, on"},
		{[]string{"serve", "--offload", "yes"}, exitUsage, "--offload yes is not allowed; use one of off, on"},
		{[]string{"serve", "--redis", "localhost:6379"}, exitUsage, "--redis must be embedded or redis://host:port"},
		{[]string{"serve", "--addr", "8000"}, exitUsage, "--addr"},
		{[]string{"serve", "--stats-every", "-1s"}, exitUsage, "--stats-every must not be negative"},
		{[]string{"serve", "--stats-every", "5"}, exitUsage, "--stats-every 5: give a unit, e.g. 5s or 2m"},
		{[]string{"serve", "--frobnicate"}, exitUsage, "unknown flag --frobnicate"},
		{[]string{"serve", "now"}, exitUsage, `unexpected argument "now"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			out := stdout.String() + stderr.String()
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, output %q; want exit %d and %q", code, out, tc.code, tc.want)
			}
			if code == exitUsage && strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
				t.Errorf("bad usage should say so in one line, got %q", stderr.String())
			}
		})
	}
}

// served is a running `perflab serve`.
type served struct {
	cmd   *exec.Cmd
	lines chan string
	app   string
}

// startServe runs the binary's serve subcommand and waits for its URLs.
func startServe(t *testing.T, bin string, args ...string) *served {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &served{cmd: cmd, lines: make(chan string, 100)}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	// A private PostgreSQL cluster may take a minute or more to start
	// on a busy machine.
	timeout := time.After(3 * time.Minute)
	for s.app == "" {
		select {
		case line, ok := <-s.lines:
			if !ok {
				t.Fatal("perflab serve ended before printing its URLs")
			}
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "app "); ok {
				s.app = strings.TrimSuffix(strings.Fields(rest)[0], "/")
			}
		case <-timeout:
			t.Fatal("perflab serve printed no app URL within 3m")
		}
	}
	return s
}

func (s *served) stats(t *testing.T) server.Stats {
	t.Helper()
	resp, err := http.Get(s.app + server.StatsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st server.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// childPIDs lists the twin's processes: task worker, edge, embedded
// Redis (if any), workers.
func childPIDs(st server.Stats) []int {
	pids := []int{st.Tasks.PID, st.Edge.PID}
	if st.Redis != nil {
		pids = append(pids, st.Redis.PID)
	}
	for _, w := range st.Workers {
		pids = append(pids, w.PID)
	}
	return pids
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestServeBinary runs the built binary: the seed's requests work, a
// signal stops everything within 2 s leaving no process and no file, and
// kill -9 of perflab leaves no child behind.
func TestServeBinary(t *testing.T) {
	tmp := t.TempDir()
	bin := binary

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run("stops on "+sig.String(), func(t *testing.T) {
			data := filepath.Join(tmp, "data-"+sig.String())
			s := startServe(t, bin, "--workers", "2", "--profile", "go", "--data-dir", data, "--stats-every", "100ms")
			signinAndLikes(t, s.app)
			pids := childPIDs(s.stats(t))
			if len(pids) != 5 || slices.Contains(pids, 0) {
				t.Fatalf("child pids %v, want 2 workers, the task worker, the edge and the embedded Redis", pids)
			}
			sawFigures := false
			for !sawFigures {
				line, ok := <-s.lines
				if !ok {
					t.Fatal("output ended before a line of figures")
				}
				sawFigures = strings.Contains(line, "req/s") && strings.Contains(line, "workers 2/2")
			}
			began := time.Now()
			s.cmd.Process.Signal(sig)
			for range s.lines {
			}
			err := s.cmd.Wait()
			if d := time.Since(began); d > 2*time.Second {
				t.Errorf("stopping took %s, want within 2s", d)
			}
			if err != nil {
				t.Errorf("exit: %v, want 0", err)
			}
			for _, pid := range pids {
				if proc.Running(pid) {
					t.Errorf("child %d outlived perflab serve", pid)
				}
			}
			if fileExists(data) {
				t.Errorf("data directory %s left behind", data)
			}
		})
	}

	t.Run("kill -9 leaves no children", func(t *testing.T) {
		s := startServe(t, bin, "--workers", "3", "--profile", "go", "--data-dir", filepath.Join(tmp, "data-kill"), "--stats-every", "0")
		pids := childPIDs(s.stats(t))
		s.cmd.Process.Kill()
		s.cmd.Wait()
		deadline := time.Now().Add(2 * time.Second)
		for _, pid := range pids {
			for proc.Running(pid) {
				if time.Now().After(deadline) {
					t.Fatalf("child %d still runs 2s after perflab was killed", pid)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	})
}

// signinAndLikes is the seed's k6 iteration, by hand; it returns the
// likes list.
func signinAndLikes(t *testing.T, app string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", app+"/api/logbooks/likes/", nil)
	req.Header.Set("Authorization", "Bearer "+signin(t, app))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !json.Valid(body) {
		t.Fatalf("likes: status %d, body %q", resp.StatusCode, body)
	}
	return body
}

// signin signs the fixture user in and returns its access token.
func signin(t *testing.T, app string) string {
	t.Helper()
	resp, err := http.Post(app+"/api/auths/signin/", "application/json", strings.NewReader(`{"email":"ruby@gmail.com","password":"12345678"}`))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ Access string }
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != 200 || tok.Access == "" {
		t.Fatalf("login: status %d, token %q", resp.StatusCode, tok.Access)
	}
	return tok.Access
}
