package engine

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// rawServer answers every request on a connection with answer, read and
// written by hand so that it allocates nothing per request itself. early
// sends the answer before reading the request (a server refusing an
// upload), then reads and drops whatever comes.
func rawServer(t testing.TB, answer string, early bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	reply := []byte(answer)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if early {
					c.Write(reply)
					io.Copy(io.Discard, c)
					return
				}
				br := bufio.NewReader(c)
				for {
					// Each request here is a GET: its header ends with a blank line.
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
					}
					if _, err := c.Write(reply); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/"
}

// TestLoopAllocatesNothingPerRequest runs a second flat out and counts
// the process's allocations: the aggregator's few per snapshot, none per
// request, on either path (on the event loop under the race detector
// too).
func TestLoopAllocatesNothingPerRequest(t *testing.T) {
	url := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false)
	g, err := New(oneStep(url), Max{Conns: 4}, Duration(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if raceEnabled && g.Path() == PathGoroutine {
		// Every goroutine park and wake allocates under the race
		// detector; TestRequestPathDoesNotAllocate checks this path's
		// requests themselves, with or without it.
		t.Skip("the race detector allocates on the goroutine path's every park and wake")
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	snap, err := g.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	n := snap.All.Run.Requests
	if n < 1000 || snap.All.Run.Errors != 0 {
		t.Fatalf("%d requests, %d errors: the run did not work", n, snap.All.Run.Errors)
	}
	per := float64(after.Mallocs-before.Mallocs) / float64(n)
	t.Logf("path %s: %d requests, %.4f allocations each", g.Path(), n, per)
	// The snapshots cost a few hundred allocations a second whatever
	// the rate; one allocation per request would show as 1 or more.
	if per > 0.25 {
		t.Errorf("path %s: %.3f allocations per request, want none beyond the snapshots' own", g.Path(), per)
	}
}

// TestEarlyAnswerDuringUpload sends a 4 MiB body to a server that answers
// at once and never reads it first: the answer arrives while the request
// is still going out, and must be taken as the request's answer, not
// waited for until the timeout.
func TestEarlyAnswerDuringUpload(t *testing.T) {
	url := rawServer(t, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", true)
	st := Step{Name: "up", Method: "POST", URL: url, Body: strings.Repeat("x", 4<<20)}
	g, err := New(Scenario{Steps: []Step{st}}, Max{Conns: 1}, Duration(time.Second), Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	snap, err := g.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 4*time.Second {
		t.Fatalf("path %s: the run took %s: a request waited for its timeout", g.Path(), time.Since(start))
	}
	// A request whose answer was missed would still be waiting at the
	// end, cut off by the stop.
	if snap.Errors.Timeout > 0 || snap.All.Run.Unfinished > 0 || snap.All.Run.Requests == 0 {
		t.Fatalf("path %s: %d requests, %d unfinished, errors %+v", g.Path(), snap.All.Run.Requests, snap.All.Run.Unfinished, snap.Errors)
	}
	if snap.Statuses[413] == 0 && snap.Errors.Dropped == 0 {
		t.Fatalf("path %s: no 413 and nothing dropped: statuses %v, errors %+v", g.Path(), snap.Statuses, snap.Errors)
	}
}

// TestLoopFramesEveryBodyKind runs the loop against answers framed each
// way HTTP/1.1 allows, on kept-alive and closing connections alike.
func TestLoopFramesEveryBodyKind(t *testing.T) {
	answers := map[string]string{
		"length":      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"chunked":     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n",
		"interim":     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
		"http10":      "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"close":       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
		"big":         "HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n" + strings.Repeat("b", 200000),
		"many-header": "HTTP/1.1 200 OK\r\nX-Pad: " + strings.Repeat("p", 40000) + "\r\nContent-Length: 0\r\n\r\n",
	}
	for name, a := range answers {
		url := rawServer(t, a, false)
		snap := mustRun(t, oneStep(url), Max{Conns: 2}, Duration(500*time.Millisecond))
		all := snap.All.Run
		if all.Requests < 20 || all.Errors != 0 || all.Answered != all.Requests {
			t.Errorf("%s: %d requests, %d answered, errors %+v", name, all.Requests, all.Answered, snap.Errors)
		}
		if !bytes.HasPrefix([]byte(a), []byte("HTTP/1.1 100")) && snap.Statuses[200] == 0 {
			t.Errorf("%s: statuses %v", name, snap.Statuses)
		}
	}
}

// TestOpenRunEndsWithoutBacklog checks the final snapshot of an open
// model that kept its schedule: starts due after the run's end are not a
// backlog, so nothing says the generator fell behind.
func TestOpenRunEndsWithoutBacklog(t *testing.T) {
	url := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false)
	snap := mustRun(t, oneStep(url), Open{Rate: 5000}, Duration(1500*time.Millisecond))
	if n := snap.All.Run.Requests; n < 6000 || n > 8000 {
		t.Fatalf("%d requests at 5000/s for 1.5 s, want about 7500", n)
	}
	if h := snap.Health; h.Backlog != 0 || strings.Contains(h.Warning, "behind schedule") {
		t.Fatalf("final snapshot: backlog %d, warning %q", h.Backlog, h.Warning)
	}
}
