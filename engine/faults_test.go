package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"perflab/engine/hostile"
)

// Each test here runs the generator against a server that misbehaves on
// purpose and holds the generator's count against the server's: a load
// tool that reports a broken service as healthy is worse than none.

func methodStep(method, url string) Scenario {
	st := Step{Name: "x", Method: method, URL: url}
	if method == "POST" {
		st.Body = `{"like":1}`
	}
	return Scenario{Steps: []Step{st}}
}

// TestDroppedRequestsAreErrors: a server that reads every second request
// on a connection and closes it without answering loses half of them.
// Every one must show as a failure of its own kind, whatever the method;
// none may be retried into a success.
func TestDroppedRequestsAreErrors(t *testing.T) {
	for _, method := range []string{"GET", "POST"} {
		t.Run(method, func(t *testing.T) {
			srv := hostile.Must(t, hostile.DropEverySecond)
			snap := mustRun(t, methodStep(method, srv.URL), Max{Conns: 4}, Duration(time.Second))
			srv.Close() // its counts are final
			run, e := snap.All.Run, snap.Errors
			t.Logf("%s: %d requests, %d failed (%+v), %d unfinished, %d retries; server: %s", method, run.Requests, run.Errors, e, run.Unfinished, run.Retries, srv)
			if e.Dropped == 0 || e.Dropped < run.Requests/3 {
				t.Fatalf("%d of %d requests counted dropped; the server dropped %d", e.Dropped, run.Requests, srv.Dropped.Load())
			}
			if e.Total() != e.Dropped || run.Retries != 0 {
				t.Fatalf("errors %+v, retries %d: want dropped only, nothing retried", e, run.Retries)
			}
			// Nothing lost: every answer the server wrote was counted,
			// and every request it read was answered, counted dropped or
			// cut off by the end of the run.
			if run.Answered != srv.Answered.Load() {
				t.Fatalf("answered %d, the server answered %d", run.Answered, srv.Answered.Load())
			}
			if d := srv.Read.Load() - run.Requests; d < 0 || d > run.Unfinished {
				t.Fatalf("the server read %d requests; perflab counted %d and %d unfinished", srv.Read.Load(), run.Requests, run.Unfinished)
			}
		})
	}
}

// TestIdleCloseIsNotAnError: servers close kept-alive connections that
// sit idle (a keep-alive timeout), cleanly or with a reset. A user who
// thinks longer than that timeout must find a fresh connection, not a
// failure and not a retry: nothing was sent on the dead one.
func TestIdleCloseIsNotAnError(t *testing.T) {
	for _, c := range []struct {
		name  string
		reset bool
	}{{"close", false}, {"reset", true}} {
		t.Run(c.name, func(t *testing.T) {
			// The users think ten times as long as the server waits, so
			// a slow machine cannot make the server close a connection
			// while a request is already on its way.
			srv := hostile.Must(t, func() (*hostile.Server, error) { return hostile.CloseIdle(20*time.Millisecond, c.reset) })
			snap := mustRun(t, oneStep(srv.URL), Closed{VUs: 4, Think: 200 * time.Millisecond}, Duration(2*time.Second))
			srv.Close()
			run := snap.All.Run
			if run.Requests < 8 || run.Errors != 0 || run.Retries != 0 {
				t.Fatalf("%d requests, errors %+v, %d retries: want every request answered first time", run.Requests, snap.Errors, run.Retries)
			}
			// The server really did close them: nearly every request
			// came on a new connection.
			if srv.Conns.Load() < run.Requests/2 {
				t.Fatalf("%d connections for %d requests: the server kept them open, the test proves nothing", srv.Conns.Load(), run.Requests)
			}
		})
	}
}

// TestRetriesAreCountedAndOnlyForSafeMethods: a server that resets each
// connection after its first answer makes the next request's write fail.
// A GET may go again on a new connection, and is counted as a retry; a
// POST may not (the server could act on it twice) and fails as dropped.
func TestRetriesAreCountedAndOnlyForSafeMethods(t *testing.T) {
	for _, method := range []string{"GET", "POST"} {
		t.Run(method, func(t *testing.T) {
			srv := hostile.Must(t, hostile.ResetAfterAnswer)
			snap := mustRun(t, methodStep(method, srv.URL), Max{Conns: 2}, Duration(time.Second))
			srv.Close()
			run, e := snap.All.Run, snap.Errors
			t.Logf("%s: %d requests, errors %+v, %d retries; server: %s", method, run.Requests, e, run.Retries, srv)
			if e.Total() != e.Dropped || run.Answered+e.Dropped != run.Requests {
				t.Fatalf("errors %+v: want every request answered or dropped", e)
			}
			if method == "GET" && run.Retries == 0 {
				t.Fatal("no retry counted: a GET whose connection was reset before it was sent goes again, and the count shows it")
			}
			if method == "POST" && (run.Retries != 0 || e.Dropped == 0) {
				t.Fatalf("POST: %d retries, %d dropped: want none retried and the drops counted", run.Retries, e.Dropped)
			}
			// A retried request reached the server once: the server
			// answered exactly what perflab counted as answered.
			if run.Answered != srv.Answered.Load() {
				t.Fatalf("answered %d, the server answered %d", run.Answered, srv.Answered.Load())
			}
		})
	}
}

// TestUnfinishedRequestsAreCounted: against a target that accepts and
// never answers, the requests in flight at the end are neither answered
// nor failed; they must not vanish either.
func TestUnfinishedRequestsAreCounted(t *testing.T) {
	srv := hostile.Must(t, hostile.NeverAnswer)
	began := time.Now()
	snap := mustRun(t, oneStep(srv.URL), Max{Conns: 3}, Duration(500*time.Millisecond))
	if took := time.Since(began); took > 10*time.Second {
		t.Fatalf("a 500ms run took %s", took)
	}
	run := snap.All.Run
	if run.Requests != 0 || run.Errors != 0 || run.Unfinished != 3 {
		t.Fatalf("requests %d, errors %d, unfinished %d: want the 3 in flight counted unfinished", run.Requests, run.Errors, run.Unfinished)
	}
	if snap.Steps[0].Run.Unfinished != 3 {
		t.Fatalf("step series unfinished %d, want 3", snap.Steps[0].Run.Unfinished)
	}
}

// TestFailureDuringTheGraceCounts: a request the server drops after the
// run's end, while the generator still waits for answers in flight, is
// the server's failure and counts as one; only what the generator cuts
// off itself is unfinished.
func TestFailureDuringTheGraceCounts(t *testing.T) {
	srv := hostile.Must(t, hostile.DropAfter(300*time.Millisecond))
	snap := mustRun(t, oneStep(srv.URL), Max{Conns: 2}, Duration(500*time.Millisecond))
	srv.Close()
	run := snap.All.Run
	if run.Unfinished != 0 || snap.Errors.Dropped != run.Requests || run.Requests != srv.Dropped.Load() {
		t.Fatalf("%d requests, %d dropped, %d unfinished; the server dropped %d", run.Requests, snap.Errors.Dropped, run.Unfinished, srv.Dropped.Load())
	}
}

// TestBodyIsBounded: an answer whose body never ends (or is larger than
// the run keeps) fails as too large, its memory bounded by MaxBody, and
// the run still ends on time.
func TestBodyIsBounded(t *testing.T) {
	for _, c := range []struct {
		name     string
		start    func() (*hostile.Server, error)
		opts     []Option
		tooLarge bool
	}{
		// A small limit, so that even a slow, busy machine reaches it well
		// within the run.
		{"endless chunked body", hostile.EndlessBody, []Option{MaxBody(64 << 10)}, true},
		{"8 MiB body, default limit", func() (*hostile.Server, error) { return hostile.Body(8 << 20) }, nil, true},
		{"1 MiB body, 512 KiB limit", func() (*hostile.Server, error) { return hostile.Body(1 << 20) }, []Option{MaxBody(512 << 10)}, true},
		{"1 MiB body, 2 MiB limit", func() (*hostile.Server, error) { return hostile.Body(1 << 20) }, []Option{MaxBody(2 << 20)}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := hostile.Must(t, c.start)
			began := time.Now()
			snap := mustRun(t, oneStep(srv.URL), Max{Conns: 4}, append(c.opts, Duration(2*time.Second))...)
			// A hang check, not a speed test: the old behaviour took
			// tens of seconds and gigabytes here.
			if took := time.Since(began); took > 30*time.Second {
				t.Fatalf("a 2s run took %s", took)
			}
			run, e := snap.All.Run, snap.Errors
			if c.tooLarge && (e.TooLarge == 0 || e.Total() != e.TooLarge || run.Answered != 0) {
				t.Fatalf("errors %+v, answered %d: want every request failed as too large", e, run.Answered)
			}
			if !c.tooLarge && (run.Errors != 0 || run.Answered == 0) {
				t.Fatalf("errors %+v, answered %d: want a body within the limit read", e, run.Answered)
			}
		})
	}
}

// TestStopCutsConnectsShort: at the end of a run, connections still
// connecting (a listener that never accepts) or still in their TLS
// handshake (a server that never answers one) are cut off, not waited on
// until their timeout, and counted unfinished.
func TestStopCutsConnectsShort(t *testing.T) {
	url, stop, err := hostile.NoAccept()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	tlsSrv := hostile.Must(t, hostile.NeverAnswer)
	for _, c := range []struct {
		name string
		url  string
	}{
		{"connect", url},
		{"TLS handshake", strings.Replace(tlsSrv.URL, "http:", "https:", 1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			began := time.Now()
			snap := mustRun(t, oneStep(c.url), Max{Conns: 16}, Duration(500*time.Millisecond), Timeout(time.Minute), TLSConfig(&tls.Config{InsecureSkipVerify: true}))
			if took := time.Since(began); took > 10*time.Second {
				t.Fatalf("a 500ms run took %s: the end waited for connection timeouts", took)
			}
			if run := snap.All.Run; run.Unfinished != 16 || run.Requests != 0 {
				t.Fatalf("%d unfinished, %d requests: want all 16 cut off", run.Unfinished, run.Requests)
			}
		})
	}
}

// TestCancelStopsAManyWorkerStart: cancelling while thousands of workers
// are being started and connecting to a target that never accepts ends
// the run promptly.
func TestCancelStopsAManyWorkerStart(t *testing.T) {
	url, stop, err := hostile.NoAccept()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	n := min(5000, MaxConns())
	g, err := New(oneStep(url), Max{Conns: n}, Timeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	began := time.Now()
	snap, err := g.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Fatalf("cancelled after 300ms, the run took %s", took)
	}
	if run := snap.All.Run; run.Unfinished == 0 || run.Unfinished+run.Requests > int64(n) {
		t.Fatalf("%d unfinished, %d requests of %d connections", run.Unfinished, run.Requests, n)
	}
}

// TestLoadAboveTheFileLimit: a load needing more connections than the
// open-file limit leaves room for is refused before anything starts, and
// a live change above it is clamped and says so.
func TestLoadAboveTheFileLimit(t *testing.T) {
	old := openFileLimit
	openFileLimit = func() int { return 1024 }
	defer func() { openFileLimit = old }()
	url := okServer(t)
	limit := MaxConns()
	if limit != 1024-128 {
		t.Fatalf("MaxConns() = %d with 1024 open files, want 896", limit)
	}
	for _, m := range []Model{Max{Conns: limit + 1}, Closed{VUs: 5000}, Open{Rate: 10, MaxInFlight: 2000}} {
		_, err := New(oneStep(url), m)
		var le *LimitError
		if !errors.As(err, &le) || le.Max != limit || !strings.Contains(err.Error(), "ulimit -n") {
			t.Fatalf("%s: err %v, want a LimitError naming ulimit -n", m, err)
		}
	}
	// Two endpoints per user: half as many users fit.
	two := Scenario{Steps: []Step{{Name: "a", URL: url}, {Name: "b", URL: strings.Replace(url, "127.0.0.1", "localhost", 1)}}}
	if _, err := New(two, Closed{VUs: limit/2 + 1}); err == nil {
		t.Fatal("two endpoints per user: the limit did not halve")
	}
	// The open model's default cap gives way instead.
	g, err := New(oneStep(url), Open{Rate: 10})
	if err != nil || g.maxOpen != limit {
		t.Fatalf("open model default cap: err %v, cap %d, want %d", err, g.maxOpen, limit)
	}

	g, err = New(oneStep(url), Max{Conns: 1}, Duration(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	time.AfterFunc(200*time.Millisecond, func() { errc <- g.SetVUs(1 << 20) })
	if _, err := g.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	err = <-errc
	var le *LimitError
	if !errors.As(err, &le) || le.Asked != 1<<20 || g.Load().Conns != limit {
		t.Fatalf("SetVUs above the limit: err %v, conns %d, want clamped to %d and said so", err, g.Load().Conns, limit)
	}
}

// TestURLPortRange: a port outside 1..65535 is refused up front.
func TestURLPortRange(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:99999/", "http://127.0.0.1:0/", "http://127.0.0.1:65536/"} {
		if err := oneStep(u).Validate(); err == nil || !strings.Contains(err.Error(), "1..65535") {
			t.Errorf("%s: err %v, want the port refused", u, err)
		}
	}
	if err := oneStep("http://127.0.0.1:65535/").Validate(); err != nil {
		t.Errorf("port 65535 refused: %v", err)
	}
}
