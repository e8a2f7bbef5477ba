package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"perflab/server"
)

// shop is a loopback service with a sign-in and an authenticated list,
// counting every request it gets.
func shop(t *testing.T) (string, *atomic.Int64) {
	var requests atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Email, Password string }
		if json.NewDecoder(r.Body).Decode(&in) != nil || in.Password != "secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Session", "s-"+in.Email)
		fmt.Fprintf(w, `{"access":"tok-%s","user":{"id":7}}`, in.Email)
	})
	mux.HandleFunc("GET /items", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-a@b.c" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"items":[{"id":"x1"},{"id":"x2"}]}`))
	})
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"id":%q}`, r.PathValue("id"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &requests
}

// writeFile writes a file into dir and returns its path.
func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const shopFlow = `name: shop
vus: 3
think: 50ms
duration: 1s
setup:
  - name: signin
    method: POST
    url: /login
    body: {email: a@b.c, password: secret}
    check: {status: 200, json: {user.id: number}}
    capture: {access: access}
steps:
  - name: list
    url: /items
    headers:
      Authorization: Bearer {{access}}
    check: {status: 200, contains: '"items"'}
    capture: {first: "items[0].id"}
  - name: item
    url: /items/{{first}}
    check:
      json: {id: string}
    think: 10ms..30ms
`

// summaryRows are a CSV's summary rows by series.
func summaryRows(t *testing.T, path string) map[string]map[string]string {
	rows := readCSV(t, path)
	col := column(rows)
	out := map[string]map[string]string{}
	for _, r := range rows[1:] {
		if r[col["kind"]] != "summary" {
			continue
		}
		m := map[string]string{}
		for name, i := range col {
			m[name] = r[i]
		}
		out[r[col["series"]]] = m
	}
	return out
}

func TestScenarioFileHeadless(t *testing.T) {
	base, _ := shop(t)
	dir := t.TempDir()
	file := writeFile(t, dir, "shop.yaml", shopFlow)
	out := filepath.Join(dir, "run.csv")
	// --vus overrides the file's 3 users; the file's think and duration stay.
	stdout, stderr, code := perflab(t, "--scenario", file, "--url", base, "--vus", "2", "--record", out)
	if code != 0 {
		t.Fatalf("exit %d\nstderr: %s", code, stderr)
	}
	if !strings.Contains(stderr, "scenario shop at "+base+", closed, 2 VUs, think 50ms, for 1s") {
		t.Errorf("opening line does not say the load: %s", stderr)
	}
	for _, want := range []string{"{ step:signin }", "{ step:list }", "{ step:item }", "ok   status 200, body contains", "captured first"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	sum := summaryRows(t, out)
	for _, series := range []string{"all", "signin", "list", "item"} {
		r, ok := sum[series]
		if !ok {
			t.Fatalf("no summary row for %s: %v", series, sum)
		}
		if r["errors"] != "0" || r["checks_failed"] != "0" || r["vus"] != "2" {
			t.Errorf("%s: %v", series, r)
		}
	}
	if sum["signin"]["requests"] != "1" {
		t.Errorf("signin ran %s times, want once per run", sum["signin"]["requests"])
	}
	if n, _ := strconv.Atoi(sum["item"]["requests"]); n < 5 {
		t.Errorf("item ran %d times", n)
	}
}

// A bad scenario is one line naming the file and line, exit 2, before
// any request is sent.
func TestScenarioUsageErrors(t *testing.T) {
	base, requests := shop(t)
	dir := t.TempDir()
	writeFile(t, dir, "empty.csv", "")
	cases := []struct {
		name, text string
		args       []string
		want       string
	}{
		{"unknown key", "steps:\n  - name: a\n    url: /\n    heders: {A: b}\n", nil, "bad.yaml:4: unknown key \"heders\" in a step; did you mean headers?"},
		{"var never captured", "steps:\n  - name: a\n    url: /{{id}}\n", nil, "bad.yaml:3: {{id}} is never captured before this step"},
		{"capture path", "steps:\n  - name: a\n    url: /\n    capture: {id: \"a[\"}\n", nil, "bad.yaml:4: capture id: JSON path"},
		{"data empty", "data: empty.csv\nsteps:\n  - name: a\n    url: /\n", nil, "bad.yaml:1: data empty.csv is empty"},
		{"data missing", "data: users.csv\nsteps:\n  - name: a\n    url: /\n", nil, "bad.yaml:1: data users.csv: no such file or directory"},
		{"missing url", "steps:\n  - name: a\n", nil, "bad.yaml:2: step a has no url:"},
		{"bad stages", "stages: 10s:5,later:5\nsteps:\n  - name: a\n    url: /\n", nil, `bad.yaml:1: stages: "later:5": "later" is not a duration`},
		{"think without users", "think: 1s\nsteps:\n  - name: a\n    url: /\n", nil, "bad.yaml:1: think applies to virtual users; add vus: N"},
		{"header flag", "steps:\n  - name: a\n    url: /\n", []string{"--header", "A: b"}, "--header does not apply to --scenario"},
		{"knob flag", "steps:\n  - name: a\n    url: /\n", []string{"--workers", "2"}, "--workers is a twin experiment setting"},
		{"dry run records nothing", "steps:\n  - name: a\n    url: /\n", []string{"--dry-run", "--record", filepath.Join(dir, "x.csv")}, "--dry-run sends one iteration and records nothing; drop --record"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := writeFile(t, dir, "bad.yaml", c.text)
			args := append([]string{"--scenario", file, "--url", base, "--duration", "1s"}, c.args...)
			if c.name == "bad stages" || c.name == "think without users" {
				args = []string{"--scenario", file, "--url", base}
			}
			_, stderr, code := perflab(t, args...)
			want := strings.ReplaceAll(c.want, "bad.yaml", file)
			if code != 2 || !strings.Contains(stderr, "perflab: "+want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Fatalf("exit %d, stderr %q; want 2 and one line saying %q", code, stderr, want)
			}
		})
	}
	_, stderr, code := perflab(t, "--scenario", "nosuch", "--url", base)
	if code != 2 || !strings.Contains(stderr, "--scenario nosuch: no such file, and no embedded scenario of that name (embedded: likes, static)") {
		t.Fatalf("unknown scenario: exit %d, %s", code, stderr)
	}
	_, stderr, code = perflab(t, "--dry-run", "--url", base)
	if code != 2 || !strings.Contains(stderr, "--dry-run applies to a scenario") {
		t.Fatalf("--dry-run alone: exit %d, %s", code, stderr)
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("the target got %d requests from bad usage", n)
	}
}

func TestScenarioDryRun(t *testing.T) {
	base, requests := shop(t)
	dir := t.TempDir()
	file := writeFile(t, dir, "shop.yaml", shopFlow)
	stdout, stderr, code := perflab(t, "--scenario", file, "--url", base, "--dry-run")
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	for _, want := range []string{
		"signin (setup, once per run)", "> POST /login HTTP/1.1", `> {"email":"a@b.c","password":"secret"}`,
		"< HTTP/1.1 200 OK", "< X-Session: s-a@b.c", `< {"access":"tok-a@b.c","user":{"id":7}}`, "{{access}} = tok-a@b.c",
		"list\n", "> Authorization: Bearer tok-a@b.c", "{{first}} = x1", "item\n", "> GET /items/x1 HTTP/1.1", `< {"id":"x1"}`,
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("dry run lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Count(stdout, "passed in ") != 3 || requests.Load() != 3 {
		t.Errorf("%d requests, %d passed; want one iteration of one user: 3\n%s", requests.Load(), strings.Count(stdout, "passed in "), stdout)
	}
	if !strings.Contains(stderr, "dry run: 3 requests, all passed") {
		t.Errorf("stderr: %s", stderr)
	}

	// A step that fails says why, and the dry run fails.
	bad := writeFile(t, dir, "bad.yaml", strings.Replace(shopFlow, "json: {id: string}", "json: {id: number}", 1))
	stdout, stderr, code = perflab(t, "--scenario", bad, "--url", base, "--dry-run")
	if code != 1 || !strings.Contains(stdout, "FAILED: JSON field id is a string, not a number") || !strings.Contains(stderr, "dry run: 1 of 3 requests failed") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}

// The users of a scenario with two flows weighted 3:1 send their
// requests 3:1, in the closed and the open model.
func TestScenarioWeightedFlows(t *testing.T) {
	base, _ := shop(t)
	dir := t.TempDir()
	file := writeFile(t, dir, "flows.yaml", `flows:
  - name: browse
    weight: 3
    steps:
      - name: browse
        url: /browse
  - name: buy
    weight: 1
    steps:
      - name: buy
        url: /buy
`)
	for _, load := range [][]string{{"--vus", "40", "--think", "20ms"}, {"--rate", "400"}} {
		t.Run(load[0], func(t *testing.T) {
			out := filepath.Join(dir, "run.csv")
			_, stderr, code := perflab(t, append([]string{"--scenario", file, "--url", base, "--duration", "2s", "--record", out}, load...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			sum := summaryRows(t, out)
			browse, _ := strconv.Atoi(sum["browse"]["requests"])
			buy, _ := strconv.Atoi(sum["buy"]["requests"])
			share := float64(browse) / float64(browse+buy)
			t.Logf("%v: browse %d, buy %d: %.2f%% browse", load, browse, buy, 100*share)
			if browse+buy < 500 || math.Abs(share-0.75) > 0.02 {
				t.Fatalf("browse %d, buy %d: share %.3f, want 0.75 within 0.02", browse, buy, share)
			}
		})
	}
}

// TestScenarioDataRowsOnTheTwin: twenty users each sign in to the twin
// as their own row of a data file (the twin answers each with that row's
// user) and like a logbook as that user, so the twin's likes list ends
// with all twenty; the embedded likes scenario runs against the same
// twin.
func TestScenarioDataRowsOnTheTwin(t *testing.T) {
	tw := startServe(t, binary, "--workers", "2", "--instance-cpus", "2")
	dir := t.TempDir()
	var csv strings.Builder
	csv.WriteString("email,password,username\n")
	for _, a := range server.FixtureAccounts() {
		name, _, _ := strings.Cut(a.Email, "@")
		fmt.Fprintf(&csv, "%s,%s,%s\n", a.Email, a.Password, name)
	}
	writeFile(t, dir, "users.csv", csv.String())
	file := writeFile(t, dir, "divers.yaml", `vus: 20
think: 200ms
data: {file: users.csv, unique: true}
setup:
  - name: signin
    per: user
    method: POST
    url: /api/auths/signin/
    body: {email: "{{row.email}}", password: "{{row.password}}"}
    check:
      status: 200
      contains: '"username":"{{row.username}}"'
    capture: {access: access}
  - name: like
    per: user
    method: POST
    url: /api/logbooks/1/like/
    headers: {Authorization: "Bearer {{access}}"}
    check: {status: 202}
steps:
  - name: likes
    url: /api/logbooks/likes/
    headers: {Authorization: "Bearer {{access}}"}
    check: {status: 200}
`)
	// Each sign-in pays the twin's 600,000 PBKDF2 iterations, so twenty
	// at once take seconds (a minute on a loaded machine): no timeout cuts
	// them short; the run goes on until all twenty are in and the users
	// have loaded the list, then stops as Ctrl-C would.
	out := filepath.Join(dir, "run.csv")
	stdout, stderr, code := runUntil(t, out, func(requests map[string]int) bool {
		return requests["signin"] >= 20 && requests["likes"] >= 40
	}, "--scenario", file, "--url", tw.app, "--duration", "5m", "--timeout", "5m", "--record", out)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	sum := summaryRows(t, out)
	if s := sum["signin"]; s["requests"] != "20" || s["errors"] != "0" || s["checks_passed"] != "20" {
		t.Fatalf("signin %v: want 20 users signed in once each, as their own row", s)
	}
	if l := sum["likes"]; l["errors"] != "0" || atoi(l["requests"]) < 20 {
		t.Fatalf("likes %v", l)
	}
	if strings.Contains(stdout, "ran out") {
		t.Fatalf("rows ran out with one per user:\n%s", stdout)
	}
	// The task worker applies likes from its queue: give it a moment.
	deadline := time.Now().Add(30 * time.Second)
	for divers := likedBy(t, tw.app, 1); len(divers) != 20; divers = likedBy(t, tw.app, 1) {
		if time.Now().After(deadline) {
			t.Fatalf("logbook 1 is liked by %v; want diver01..diver20, each user as its own row", divers)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// One user more than rows: the run says so.
	page := writeFile(t, dir, "page.yaml", "data: {file: users.csv, unique: true}\nsteps:\n  - name: page\n    url: /?u={{row.email}}\n")
	stdout, _, code = perflab(t, "--scenario", page, "--url", tw.app, "--vus", "21", "--think", "100ms", "--duration", "1s")
	if code != 0 || !strings.Contains(stdout, "data users.csv ran out: its 20 rows are used once each (unique), and 1 users found none") {
		t.Fatalf("exit %d: %s", code, stdout)
	}

	stdout, stderr, code = perflab(t, "--scenario", "likes", "--url", tw.app, "--vus", "5", "--duration", "2s")
	if code != 0 || !strings.Contains(stdout, "ok   status 200 (100.00%") || !strings.Contains(stderr, "scenario likes at "+tw.app+", closed, 5 VUs, think 1s, for 2s") {
		t.Fatalf("embedded likes: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// runUntil runs the binary, which records CSV into out, until done holds
// for the requests its interval rows count by series so far (or it ends),
// then interrupts it as Ctrl-C does, and returns its output and exit code.
func runUntil(t *testing.T, out string, done func(requests map[string]int) bool, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-exited:
			return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
		case <-tick.C:
		}
		if done(intervalRequests(out)) {
			cmd.Process.Signal(os.Interrupt)
			<-exited
			return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
		}
	}
}

// intervalRequests sums the requests of a CSV's interval rows by series,
// reading only the whole lines written so far.
func intervalRequests(path string) map[string]int {
	b, _ := os.ReadFile(path)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	sums := map[string]int{}
	if err != nil || len(rows) < 2 {
		return sums
	}
	col := column(rows)
	for _, r := range rows[1:] {
		if r[col["kind"]] == "interval" {
			sums[r[col["series"]]] += atoi(r[col["requests"]])
		}
	}
	return sums
}

// The dashboard's load screen drives a scenario as it drives a URL.
func TestDashboardScenarioInTerminal(t *testing.T) {
	base, _ := shop(t)
	file := writeFile(t, t.TempDir(), "shop.yaml", strings.Replace(shopFlow, "duration: 1s\n", "", 1))
	tm := startTerminal(t, 120, 40, nil, "--scenario", file, "--url", base, "--vus", "2")
	s := tm.waitFor("the charts", 15*time.Second, chartsDrawn)
	if !strings.Contains(s, "scenario shop at "+base) || !strings.Contains(s, "users    2") {
		t.Fatalf("the header or the load panel is wrong:\n%s", s)
	}
	tm.keys("v", "v")
	tm.waitText("users    4", 5*time.Second)
	tm.quit("q")
}

// likedBy lists the fixture accounts (diver01...) that like a logbook,
// as the twin's likes list says.
func likedBy(t *testing.T, app string, logbook int) []string {
	t.Helper()
	var list []struct {
		ID    int
		Likes []string
	}
	json.Unmarshal(signinAndLikes(t, app), &list)
	var divers []string
	for _, l := range list {
		for _, u := range l.Likes {
			if l.ID == logbook && strings.HasPrefix(u, "diver") {
				divers = append(divers, u)
			}
		}
	}
	return divers
}

// The file's stages and thresholds hold unless flags replace them.
func TestScenarioFileLoadSettings(t *testing.T) {
	base, _ := shop(t)
	file := writeFile(t, t.TempDir(), "staged.yaml", `stages: [1s:3]
think: 20ms
thresholds: ["rps>1000000"]
steps:
  - name: a
    url: /a
`)
	stdout, stderr, code := perflab(t, "--scenario", file, "--url", base)
	if code != exitThresholds || !strings.Contains(stdout, "rps>1000000") || !strings.Contains(stderr, "closed, 0 VUs, think 20ms, for 1s") {
		t.Fatalf("the file's plan and threshold: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	stdout, stderr, code = perflab(t, "--scenario", file, "--url", base, "--threshold", "rps>0", "--rate", "20", "--duration", "1s")
	if code != 0 || strings.Contains(stdout, "rps>1000000") || !strings.Contains(stderr, "open, 20 req/s, for 1s") {
		t.Fatalf("flags over the file: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}
