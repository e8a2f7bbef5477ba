package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestFlowCycleDealsInProportion(t *testing.T) {
	cases := []struct {
		weights []int
		want    []int // entries per flow in one cycle
		longest int   // the longest run of one flow in the cycle
	}{
		{[]int{3, 1}, []int{3, 1}, 3},
		{[]int{75, 25}, []int{3, 1}, 3},
		{[]int{1, 1, 2}, []int{1, 1, 2}, 1},
		{[]int{5}, []int{1}, 1},
		{[]int{999, 1}, []int{999, 1}, 999},
	}
	for _, c := range cases {
		var flows []Flow
		for _, w := range c.weights {
			flows = append(flows, Flow{Weight: w, Steps: []Step{{}}})
		}
		cycle, err := flowCycle(flows)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]int, len(flows))
		run, longest := 0, 0
		for i, f := range cycle {
			got[f]++
			if i > 0 && cycle[i-1] == f {
				run++
			} else {
				run = 1
			}
			longest = max(longest, run)
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) || longest > c.longest {
			t.Errorf("weights %v: cycle %v deals %v (longest run %d), want %v (at most %d)", c.weights, cycle, got, longest, c.want, c.longest)
		}
	}
	if _, err := flowCycle([]Flow{{Weight: 6000}, {Weight: 5003}}); err == nil || !strings.Contains(err.Error(), "add up to 11003") {
		t.Errorf("an oversized cycle was accepted: %v", err)
	}
}

// pathCounter counts requests by path; any path answers 200 with body.
func pathCounter(t *testing.T, body string) (*httptest.Server, func(path string) int64) {
	var mu sync.Mutex
	counts := map[string]int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		counts[r.URL.Path]++
		mu.Unlock()
		w.Header().Set("X-Token", "tok-"+r.URL.Path)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, func(path string) int64 {
		mu.Lock()
		defer mu.Unlock()
		return counts[path]
	}
}

func TestFlowsShareUsersAndSlotsByWeight(t *testing.T) {
	srv, _ := pathCounter(t, "ok")
	scn := Scenario{Flows: []Flow{
		{Name: "browse", Weight: 3, Steps: []Step{{Name: "browse", URL: srv.URL + "/browse"}}},
		{Name: "buy", Weight: 1, Steps: []Step{{Name: "buy", URL: srv.URL + "/buy"}}},
	}}
	// The open model deals its slots in an exact cycle; the closed one
	// deals its users (6 browse, 2 buy), whose pace a busy machine can
	// make uneven, so its share is looser, but still far from an even
	// split (0.5) or a reversed one (0.25).
	for _, c := range []struct {
		m   Model
		tol float64
	}{{Closed{VUs: 8, Think: 20 * time.Millisecond}, 0.05}, {Open{Rate: 200}, 0.02}} {
		t.Run(c.m.String(), func(t *testing.T) {
			snap := mustRun(t, scn, c.m, Duration(time.Second))
			browse, buy := snap.Steps[0].Run.Requests, snap.Steps[1].Run.Requests
			share := float64(browse) / float64(browse+buy)
			if browse+buy < 50 || math.Abs(share-0.75) > c.tol {
				t.Fatalf("browse %d, buy %d: share %.3f, want 0.75 within %.2f", browse, buy, share, c.tol)
			}
		})
	}
}

func TestUserSetupAndRows(t *testing.T) {
	var mu sync.Mutex
	signins := map[string]int{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Email, Password string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Password != "pw-"+in.Email {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		signins[in.Email]++
		mu.Unlock()
		fmt.Fprintf(w, `{"access":"tok-%s"}`, in.Email)
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"me":"%s"}`, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer tok-"))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	rows := &Rows{Name: "users.csv", Columns: []string{"email", "password"}}
	for i := range 4 {
		u := fmt.Sprintf("u%d", i)
		rows.Rows = append(rows.Rows, []string{u, "pw-" + u})
	}
	scn := func(unique bool) Scenario {
		r := *rows
		r.Unique = unique
		return Scenario{
			UserSetup: []Step{{
				Name: "signin", Method: "POST", URL: srv.URL + "/login", BodyJSON: true,
				Body:     `{"email":"{{row.email}}","password":"{{row.password}}"}`,
				Statuses: []int{200}, Capture: []Capture{{Var: "access", Field: "access"}},
			}},
			Steps: []Step{{
				Name: "me", URL: srv.URL + "/me", Header: []Header{{"Authorization", "Bearer {{access}}"}},
				Contains: `"me":"{{row.email}}"`, Check: "it is me",
			}},
			Data: &r,
		}
	}
	t.Run("each user its own row, once", func(t *testing.T) {
		clear(signins)
		snap := mustRun(t, scn(true), Closed{VUs: 4, Think: 20 * time.Millisecond}, Duration(500*time.Millisecond))
		if len(signins) != 4 {
			t.Fatalf("signed in as %v, want each of the 4 rows", signins)
		}
		for u, n := range signins {
			if n != 1 {
				t.Errorf("%s signed in %d times, want once (per user, not per iteration)", u, n)
			}
		}
		for _, c := range snap.Checks {
			if c.Failed != 0 || c.Passed == 0 {
				t.Errorf("check %s: %+v, want all passed", c.Name, c)
			}
		}
		if snap.Health.Warning != "" {
			t.Errorf("warning %q with a row for every user", snap.Health.Warning)
		}
	})
	t.Run("unique rows run out", func(t *testing.T) {
		clear(signins)
		snap := mustRun(t, scn(true), Closed{VUs: 6, Think: 20 * time.Millisecond}, Duration(500*time.Millisecond))
		if len(signins) != 4 || !strings.Contains(snap.Health.Warning, "data users.csv ran out") || !strings.Contains(snap.Health.Warning, "2 users found none") {
			t.Fatalf("signed in as %v, warning %q: want the 4 rows used and 2 users idle, said", signins, snap.Health.Warning)
		}
	})
	t.Run("rows wrap", func(t *testing.T) {
		clear(signins)
		mustRun(t, scn(false), Closed{VUs: 6, Think: 20 * time.Millisecond}, Duration(500*time.Millisecond))
		if signins["u0"] != 2 || signins["u1"] != 2 || signins["u2"] != 1 || signins["u3"] != 1 {
			t.Fatalf("signed in as %v, want u0 and u1 twice (users 5 and 6 wrap), u2 and u3 once", signins)
		}
	})
}

// A capture missing at run time fails the step's check and sends the
// user to its next iteration: the steps after it are not sent.
func TestFailedCaptureStartsNextIteration(t *testing.T) {
	var n atomic.Int64
	var used atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /item", func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			w.Write([]byte(`{"items":[]}`))
			return
		}
		w.Write([]byte(`{"items":[{"id":42}]}`))
	})
	mux.HandleFunc("GET /use/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "42" {
			used.Add(1)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	scn := Scenario{Steps: []Step{
		{Name: "item", URL: srv.URL + "/item", Capture: []Capture{{Var: "id", Field: "items[0].id"}}},
		{Name: "use", URL: srv.URL + "/use/{{id}}"},
	}}
	snap := mustRun(t, scn, Closed{VUs: 2, Think: 10 * time.Millisecond}, Duration(500*time.Millisecond))
	item, use := snap.Steps[0].Run, snap.Steps[1].Run
	c := snap.Checks[0]
	if c.Name != "captured id" || c.Failed == 0 || c.Passed == 0 || c.Failed != item.Errors || snap.Errors.Check != item.Errors {
		t.Fatalf("check %+v, item %+v, errors %+v: want the missing captures counted as failed checks", c, item, snap.Errors)
	}
	// Each use follows a passed capture (one may be cut off at the end).
	if use.Requests > c.Passed || use.Requests < c.Passed-2 || used.Load() != use.Requests || use.Errors != 0 {
		t.Fatalf("use sent %d (server saw %d with the id), captures passed %d: want one use per capture, none without", use.Requests, used.Load(), c.Passed)
	}
}

func TestAnswerChecks(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "rid-7")
		if r.URL.Path == "/missing" {
			w.WriteHeader(http.StatusNotFound)
		}
		w.Write([]byte(`{"user":{"id":7,"name":"ruby","tags":["a"]},"ok":true}`))
	}))
	defer srv.Close()
	step := func(name string, edit func(*Step)) Step {
		st := Step{Name: name, URL: srv.URL + "/", Check: name}
		edit(&st)
		return st
	}
	steps := []Step{
		step("contains", func(s *Step) { s.Contains = `"name":"ruby"` }),
		step("not contains", func(s *Step) { s.Contains = `"name":"emerald"` }),
		step("fields", func(s *Step) {
			s.Fields = []FieldCheck{{Path: "user.id", Kind: "number"}, {Path: "user.tags[0]"}, {Path: "ok", Kind: "boolean"}}
		}),
		step("wrong kind", func(s *Step) { s.Fields = []FieldCheck{{Path: "user.id", Kind: "string"}} }),
		step("absent field", func(s *Step) { s.Fields = []FieldCheck{{Path: "user.email"}} }),
		step("404 listed", func(s *Step) { s.URL += "missing"; s.Statuses = []int{200, 404} }),
		step("404 not listed", func(s *Step) { s.URL += "missing"; s.Statuses = []int{200, 201} }),
		step("header", func(s *Step) { s.Capture = []Capture{{Var: "rid", Header: "x-request-id"}} }),
		step("header used", func(s *Step) { s.Contains = "{{rid}}"; s.URL += "{{rid}}" }),
	}
	snap := mustRun(t, Scenario{Steps: steps}, Closed{VUs: 1, Think: 10 * time.Millisecond}, Duration(300*time.Millisecond))
	pass := map[string]bool{"contains": true, "fields": true, "404 listed": true, "header": true}
	for _, c := range snap.Checks {
		if c.Passed+c.Failed == 0 {
			t.Fatalf("check %s never ran", c.Name)
		}
		if pass[c.Name] != (c.Failed == 0) || pass[c.Name] != (c.Passed > 0) {
			t.Errorf("check %s: %d passed, %d failed; want it to %s", c.Name, c.Passed, c.Failed, map[bool]string{true: "pass", false: "fail"}[pass[c.Name]])
		}
	}
	if snap.Errors.Status == 0 {
		t.Error("a 404 outside the listed statuses is not counted as a status error")
	}
}

func TestThinkRangeDraws(t *testing.T) {
	w := &worker{}
	w.rng.Seed(1, 2)
	th := Think{Min: 500 * time.Millisecond, Max: 1500 * time.Millisecond}
	var sum time.Duration
	const n = 10000
	for range n {
		d := w.draw(th)
		if d < th.Min || d > th.Max {
			t.Fatalf("drew %s outside %s..%s", d, th.Min, th.Max)
		}
		sum += d
	}
	if mean := sum / n; mean < 980*time.Millisecond || mean > 1020*time.Millisecond {
		t.Fatalf("mean draw %s, want about 1s", mean)
	}
	if d := w.draw(Think{Min: time.Second, Max: time.Second}); d != time.Second {
		t.Fatalf("a fixed think drew %s", d)
	}
}

func TestDryRunShowsEachExchange(t *testing.T) {
	srv, count := pathCounter(t, `{"access":"t"}`)
	g, err := New(Scenario{
		Setup:     []Step{{Name: "config", URL: srv.URL + "/config"}},
		UserSetup: []Step{{Name: "signin", URL: srv.URL + "/signin", Capture: []Capture{{Var: "access", Field: "access"}}}},
		Flows: []Flow{
			{Name: "a", Weight: 1, Steps: []Step{{Name: "a1", URL: srv.URL + "/a1?t={{access}}", Think: Think{Min: time.Hour, Max: time.Hour}}, {Name: "a2", URL: srv.URL + "/a2"}}},
			{Name: "b", Weight: 9, Steps: []Step{{Name: "b1", URL: srv.URL + "/b1", Fields: []FieldCheck{{Path: "nope"}}}}},
		},
	}, Closed{VUs: 1})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = g.DryRun(context.Background(), func(x Exchange) {
		got = append(got, fmt.Sprintf("%s/%s/%d/%s", x.Phase, x.Step, x.Status, x.Failure))
		if x.Step == "signin" && (len(x.Captured) != 1 || x.Captured[0].Value != "t") {
			t.Errorf("signin captured %v", x.Captured)
		}
		if x.Step == "a1" && !strings.Contains(string(x.Request), "GET /a1?t=t HTTP/1.1") {
			t.Errorf("a1 sent %q", x.Request)
		}
	})
	want := []string{"setup/config/200/", "user setup/signin/200/", "a/a1/200/", "a/a2/200/", "b/b1/200/the body has no JSON field nope"}
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("dry run: %v\n%q\nwant\n%q", err, got, want)
	}
	if count("/a1") != 1 || count("/signin") != 1 {
		t.Fatalf("sent a1 %d and signin %d times, want once each", count("/a1"), count("/signin"))
	}
}

// TestIterationDoesNotAllocate extends the request path's promise to
// what scenario files add: a user with a data row, dealt one of two
// flows, thinking a drawn time after a step that checks its answer.
func TestIterationDoesNotAllocate(t *testing.T) {
	url := okServer(t)
	scn := Scenario{
		Flows: []Flow{
			{Name: "a", Weight: 2, Steps: []Step{{Name: "a", URL: url + "a", Think: Think{Min: time.Microsecond, Max: 2 * time.Microsecond}, Statuses: []int{200}, Contains: "ok"}}},
			{Name: "b", Weight: 1, Steps: []Step{{Name: "b", URL: url + "b?u={{row.user}}"}}},
		},
		Data: &Rows{Name: "rows", Columns: []string{"user"}, Rows: [][]string{{"u1"}, {"u2"}}},
	}
	g, err := New(scn, Closed{VUs: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, pos := range []int{0, 1} { // flow a, then flow b
		w := g.newUser(pos)
		defer w.closeConns()
		w.iterate(w.flow, time.Time{}) // connect and size the buffers
		allocs := testing.AllocsPerRun(500, func() {
			if !w.iterate(w.flow, time.Time{}) {
				t.Fatal("the iteration stopped")
			}
			if len(w.rec.logs[0]) >= 256 {
				w.rec.drain(func([]sample) {})
			}
		})
		if allocs != 0 {
			t.Fatalf("flow %d: %.2f allocations per iteration, want 0", w.flow, allocs)
		}
	}
}
