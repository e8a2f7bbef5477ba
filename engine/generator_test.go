package engine

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// okServer answers "ok" to everything over fasthttp on loopback.
func okServer(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.WriteString("ok") }}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	return "http://" + ln.Addr().String() + "/"
}

func mustRun(t *testing.T, scn Scenario, m Model, opts ...Option) *Snapshot {
	t.Helper()
	g, err := New(scn, m, opts...)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := g.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Done {
		t.Fatal("final snapshot not marked Done")
	}
	return snap
}

func oneStep(url string) Scenario { return Scenario{Steps: []Step{{Name: "get", URL: url}}} }

func TestModelsDriveRealServer(t *testing.T) {
	url := okServer(t)
	cases := []struct {
		model   Model
		minReqs int64
		maxReqs int64
	}{
		// max: 4 connections flat out for a second must do far more than 100.
		{Max{Conns: 4}, 100, 1 << 40},
		// closed: 5 users, 100 ms think: about 10 iterations each per second.
		{Closed{VUs: 5, Think: 100 * time.Millisecond}, 25, 60},
		// open: 200 req/s for one second is exactly 200 scheduled
		// requests, made or, if a busy machine kept the last from
		// starting before the end, owed (the backlog).
		{Open{Rate: 200}, 200, 200},
	}
	for _, c := range cases {
		t.Run(c.model.String(), func(t *testing.T) {
			snap := mustRun(t, oneStep(url), c.model, Duration(time.Second))
			got := snap.All.Run
			if n := got.Requests + snap.Health.Backlog; n < c.minReqs || n > c.maxReqs {
				t.Fatalf("requests = %d and backlog %d, want %d..%d in all", got.Requests, snap.Health.Backlog, c.minReqs, c.maxReqs)
			}
			if got.Errors != 0 {
				t.Fatalf("errors = %d, want 0 (%+v)", got.Errors, snap.Errors)
			}
			if got.Answered != got.Requests || got.P50 <= 0 || got.P99 < got.P50 || got.Max < got.P99 || got.Min > got.P50 {
				t.Fatalf("inconsistent figures: %+v", got)
			}
			if snap.Statuses[200] != got.Requests {
				t.Fatalf("statuses = %v, want all %d as 200", snap.Statuses, got.Requests)
			}
		})
	}
}

func TestScenarioCaptureAndChecks(t *testing.T) {
	var tokens atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Email, Password string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Password != "secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		tokens.Add(1)
		json.NewEncoder(w).Encode(map[string]any{"access": "tok-" + in.Email, "nested": map[string]any{"n": 7}})
	})
	mux.HandleFunc("GET /items/{n}", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-a@b.c" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.PathValue("n") != "7" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Write([]byte(`[]`))
	})
	mux.HandleFunc("GET /created", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	scn := Scenario{
		Setup: []Step{{
			Name: "signin", Method: "POST", URL: srv.URL + "/login",
			Body:   `{"email":"a@b.c","password":"secret"}`,
			Expect: 200, Check: "login succeeded",
			Capture: []Capture{{Var: "access", Field: "access"}, {Var: "n", Field: "nested.n"}},
		}},
		Steps: []Step{
			{Name: "items", URL: srv.URL + "/items/{{n}}", Header: []Header{{"Authorization", "Bearer {{access}}"}}, Expect: 200, Check: "status was 200"},
			// Expects 201 but gets 200: every one fails its check.
			{Name: "created", URL: srv.URL + "/created", Expect: 201, Check: "status was 201"},
		},
	}
	snap := mustRun(t, scn, Closed{VUs: 3, Think: 20 * time.Millisecond}, Duration(500*time.Millisecond))

	if tokens.Load() != 1 {
		t.Fatalf("setup ran %d times, want once", tokens.Load())
	}
	byName := map[string]Check{}
	for _, c := range snap.Checks {
		byName[c.Name] = c
	}
	if c := byName["login succeeded"]; c.Passed != 1 || c.Failed != 0 {
		t.Fatalf("login check = %+v, want 1 passed", c)
	}
	items := byName["status was 200"]
	if items.Passed < 10 || items.Failed != 0 {
		t.Fatalf("items check = %+v, want >=10 passed, none failed (captured token and path)", items)
	}
	created := byName["status was 201"]
	if created.Passed != 0 || created.Failed < 10 {
		t.Fatalf("created check = %+v, want all failed", created)
	}
	if snap.Errors.Check != created.Failed || snap.Errors.Status != 0 {
		t.Fatalf("errors = %+v, want check failures only (%d)", snap.Errors, created.Failed)
	}
	if len(snap.Steps) != 3 || snap.Steps[0].Name != "signin" || snap.Steps[0].Run.Requests != 1 {
		t.Fatalf("steps = %+v, want signin (1 request), items, created", snap.Steps)
	}
}

func TestSetupFailureStopsBeforeLoad(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) }))
	defer srv.Close()
	g, err := New(Scenario{
		Setup: []Step{{Name: "signin", Method: "POST", URL: srv.URL, Expect: 200, Capture: []Capture{{Var: "access", Field: "access"}}}},
		Steps: []Step{{Name: "x", URL: srv.URL + "/{{access}}"}},
	}, Closed{VUs: 1}, Duration(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	sub := g.Subscribe()
	_, err = g.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "status 401") || !strings.Contains(err.Error(), "expected status 200") {
		t.Fatalf("err = %v, want setup failure naming status 401 and the expectation", err)
	}
	if _, open := <-sub; open {
		t.Fatal("subscription not closed after a failed start")
	}
}

func TestLiveUsersUpAndDown(t *testing.T) {
	url := okServer(t)
	g, err := New(oneStep(url), Closed{VUs: 2, Think: 50 * time.Millisecond}, Duration(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	perSecond := map[int]int64{}
	g.Observe(func(s *Snapshot) {
		if s.Second > 0 {
			mu.Lock()
			perSecond[s.Second] = s.All.Last.Requests
			mu.Unlock()
		}
	})
	go func() {
		time.Sleep(1100 * time.Millisecond)
		g.SetVUs(10)
		time.Sleep(1000 * time.Millisecond)
		g.SetVUs(1)
	}()
	if _, err := g.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	// ~20 req/s per user: 2 users ~40/s, 10 users ~200/s, 1 user ~20/s.
	if !(perSecond[2] > 2*perSecond[1] && perSecond[3] < perSecond[2]/2) {
		t.Fatalf("requests per second %v do not follow 2 -> 10 -> 1 users", perSecond)
	}
	if got := g.Load().VUs; got != 1 {
		t.Fatalf("Load().VUs = %d, want 1", got)
	}
}

func TestLiveRateChangeAndPause(t *testing.T) {
	url := okServer(t)
	g, err := New(oneStep(url), Open{Rate: 100}, Duration(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	perSecond := map[int]int64{}
	paused := false
	// The changes follow the run's own seconds, as they end, so that a
	// busy machine cannot move them into the wrong second.
	g.Observe(func(s *Snapshot) {
		mu.Lock()
		defer mu.Unlock()
		if s.Second > 0 && perSecond[s.Second] == 0 {
			switch s.Second {
			case 1:
				go g.SetRate(300)
			case 2:
				go func() {
					g.Pause()
					time.Sleep(500 * time.Millisecond)
					g.Resume()
				}()
			}
		}
		if s.Second > 0 {
			perSecond[s.Second] = s.All.Last.Requests
		}
		paused = paused || s.Paused
	})
	if _, err := g.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if perSecond[1] < 90 || perSecond[1] > 110 || perSecond[2] < 270 || perSecond[2] > 310 {
		t.Fatalf("requests per second %v, want ~100 then ~300", perSecond)
	}
	// Half of the third second was paused, and resuming must not
	// fire the skipped slots in a burst.
	if perSecond[3] > 200 || perSecond[3] < 60 || !paused {
		t.Fatalf("third second %d requests (paused seen: %v), want ~150 with no burst", perSecond[3], paused)
	}
}

func TestStopEndsTheRunEarly(t *testing.T) {
	url := okServer(t)
	g, err := New(oneStep(url), Max{Conns: 2})
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(300*time.Millisecond, g.Stop)
	snap, err := g.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Elapsed > 2*time.Second || snap.All.Run.Requests == 0 {
		t.Fatalf("stopped run: elapsed %s, %d requests", snap.Elapsed, snap.All.Run.Requests)
	}
}

func TestIntervalSnapshotsCoverEachSecond(t *testing.T) {
	url := okServer(t)
	g, err := New(oneStep(url), Open{Rate: 50}, Duration(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var seconds []int
	var sum int64
	g.Observe(func(s *Snapshot) {
		if s.Second > 0 {
			seconds = append(seconds, s.Second)
			sum += s.All.Last.Requests
		}
	})
	final, err := g.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(seconds) != 3 || seconds[0] != 1 || seconds[2] != 3 {
		t.Fatalf("seconds closed = %v, want [1 2 3]", seconds)
	}
	// Whole seconds partition the run: only requests finishing in the
	// stop grace can be missing from them.
	if d := final.All.Run.Requests - sum; d < 0 || d > 2 {
		t.Fatalf("interval requests sum %d, run total %d", sum, final.All.Run.Requests)
	}
}

func TestRefusedConnectionsAreCountedNotFatal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	snap := mustRun(t, oneStep("http://"+addr+"/"), Max{Conns: 3}, Duration(500*time.Millisecond))
	if snap.All.Run.Requests == 0 || snap.Errors.Connect != snap.All.Run.Requests || snap.All.Run.Answered != 0 {
		t.Fatalf("run = %+v errors %+v, want every request a connect error", snap.All.Run, snap.Errors)
	}
}

func TestTimeoutIsCounted(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	snap := mustRun(t, oneStep(srv.URL), Closed{VUs: 1}, Duration(time.Second), Timeout(200*time.Millisecond))
	if snap.Errors.Timeout < 2 || snap.All.Run.Answered != 0 {
		t.Fatalf("errors %+v, answered %d: want repeated timeouts", snap.Errors, snap.All.Run.Answered)
	}
}

// TestOpenModelShowsStall is the coordinated-omission check: one 500 ms
// stall of the target at 200 req/s delays ~100 scheduled requests, so more
// than 1% of a two-second run waits at least 250 ms and p99 must show it.
// A closed-loop measurement would record a single slow request.
func TestOpenModelShowsStall(t *testing.T) {
	for _, c := range []struct {
		name        string
		maxInFlight int
	}{
		// Unbounded: the generator opens more connections and keeps the
		// schedule; the stalled requests wait at the target.
		{"growing", 0},
		// Capped at 4: the generator cannot keep the schedule; requests
		// start late, count as missed, and the latency still counts from
		// when they were due.
		{"capped", 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stalled atomic.Bool
			var gate sync.RWMutex
			began := time.Now()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// Half a second in, one request takes the gate for 500 ms;
				// every response meanwhile waits for it.
				if time.Since(began) > 500*time.Millisecond && stalled.CompareAndSwap(false, true) {
					gate.Lock()
					time.Sleep(500 * time.Millisecond)
					gate.Unlock()
				}
				gate.RLock()
				gate.RUnlock()
				w.Write([]byte("ok"))
			}))
			defer srv.Close()
			snap := mustRun(t, oneStep(srv.URL), Open{Rate: 200, MaxInFlight: c.maxInFlight}, Duration(2*time.Second))
			if !stalled.Load() {
				t.Fatal("the target never stalled")
			}
			if p99 := snap.All.Run.P99; p99 < 250*time.Millisecond {
				t.Fatalf("p99 = %s with a 500 ms stall at 200 req/s; want >= 250ms", p99)
			}
			if n, owed := snap.All.Run.Requests, snap.Health.Backlog; n+owed != 400 {
				t.Fatalf("%d requests and %d owed, want the 400 scheduled", n, owed)
			}
			missed := snap.Health.Missed
			svc := snap.All.RunService
			if c.maxInFlight == 0 {
				// How many sends were late depends on how busy the machine
				// is; that the pool grew past its initial workers does not.
				if snap.Health.InFlight <= initialOpenWorkers(200, DefaultMaxInFlight) {
					t.Fatalf("in flight %d (missed %d): want the pool grown to keep the schedule", snap.Health.InFlight, missed)
				}
				return
			}
			// Service time, from the actual send, is the other view: with
			// four connections only four requests ever met the stall.
			if missed < 50 || svc.P99 >= snap.All.Run.P99/2 || snap.Health.InFlight != 4 {
				t.Fatalf("missed %d, service p99 %s vs latency p99 %s, in flight %d", missed, svc.P99, snap.All.Run.P99, snap.Health.InFlight)
			}
		})
	}
}

func TestSetStepURLMovesLoad(t *testing.T) {
	var hitsA, hitsB atomic.Int64
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hitsA.Add(1) }))
	defer a.Close()
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hitsB.Add(1) }))
	defer b.Close()
	g, err := New(oneStep(a.URL+"/"), Closed{VUs: 3, Think: 10 * time.Millisecond}, Duration(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := g.SetStepURL(ctx, "nosuch", b.URL); err == nil {
		t.Fatal("retargeting an unknown step succeeded")
	}
	if err := g.SetStepURL(ctx, "get", "ftp://x/"); err == nil {
		t.Fatal("retargeting to a bad URL succeeded")
	}
	var atSwitch atomic.Int64
	time.AfterFunc(500*time.Millisecond, func() {
		g.SetStepURL(ctx, "get", b.URL+"/")
		// Nothing reaches the old server once the call has returned.
		atSwitch.Store(hitsA.Load())
	})
	snap, err := g.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if hitsA.Load() != atSwitch.Load() {
		t.Fatalf("old server got %d requests after the switch returned", hitsA.Load()-atSwitch.Load())
	}
	if hitsA.Load() < 20 || hitsB.Load() < 20 {
		t.Fatalf("hits before/after the switch: %d / %d, want both busy", hitsA.Load(), hitsB.Load())
	}
	if snap.All.Run.Errors != 0 || len(snap.Steps) != 1 {
		t.Fatalf("switch caused errors %+v or split the series %d", snap.Errors, len(snap.Steps))
	}
	if hitsA.Load()+hitsB.Load() != snap.All.Run.Requests {
		t.Fatalf("server hits %d+%d != %d requests", hitsA.Load(), hitsB.Load(), snap.All.Run.Requests)
	}
}

func TestHTTPS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()
	t.Run("trusted", func(t *testing.T) {
		// Two seconds, as for the untrusted case below: a handshake in a
		// race-built test on a busy machine can take a good part of one.
		snap := mustRun(t, oneStep(srv.URL+"/"), Max{Conns: 2}, Duration(2*time.Second), TLSConfig(srv.Client().Transport.(*http.Transport).TLSClientConfig))
		if snap.All.Run.Answered == 0 || snap.All.Run.Errors != 0 {
			t.Fatalf("https run: %+v, errors %+v", snap.All.Run, snap.Errors)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		// Long enough for a handshake on a busy machine to fail, not be
		// cut short by the end of the run.
		snap := mustRun(t, oneStep(srv.URL+"/"), Max{Conns: 1}, Duration(2*time.Second))
		if snap.Errors.Connect == 0 || snap.All.Run.Answered != 0 {
			t.Fatalf("self-signed certificate accepted without trust: %+v", snap.Errors)
		}
	})
}

// connectedWorker is a worker of a one-step generator against url that
// has sent one request: connected, its buffers sized, its names met.
func connectedWorker(t *testing.T, url string) *worker {
	t.Helper()
	g, err := New(oneStep(url), Max{Conns: 1})
	if err != nil {
		t.Fatal(err)
	}
	r, err := newRoute(g.steps[0])
	if err != nil {
		t.Fatal(err)
	}
	g.routes[0].Store(r)
	w := g.newWorker()
	t.Cleanup(w.closeConns)
	w.do(0, time.Time{})
	return w
}

// TestRequestPathDoesNotAllocate holds the hot path to its promise: once
// a worker's connection and buffers exist, a request allocates nothing,
// whether it goes straight out or first checks that its idle connection
// is still open.
func TestRequestPathDoesNotAllocate(t *testing.T) {
	url := okServer(t)
	for _, idle := range []bool{false, true} {
		w := connectedWorker(t, url)
		c := w.stepState(0).c
		var drained int
		allocs := testing.AllocsPerRun(2000, func() {
			if idle {
				c.idleSince = time.Time{} // as if idle for long: check first
			}
			if s, _ := w.do(0, time.Time{}); s.outcome != OutcomeOK {
				t.Fatalf("request failed: %s", s.outcome)
			}
			if len(w.rec.logs[0]) >= 1024 {
				w.rec.drain(func(s []sample) { drained += len(s) })
			}
		})
		if allocs != 0 {
			t.Fatalf("idle check %v: %.2f allocations per request, want 0", idle, allocs)
		}
		if idle && c.peekErr != syscall.EAGAIN && runtime.GOOS == "linux" {
			t.Fatalf("the idle check did not run: peek error %v", c.peekErr)
		}
	}
}
