package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// needTool returns the path of an external program the test needs. A
// missing one skips the test with a loud reason, unless
// PERFLAB_REQUIRE_EXTERNAL=1, where it fails: there the tool must be
// installed.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("PERFLAB_REQUIRE_EXTERNAL") == "1" {
		t.Fatalf("%s is required (PERFLAB_REQUIRE_EXTERNAL=1) but not installed: %v", name, err)
	}
	t.Skipf("SKIPPED: %s is not installed, so the dashboard is not tested in a real terminal; install it or set PERFLAB_REQUIRE_EXTERNAL=1 to make this a failure", name)
	return ""
}

// terminal is the built perflab running in a detached tmux session of a
// fixed size, on a tmux server of the test's own.
type terminal struct {
	t       *testing.T
	tmux    string
	socket  string
	session string
}

// exitLine is printed by the session's shell when perflab ends, so the
// test sees the exit status on the screen.
const exitLine = "[perflab exited "

func startTerminal(t *testing.T, w, h int, env []string, args ...string) *terminal {
	t.Helper()
	tm := &terminal{t: t, tmux: needTool(t, "tmux"), session: "perflab"}
	tm.socket = fmt.Sprintf("perflab-test-%d-%s", os.Getpid(), regexp.MustCompile(`\W`).ReplaceAllString(t.Name(), "_"))
	quoted := []string{"exec env"}
	for _, e := range append([]string{"TERM=xterm-256color"}, env...) {
		quoted = append(quoted, shellQuote(e))
	}
	quoted = append(quoted, "sh -c "+shellQuote(shellQuote(binary)+` "$@"; echo "`+exitLine+`$?]"; sleep 60`), "sh")
	for _, a := range args {
		quoted = append(quoted, shellQuote(a))
	}
	tm.run("new-session", "-d", "-s", tm.session, "-x", strconv.Itoa(w), "-y", strconv.Itoa(h), strings.Join(quoted, " "))
	t.Cleanup(func() {
		// The server is this test's own: ending it ends the session's
		// shell; perflab itself must be gone already (checked by tests).
		exec.Command(tm.tmux, "-L", tm.socket, "kill-server").Run()
	})
	return tm
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func (tm *terminal) run(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command(tm.tmux, append([]string{"-L", tm.socket}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// screen is what the terminal shows; with escapes, its colours and
// attributes too.
func (tm *terminal) screen(escapes bool) string {
	args := []string{"capture-pane", "-p", "-t", tm.session}
	if escapes {
		args = append(args, "-e")
	}
	return tm.run(args...)
}

// keys types keys as tmux names them ("v", "Space", "q").
func (tm *terminal) keys(keys ...string) {
	tm.run(append([]string{"send-keys", "-t", tm.session}, keys...)...)
}

// waitFor polls the screen until ok accepts it.
func (tm *terminal) waitFor(what string, timeout time.Duration, ok func(screen string) bool) string {
	tm.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := tm.screen(false)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("waited %s for %s; the screen:\n%s", timeout, what, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (tm *terminal) waitText(text string, timeout time.Duration) string {
	tm.t.Helper()
	return tm.waitFor(fmt.Sprintf("%q", text), timeout, func(s string) bool { return strings.Contains(s, text) })
}

// quit presses key (q, or C-c) and expects perflab to end cleanly,
// leaving no process of its binary behind.
func (tm *terminal) quit(key string) {
	tm.t.Helper()
	tm.keys(key)
	s := tm.waitText(exitLine, 10*time.Second)
	if !strings.Contains(s, exitLine+"0]") {
		tm.t.Fatalf("perflab did not exit with status 0:\n%s", s)
	}
	if strings.Contains(s, "latency ms") {
		tm.t.Fatalf("the terminal was not restored after quitting:\n%s", s)
	}
	noPerflabLeft(tm.t)
}

// noPerflabLeft fails if any process runs the built binary: the
// dashboard, or a child it started (a twin worker).
func noPerflabLeft(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		return
	}
	want, err := filepath.EvalSymlinks(binary)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		var left []string
		procs, _ := filepath.Glob("/proc/[0-9]*/exe")
		for _, p := range procs {
			if exe, err := os.Readlink(p); err == nil && exe == want {
				left = append(left, filepath.Base(filepath.Dir(p)))
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("perflab processes left behind: pids %s", strings.Join(left, ", "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var generatorRate = regexp.MustCompile(`generator ([0-9.]+) req/s`)

// rateOn reads the generator's achieved rate from the health line.
func rateOn(screen string) float64 {
	m := generatorRate.FindStringSubmatch(screen)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// chartsDrawn reports whether the latency chart has data: its y axis
// carries labels above zero.
func chartsDrawn(s string) bool {
	return strings.Contains(s, "latency ms") && regexp.MustCompile(`[1-9][0-9.]* [┤┼]`).MatchString(s) && strings.Contains(s, "last 1 s")
}

// The --url dashboard in a real terminal: the charts fill, the load keys
// change the load and the figures follow, b marks a baseline, space
// pauses, q quits and restores the terminal, and nothing is left running.
func TestDashboardURLInTerminal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	tm := startTerminal(t, 120, 40, nil, "--url", srv.URL+"/", "--vus", "2", "--think", "50ms")
	s := tm.waitFor("the charts", 15*time.Second, chartsDrawn)
	if !strings.Contains(s, "GET "+srv.URL+"/") || !strings.Contains(s, "users    2") {
		t.Fatalf("the header or the load panel is wrong:\n%s", s)
	}
	before := rateOn(tm.waitFor("a steady rate", 10*time.Second, func(s string) bool { return rateOn(s) > 20 }))

	// Three more users: the panel, the chart's mark and the rate follow.
	tm.keys("v", "v", "v")
	tm.waitText("users    5", 5*time.Second)
	tm.waitText("vus=5", 5*time.Second)
	tm.waitFor("the rate to rise", 10*time.Second, func(s string) bool { return rateOn(s) > before*1.8 })

	tm.keys("b")
	tm.waitFor("a baseline row", 5*time.Second, func(s string) bool {
		return strings.Contains(s, "baseline ") && strings.Contains(s, "change ")
	})
	tm.keys("V", "V", "V")
	tm.waitText("users    2", 5*time.Second)
	tm.waitFor("the rate to fall back", 10*time.Second, func(s string) bool { r := rateOn(s); return r > 0 && r < before*1.3 })

	tm.keys("Space")
	tm.waitText("paused ", 5*time.Second)
	tm.keys("Space")
	tm.waitFor("the load to resume", 5*time.Second, func(s string) bool {
		return !strings.Contains(s, "paused ") && strings.Contains(s, "space pause")
	})
	tm.quit("q")
}

// Under NO_COLOR the dashboard draws no colour at all.
func TestDashboardNoColor(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	tm := startTerminal(t, 100, 30, []string{"NO_COLOR=1"}, "--url", srv.URL+"/", "--vus", "1", "--think", "50ms")
	tm.waitFor("the charts", 15*time.Second, chartsDrawn)
	raw := tm.screen(true)
	if c := colourEscape(raw); c != "" {
		t.Fatalf("colour escape %q on screen under NO_COLOR:\n%s", c, raw)
	}
	if !strings.Contains(raw, "\x1b[1m") {
		t.Fatalf("no attributes at all: the screen was not captured with its escapes:\n%s", raw)
	}
	tm.quit("C-c")
}

// colourEscape returns the first SGR sequence in s that sets a colour
// (resets to the default colours do not count), or "".
func colourEscape(s string) string {
	for _, m := range regexp.MustCompile(`\x1b\[([0-9;:]*)m`).FindAllStringSubmatch(s, -1) {
		for _, p := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ';' || r == ':' }) {
			n, _ := strconv.Atoi(p)
			if n >= 30 && n <= 38 || n >= 40 && n <= 48 || n >= 90 && n <= 97 || n >= 100 && n <= 107 {
				return m[0]
			}
		}
	}
	return ""
}

// The likes experiment in a real terminal: the workers, cache and mode
// keys change the twin live, the knob panel and the chart marks follow,
// and the why panel shows the cache hits rising after c.
func TestDashboardLikesInTerminal(t *testing.T) {
	tm := startTerminal(t, 120, 40, nil, "--experiment", "likes")
	tm.waitFor("the charts", 60*time.Second, chartsDrawn)
	tm.waitText("why", 5*time.Second)

	workers := regexp.MustCompile(`workers +([0-9]+)`)
	cur := workers.FindStringSubmatch(tm.screen(false))
	if cur == nil {
		t.Fatalf("no workers knob on screen:\n%s", tm.screen(false))
	}
	n, _ := strconv.Atoi(cur[1])
	tm.keys("w")
	tm.waitFor("workers to change", 30*time.Second, func(s string) bool {
		m := workers.FindStringSubmatch(s)
		return m != nil && m[1] == strconv.Itoa(n+1) && !strings.Contains(s, "→")
	})
	tm.waitText(fmt.Sprintf("w=%d", n+1), 5*time.Second)

	tm.keys("c")
	tm.waitText("cache on", 30*time.Second)
	hits := regexp.MustCompile(`cache hit +([0-9]+) %`)
	tm.waitFor("the cache hit rate to rise", 30*time.Second, func(s string) bool {
		m := hits.FindStringSubmatch(s)
		if m == nil {
			return false
		}
		v, _ := strconv.Atoi(m[1])
		return v >= 50
	})

	tm.keys("m")
	tm.waitFor("async mode", 30*time.Second, func(s string) bool {
		return regexp.MustCompile(`mode +async`).MatchString(s) && strings.Contains(s, "mode async")
	})
	tm.quit("q")
}

// The Fishial race on the dashboard: it opens racing all four at once and
// says they shared the machine's cores; R runs them one after another,
// the figures that stand beside the study's; quitting leaves none of the
// race's processes behind.
func TestDashboardFishialInTerminal(t *testing.T) {
	tm := startTerminal(t, 120, 40, nil, "--experiment", "fishial", "--images", "5", "--time-scale", "0.05", "--nodes", "3", "--processes", "2")
	s := tm.waitText("results of a shared race", 120*time.Second)
	if !regexp.MustCompile(`all at once, sharing [0-9]+ core`).MatchString(s) || strings.Contains(s, "study s") {
		t.Fatalf("a race at once does not say it shared the cores, or sets its figures beside the study's:\n%s", s)
	}
	tm.keys("R")
	s = tm.waitText("results beside the study's", 120*time.Second)
	if !strings.Contains(s, "one after another") || !strings.Contains(s, "study s") || !strings.Contains(s, "coordinator") {
		t.Fatalf("R's race does not say it ran one after another, with the study's column and the coordinators' CPU:\n%s", s)
	}
	tm.quit("q")
}
