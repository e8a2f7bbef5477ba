package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"perflab/engine"
)

// TestStudyK6Flows runs the study's two k6 scripts, translated step for
// step into perflab's engine, against the twin: every check must pass.
func TestStudyK6Flows(t *testing.T) {
	tw := startTwin(t, DefaultConfig())
	base := tw.AppURL()
	signin := engine.Step{
		Name: "signin", Method: "POST", URL: base + "/api/auths/signin/",
		Header: []engine.Header{{Key: "Content-Type", Value: "application/json"}},
		Body:   `{"email":"ruby@gmail.com","password":"12345678"}`,
		Expect: 200, Check: "login succeeded",
		Capture: []engine.Capture{{Var: "access", Field: "access"}},
	}
	likes := engine.Step{
		Name: "likes", URL: base + "/api/logbooks/likes/",
		Header: []engine.Header{{Key: "Authorization", Value: "Bearer {{access}}"}},
		Expect: 200, Check: "status was 200",
	}
	for _, tc := range []struct {
		name  string
		scn   engine.Scenario
		model engine.Model
		runs  uint64 // requests the twin must answer before the load stops
	}{
		{"log in every iteration", engine.Scenario{Steps: []engine.Step{signin, likes}}, engine.Closed{VUs: 2}, 8},
		{"log in once then likes", engine.Scenario{Setup: []engine.Step{signin}, Steps: []engine.Step{likes}}, engine.Closed{VUs: 10, Think: 50 * time.Millisecond}, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gen, err := engine.New(tc.scn, tc.model)
			if err != nil {
				t.Fatal(err)
			}
			stop := startLoad(t, gen)
			servedMore(t, tw, tc.runs)
			final := stop()
			if final.All.Run.Requests == 0 || final.All.Run.Errors != 0 {
				t.Fatalf("requests %d, errors %d (%+v), want some and none failed", final.All.Run.Requests, final.All.Run.Errors, final.Errors)
			}
			seen := map[string]int64{}
			for _, c := range final.Checks {
				if c.Failed != 0 {
					t.Errorf("check %q failed %d times", c.Name, c.Failed)
				}
				seen[c.Name] += c.Passed
			}
			for _, name := range []string{"login succeeded", "status was 200"} {
				if seen[name] == 0 {
					t.Errorf("check %q never passed (checks %+v)", name, final.Checks)
				}
			}
		})
	}
}

// startLoad runs gen in the background; stop ends it and returns the
// final snapshot.
func startLoad(t *testing.T, gen *engine.Generator) (stop func() *engine.Snapshot) {
	t.Helper()
	done := make(chan *engine.Snapshot, 1)
	go func() {
		final, err := gen.Run(context.Background())
		if err != nil {
			t.Error(err)
		}
		done <- final
	}()
	return func() *engine.Snapshot {
		gen.Stop()
		final := <-done
		if final == nil {
			t.Fatal("the load did not run")
		}
		return final
	}
}

// servedMore waits until the twin has answered n more requests. Sign-in
// pays PBKDF2 for real, which takes seconds under the race detector, so
// load tests wait for answers, not for wall time.
func servedMore(t *testing.T, tw *Twin, n uint64) {
	t.Helper()
	target := tw.Stats().Total.Requests + n
	waitFor(t, 60*time.Second, fmt.Sprintf("%d more requests answered", n), func() bool { return tw.Stats().Total.Requests >= target })
}

// fixtureCounts reads the fixtures in the database: logbooks, and those with likes.
func fixtureCounts(t *testing.T, tw *Twin) (logbooks, liked int) {
	t.Helper()
	st := openTwinStore(t, tw)
	defer st.close() // now: its connection would count as the twin's
	if err := st.db.QueryRow(`SELECT count(*) FROM logbooks_logbook`).Scan(&logbooks); err != nil {
		t.Fatal(err)
	}
	if err := st.db.QueryRow(`SELECT count(DISTINCT logbook_id) FROM logbooks_logbook_likes`).Scan(&liked); err != nil {
		t.Fatal(err)
	}
	return logbooks, liked
}

// openTwinStore opens the database the twin uses now, for a test to
// read; it is closed when the test ends.
func openTwinStore(t *testing.T, tw *Twin) *store {
	t.Helper()
	d := tw.currentDB()
	st, err := openStore(d.dialect, d.source)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.close() })
	return st
}

// TestLikesQueryCounts checks the N+1 pattern and its fix by the queries
// each likes request makes, the authentication query included.
func TestLikesQueryCounts(t *testing.T) {
	checkQueryCounts(t, startTwin(t, fastConfig()))
}

// checkQueryCounts checks the queries of each likes request on tw, and
// returns the likes list.
func checkQueryCounts(t *testing.T, tw *Twin) []likeEntry {
	logbooks, liked := fixtureCounts(t, tw)
	if logbooks < 10 || liked < 5 || liked >= logbooks {
		t.Fatalf("fixtures have %d logbooks, %d with likes: want tens, some liked", logbooks, liked)
	}
	a := newAPI(t, tw.AppURL())
	a.signin()
	var naiveBody []likeEntry
	for _, tc := range []struct {
		query string
		want  uint64
	}{
		{QueryNaive, uint64(1 + 1 + logbooks + liked)}, // user, logbooks, exists() each, values_list() each liked
		{QueryPrefetch, 1 + 2},                         // user, logbooks, one prefetch
	} {
		t.Run(tc.query, func(t *testing.T) {
			c := tw.Config()
			c.Query = tc.query
			if err := tw.Apply(context.Background(), c); err != nil {
				t.Fatal(err)
			}
			before := tw.Stats().Total.DBQueries
			got := a.likes()
			if n := tw.Stats().Total.DBQueries - before; n != tc.want {
				t.Errorf("one likes request made %d queries, want %d", n, tc.want)
			}
			if len(got) != liked {
				t.Errorf("likes list has %d logbooks, want %d", len(got), liked)
			}
			if naiveBody == nil {
				naiveBody = got
			} else if fmt.Sprint(got) != fmt.Sprint(naiveBody) {
				t.Errorf("prefetch answer differs from naive:\n%v\n%v", got, naiveBody)
			}
		})
	}
	return naiveBody
}

// TestCacheHitsAndInvalidation: a miss fills the cache, the next request
// hits it, and like/unlike through the task worker delete it.
func TestCacheHitsAndInvalidation(t *testing.T) {
	c := fastConfig()
	c.Cache = true
	checkCacheAndTasks(t, startTwin(t, c))
}

// checkCacheAndTasks runs the cache's misses and hits, and like and
// unlike through the task worker, on a fresh twin with the cache on.
func checkCacheAndTasks(t *testing.T, tw *Twin) {
	a := newAPI(t, tw.AppURL())
	a.signin()

	step := func(what string, want Counters) {
		t.Helper()
		s := tw.Stats().Total
		if s.CacheHits != want.CacheHits || s.CacheMisses != want.CacheMisses {
			t.Fatalf("after %s: cache hits %d misses %d, want %d and %d", what, s.CacheHits, s.CacheMisses, want.CacheHits, want.CacheMisses)
		}
	}
	first := a.likes()
	step("first request", Counters{CacheMisses: 1})
	before := tw.Stats().Total.DBQueries
	if again := a.likes(); fmt.Sprint(again) != fmt.Sprint(first) {
		t.Fatalf("cached answer differs:\n%v\n%v", again, first)
	}
	step("second request", Counters{CacheHits: 1, CacheMisses: 1})
	if n := tw.Stats().Total.DBQueries - before; n != 1 {
		t.Errorf("a cache hit made %d queries, want 1 (the token's user)", n)
	}

	// Logbook 1 is unliked in the fixtures, and ruby likes nothing there.
	for i, tc := range []struct {
		action string
		want   bool
	}{{"like", true}, {"unlike", false}} {
		applied := tw.Stats().Tasks.Applied
		resp, body := a.do("POST", "/api/logbooks/1/"+tc.action+"/", "")
		if resp.StatusCode != http.StatusAccepted || !strings.Contains(string(body), `"queued"`) {
			t.Fatalf("%s: %d %s, want 202 queued", tc.action, resp.StatusCode, body)
		}
		waitFor(t, 5*time.Second, "the task worker to apply "+tc.action, func() bool { return tw.Stats().Tasks.Applied > applied })
		got := a.likes()
		step("a "+tc.action, Counters{CacheHits: 1, CacheMisses: uint64(2 + i)})
		has := slices.ContainsFunc(got, func(e likeEntry) bool { return e.ID == 1 && slices.Contains(e.Likes, "ruby") })
		if has != tc.want {
			t.Errorf("after %s, ruby in logbook 1's likes = %v, want %v: %v", tc.action, has, tc.want, got)
		}
	}
	if s := tw.Stats().Tasks; s.QueueDepth != 0 || s.Failed != 0 || s.PID == 0 {
		t.Errorf("task stats %+v: want an empty queue, no failures, a pid", s)
	}
}

// forge signs claims with key and method.
func forge(t *testing.T, method jwt.SigningMethod, key any, claims jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBadInput sends each kind of bad request the issue lists.
func TestBadInput(t *testing.T) {
	tw := startTwin(t, fastConfig())
	a := newAPI(t, tw.AppURL())
	now := time.Now()
	claims := func(kind string, exp time.Time) jwt.Claims {
		return tokenClaims{TokenType: kind, UserID: 1, RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(exp), IssuedAt: jwt.NewNumericDate(now)}}
	}
	valid := forge(t, jwt.SigningMethodHS256, tw.secret, claims("access", now.Add(time.Hour)))
	tokens := map[string]string{
		"forged":       forge(t, jwt.SigningMethodHS256, []byte("not the twin's secret"), claims("access", now.Add(time.Hour))),
		"expired":      forge(t, jwt.SigningMethodHS256, tw.secret, claims("access", now.Add(-time.Minute))),
		"alg none":     forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims("access", now.Add(time.Hour))),
		"alg HS512":    forge(t, jwt.SigningMethodHS512, tw.secret, claims("access", now.Add(time.Hour))),
		"refresh type": forge(t, jwt.SigningMethodHS256, tw.secret, claims("refresh", now.Add(time.Hour))),
		"unknown user": forge(t, jwt.SigningMethodHS256, tw.secret, tokenClaims{TokenType: "access", UserID: 999, RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}}),
	}
	big := `{"email":"` + strings.Repeat("a", maxBody) + `","password":"x"}`
	for _, tc := range []struct {
		name, method, path, body string
		header                   []string
		want                     int
	}{
		{"signin wrong password", "POST", "/api/auths/signin/", `{"email":"ruby@gmail.com","password":"nope"}`, nil, 401},
		{"signin unknown email", "POST", "/api/auths/signin/", `{"email":"nobody@example.com","password":"12345678"}`, nil, 401},
		{"signin unusable password", "POST", "/api/auths/signin/", `{"email":"minji@example.com","password":"!"}`, nil, 401},
		{"signin missing field", "POST", "/api/auths/signin/", `{"email":"ruby@gmail.com"}`, nil, 400},
		{"malformed JSON", "POST", "/api/auths/signin/", `{"email":`, nil, 400},
		{"JSON not an object", "POST", "/api/auths/signin/", `["ruby@gmail.com"]`, nil, 400},
		{"body over 1 MiB", "POST", "/api/auths/signin/", big, nil, 413},
		{"form body", "POST", "/api/auths/signin/", `email=ruby`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415},
		{"no token", "GET", "/api/logbooks/likes/", "", nil, 401},
		{"not bearer", "GET", "/api/logbooks/likes/", "", []string{"Authorization", "Basic cnVieTox"}, 401},
		{"valid token", "GET", "/api/logbooks/likes/", "", []string{"Authorization", "Bearer " + valid}, 200},
		{"like unknown logbook", "POST", "/api/logbooks/9999/like/", "", []string{"Authorization", "Bearer " + valid}, 404},
		{"like bad id", "POST", "/api/logbooks/01/like/", "", []string{"Authorization", "Bearer " + valid}, 404},
		{"unknown API route", "GET", "/api/logbooks/", "", nil, 404},
		{"unknown page", "GET", "/admin/", "", nil, 404},
		{"GET signin", "GET", "/api/auths/signin/", "", nil, 405},
		{"DELETE likes", "DELETE", "/api/logbooks/likes/", "", nil, 405},
		{"GET like", "GET", "/api/logbooks/1/like/", "", nil, 405},
		{"POST to the SPA", "POST", "/", "", nil, 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := a.do(tc.method, tc.path, tc.body, tc.header...)
			if resp.StatusCode != tc.want {
				t.Fatalf("%s %s: status %d (%s), want %d", tc.method, tc.path, resp.StatusCode, trim(body), tc.want)
			}
			if strings.HasPrefix(tc.path, "/api/") {
				var v map[string]any
				if tc.want != 200 && json.Unmarshal(body, &v) != nil {
					t.Errorf("error answer is not a JSON object: %s", trim(body))
				}
			}
			if tc.want == 405 && resp.Header.Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
			if tc.want == 401 && tc.path != "/api/auths/signin/" && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without a WWW-Authenticate challenge")
			}
		})
	}
	for name, tok := range tokens {
		t.Run("token "+name, func(t *testing.T) {
			resp, body := a.do("GET", "/api/logbooks/likes/", "", "Authorization", "Bearer "+tok)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d (%s), want 401", resp.StatusCode, trim(body))
			}
		})
	}
	if n := tw.Stats().Total.Errors5xx; n != 0 {
		t.Errorf("bad input caused %d 5xx answers", n)
	}
}

func trim(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

// TestNoPathOutsideTheBundle sends raw request lines, so no client
// library cleans the paths first.
func TestNoPathOutsideTheBundle(t *testing.T) {
	tw := startTwin(t, fastConfig())
	for _, base := range []string{tw.AppURL(), tw.EdgeURL()} {
		for _, path := range []string{
			"/../twin.db",
			"/assets/../../../../etc/passwd",
			"/assets/..%2f..%2f..%2fetc%2fpasswd",
			"/assets/%2e%2e/%2e%2e/twin.db",
			"/static/index.html",
			"/twin.log",
			"//etc/passwd",
			"/index.html/..",
			"/assets/",
			"/.%2e/twin.db",
		} {
			status, body := rawGet(t, strings.TrimPrefix(base, "http://"), path)
			if status == 200 || strings.Contains(body, "root:") || strings.Contains(body, "SQLite") {
				t.Errorf("%s%s: status %d, body %q: something outside the bundle was served", base, path, status, trim([]byte(body)))
			}
		}
	}
}

// rawGet sends "GET path" exactly as given and returns status and body.
func rawGet(t *testing.T, hostport, path string) (int, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", hostport, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, hostport)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	bufio.NewReader(resp.Body).WriteTo(&sb)
	return resp.StatusCode, sb.String()
}

func init() {
	// A view that fails, to see a panic become a 500.
	testRoutes["/api/test/panic/"] = route{"GET", func(*worker, *call, http.ResponseWriter, *http.Request, int64) {
		panic("a view failed")
	}}
}

// TestPanicBecomes500: the worker answers 500 and lives on.
func TestPanicBecomes500(t *testing.T) {
	tw := startTwin(t, fastConfig())
	pid := tw.Stats().Workers[0].PID
	a := newAPI(t, tw.AppURL())
	for range 3 {
		if resp, body := a.do("GET", "/api/test/panic/", ""); resp.StatusCode != 500 || !json.Valid(body) {
			t.Fatalf("panicking view: %d %s, want 500 with a JSON body", resp.StatusCode, body)
		}
	}
	a.signin()
	a.likes()
	s := tw.Stats()
	if s.Workers[0].PID != pid || s.Total.Restarts != 0 {
		t.Errorf("worker pid %d -> %d, restarts %d: a panic must not kill the worker", pid, s.Workers[0].PID, s.Total.Restarts)
	}
	if s.Total.Panics != 3 || s.Total.Errors5xx != 3 {
		t.Errorf("panics %d, 5xx %d, want 3 each", s.Total.Panics, s.Total.Errors5xx)
	}
}
