package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// metric is one Server-Timing metric as the twin sends it.
type metric struct {
	dur  time.Duration
	desc string
}

// parseTiming reads the twin's Server-Timing header: "name;dur=MS" with
// an optional `;desc="..."`, comma separated.
func parseTiming(t *testing.T, h string) map[string]metric {
	t.Helper()
	out := map[string]metric{}
	for _, part := range strings.Split(h, ", ") {
		fields := strings.Split(part, ";")
		var m metric
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "dur":
				ms, err := strconv.ParseFloat(v, 64)
				if err != nil || ms < 0 {
					t.Fatalf("metric %q in %q: dur %q is not a duration", fields[0], h, v)
				}
				m.dur = time.Duration(ms * float64(time.Millisecond))
			case "desc":
				m.desc = strings.Trim(v, `"`)
			}
		}
		if _, dup := out[fields[0]]; dup {
			t.Fatalf("metric %q twice in %q", fields[0], h)
		}
		out[fields[0]] = m
	}
	return out
}

// timed sends a request and returns its status and Server-Timing metrics,
// checking that the parts fit in the time the client waited.
func (a *api) timed(method, path, body string) (int, map[string]metric) {
	a.t.Helper()
	start := time.Now()
	resp, _ := a.do(method, path, body)
	took := time.Since(start)
	h := resp.Header.Get("Server-Timing")
	if h == "" {
		a.t.Fatalf("%s %s: %d without Server-Timing", method, path, resp.StatusCode)
	}
	m := parseTiming(a.t, h)
	var sum time.Duration
	for _, v := range m {
		sum += v.dur
	}
	if sum > took {
		a.t.Errorf("%s %s: the server's parts add up to %s, more than the %s the client waited (%s)", method, path, sum, took, h)
	}
	return resp.StatusCode, m
}

// TestServerTimingOnEveryAPIAnswer checks the header on every API
// endpoint and answer, in both modes and with the cache: what each part
// counts, and that the database part counts the queries the twin ran.
func TestServerTimingOnEveryAPIAnswer(t *testing.T) {
	for _, mode := range []string{ModeSync, ModeAsync} {
		t.Run(mode, func(t *testing.T) {
			c := fastConfig()
			c.Mode = mode
			tw := startTwin(t, c)
			logbooks, liked := fixtureCounts(t, tw)
			a := newAPI(t, tw.AppURL())
			want := func(what string, status, wantStatus int, m map[string]metric, names ...string) {
				t.Helper()
				if status != wantStatus {
					t.Fatalf("%s: status %d, want %d", what, status, wantStatus)
				}
				if mode == ModeAsync && m["db"].desc != "" {
					names = append(names, "hop")
				}
				if len(m) != len(names) {
					t.Errorf("%s: metrics %v, want %v", what, m, names)
				}
				for _, n := range names {
					if _, ok := m[n]; !ok {
						t.Errorf("%s: no %s metric in %v", what, n, m)
					}
				}
			}
			status, m := a.timed("POST", "/api/auths/signin/", `{"email":"ruby@gmail.com","password":"wrong"}`)
			want("wrong password", status, 401, m, "queue", "db", "view")
			status, m = a.timed("GET", "/api/logbooks/likes/", "")
			want("likes without a token", status, 401, m, "queue", "view")
			status, m = a.timed("GET", "/api/nothing/", "")
			want("unknown route", status, 404, m, "queue", "view")
			status, m = a.timed("DELETE", "/api/logbooks/likes/", "")
			want("wrong method", status, 405, m, "queue", "view")
			a.signin()
			status, m = a.timed("POST", "/api/auths/signin/", `{"email":"ruby@gmail.com","password":"12345678"}`)
			want("sign-in", status, 200, m, "queue", "db", "view")
			if m["db"].desc != "1 query" {
				t.Errorf("sign-in: db desc %q, want 1 query", m["db"].desc)
			}
			applied := tw.Stats().Tasks.Applied
			for _, action := range []string{"like", "unlike"} {
				status, m = a.timed("POST", "/api/logbooks/1/"+action+"/", "")
				want(action, status, 202, m, "queue", "db", "broker", "view")
				if m["db"].desc != "2 queries" || m["broker"].desc != "queued" {
					t.Errorf("%s: db %q broker %q, want 2 queries (user, logbook) and queued", action, m["db"].desc, m["broker"].desc)
				}
			}
			// The likes list is as in the fixtures again once both ran.
			waitFor(t, 30*time.Second, "the like and unlike tasks", func() bool { return tw.Stats().Tasks.Applied >= applied+2 })
			checkLikesTiming(t, tw, a, logbooks, liked, mode)
		})
	}
}

// checkLikesTiming: the likes view's db part counts every query the twin
// made for it (42 on the study's N+1 view, the token's user included; 3
// with prefetch), and the cache part says miss, then hit.
func checkLikesTiming(t *testing.T, tw *Twin, a *api, logbooks, liked int, mode string) {
	t.Helper()
	hops := map[string]string{QueryNaive: "2 hand-offs", QueryPrefetch: "2 hand-offs"}
	for _, tc := range []struct {
		query string
		want  int
	}{
		{QueryNaive, 1 + 1 + logbooks + liked},
		{QueryPrefetch, 1 + 2},
	} {
		c := tw.Config()
		c.Query = tc.query
		if err := tw.Apply(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		before := tw.Stats().Total.DBQueries
		status, m := a.timed("GET", "/api/logbooks/likes/", "")
		ran := tw.Stats().Total.DBQueries - before
		if status != 200 {
			t.Fatalf("likes: %d", status)
		}
		if want := fmt.Sprintf("%d queries", tc.want); m["db"].desc != want || ran != uint64(tc.want) {
			t.Errorf("%s likes: db desc %q, the twin ran %d queries; want %s", tc.query, m["db"].desc, ran, want)
		}
		if mode == ModeAsync && m["hop"].desc != hops[tc.query] {
			t.Errorf("%s likes in async mode: hop %q, want %s (the user lookup, the whole N+1 block)", tc.query, m["hop"].desc, hops[tc.query])
		}
	}
	c := tw.Config()
	c.Cache = true
	if err := tw.Apply(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"miss", "hit"} {
		_, m := a.timed("GET", "/api/logbooks/likes/", "")
		if m["cache"].desc != want {
			t.Errorf("cached likes: cache %q, want %s (%v)", m["cache"].desc, want, m)
		}
		if want == "hit" && m["db"].desc != "1 query" {
			t.Errorf("a cache hit: db %q, want 1 query (the token's user)", m["db"].desc)
		}
	}
}

// TestServerTimingIsMeasured: the declared costs are spent for real, so
// the likes view's db part is at least its 42 queries' declared CPU, and
// the view part at least the framework's.
func TestServerTimingIsMeasured(t *testing.T) {
	tw := startTwin(t, DefaultConfig())
	a := newAPI(t, tw.AppURL())
	a.signin()
	_, m := a.timed("GET", "/api/logbooks/likes/", "")
	if floor := 42 * QueryCost; m["db"].dur < floor {
		t.Errorf("db %s for 42 queries, less than their declared %s of CPU", m["db"].dur, floor)
	}
	if m["view"].dur < RequestCost {
		t.Errorf("view %s, less than the declared %s per view", m["view"].dur, RequestCost)
	}
}

func init() {
	// A view that holds its worker until the test creates a file beside
	// the database, so another request can be seen waiting for it.
	testRoutes["/api/test/hold/"] = route{"GET", func(w *worker, _ *call, rw http.ResponseWriter, _ *http.Request, _ int64) {
		release := filepath.Join(filepath.Dir(w.spec.DB), "release")
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if _, err := os.Stat(release); err == nil {
				break
			}
		}
		writeValue(rw, http.StatusOK, map[string]string{"held": "done"})
	}}
}

// TestQueueIsTheWaitForTheWorker: on one sync worker, a request that
// arrives while another view holds the worker waits in queue at least as
// long as it was kept waiting; in async mode it is admitted at once.
func TestQueueIsTheWaitForTheWorker(t *testing.T) {
	const held = 150 * time.Millisecond
	for _, mode := range []string{ModeSync, ModeAsync} {
		t.Run(mode, func(t *testing.T) {
			c := fastConfig()
			c.Mode = mode
			tw := startTwin(t, c)
			release := filepath.Join(tw.DataDir(), "release")
			holder := make(chan map[string]metric, 1)
			go func() {
				// A client of its own: the test's goes on meanwhile.
				hc := &http.Client{Timeout: 30 * time.Second}
				resp, err := hc.Get(tw.AppURL() + "/api/test/hold/")
				if err != nil {
					t.Error(err)
					holder <- nil
					return
				}
				resp.Body.Close()
				holder <- parseTiming(t, resp.Header.Get("Server-Timing"))
			}()
			waitFor(t, 30*time.Second, "the holding view to run", func() bool { return tw.Stats().Total.Active == 1 })
			waiter := make(chan map[string]metric, 1)
			go func() {
				a := newAPI(t, tw.AppURL())
				_, m := a.timed("GET", "/api/nothing/", "")
				waiter <- m
			}()
			if mode == ModeSync {
				waitFor(t, 30*time.Second, "the second request to arrive", func() bool { return tw.Stats().Total.InFlight == 2 })
				time.Sleep(held)
			}
			m := <-waiterOrRelease(t, waiter, release, mode == ModeSync)
			if mode == ModeSync && m["queue"].dur < held {
				t.Errorf("queue %s behind a view that held the worker for over %s", m["queue"].dur, held)
			}
			if mode == ModeAsync && m["queue"].dur >= held {
				t.Errorf("queue %s in async mode, which admits at once", m["queue"].dur)
			}
			if h := <-holder; h != nil && h["queue"].dur >= held {
				t.Errorf("the first request queued %s on an idle worker", h["queue"].dur)
			}
		})
	}
}

// waiterOrRelease releases the holding view, before the waiter's answer
// when the waiter cannot be answered until then (sync mode), after it
// otherwise, and returns the waiter's answer.
func waiterOrRelease(t *testing.T, waiter chan map[string]metric, release string, first bool) chan map[string]metric {
	t.Helper()
	touch := func() {
		if err := os.WriteFile(release, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if first {
		touch()
		return waiter
	}
	m := <-waiter
	touch()
	out := make(chan map[string]metric, 1)
	out <- m
	return out
}
