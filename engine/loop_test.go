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

// TestBacklogEndsWithTheRun checks the health's backlog, the starts due
// and not yet made: during a run it counts every one, and once the run's
// time is up it counts none due at or after its end, so the final
// snapshot of a run that kept its schedule does not say the generator
// fell behind, while one that did not make a start it had claimed does.
func TestBacklogEndsWithTheRun(t *testing.T) {
	g, err := New(oneStep("http://127.0.0.1:9/"), Open{Rate: 5000}, Duration(1500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	g.start = time.Now().Add(-2 * time.Second) // the run's time was up 0.5 s ago
	s := &schedule{at: g.start, interval: rateInterval(5000)}
	g.sched.Store(s)
	a := newAggregator(g)
	a.start(g.start)
	backlog := func(at time.Duration, made int64) int64 {
		g.slot.Store(made)
		snap := &Snapshot{Load: Load{Rate: 5000}}
		return a.health(g.start.Add(at), snap, 0, 0).Backlog
	}
	// 1 s in, 5,001 starts are due (one at 0 and one every 200 us).
	if got := backlog(time.Second, 4990); got != 11 {
		t.Errorf("1 s in with 4,990 starts made: backlog %d, want 11", got)
	}
	// The run's 1.5 s hold 7,500 starts; the 7,501st falls on its end.
	for _, after := range []time.Duration{0, time.Millisecond, 500 * time.Millisecond} {
		if got := backlog(1500*time.Millisecond+after, 7500); got != 0 {
			t.Errorf("%v after the end with every start made: backlog %d, want 0", after, got)
		}
		if got := backlog(1500*time.Millisecond+after, 7497); got != 3 {
			t.Errorf("%v after the end with 3 starts not made: backlog %d, want 3", after, got)
		}
	}
	// A start claimed ahead that the stop kept from being made is owed
	// when it was due by the stop, and not when it was due after it.
	g.forgo(time.Now())
	g.Stop()
	g.forgo(g.stopAt)
	g.forgo(g.stopAt.Add(-time.Millisecond))
	g.forgo(g.stopAt.Add(time.Millisecond))
	if got := backlog(2*time.Second, 7500); got != 2 {
		t.Errorf("every start counted as made, two of them forgone by the stop: backlog %d, want 2", got)
	}
}
