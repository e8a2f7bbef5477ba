package engine

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestPathChoice checks which path a run gets: the loop for what it can
// send, goroutines for the rest, and a clear refusal when the loop is
// asked for a scenario it cannot run.
func TestPathChoice(t *testing.T) {
	setsItsPath(t)
	if runtime.GOOS != "linux" {
		t.Skip("the event loop runs on Linux only")
	}
	url := "http://127.0.0.1:1/"
	tls := "https://127.0.0.1:1/"
	capture := Step{Name: "c", URL: url, Capture: []Capture{{Var: "v", Field: "id"}}}
	cases := []struct {
		scn   Scenario
		model Model
		opts  []Option
		want  string
		why   string // the refusal when PathLoop is asked for
	}{
		{oneStep(url), Max{Conns: 2}, []Option{Path(PathAuto)}, PathLoop, ""},
		{oneStep(url), Open{Rate: 10}, []Option{Path(PathAuto)}, PathLoop, ""},
		{oneStep(url), Closed{VUs: 2}, []Option{Path(PathAuto)}, PathLoop, ""},
		{oneStep(url), Max{Conns: 2}, []Option{Path(PathGoroutine)}, PathGoroutine, ""},
		{oneStep(url), Closed{VUs: 2, Think: time.Second}, []Option{Path(PathAuto)}, PathGoroutine, "think"},
		{oneStep(tls), Max{Conns: 2}, []Option{Path(PathAuto)}, PathGoroutine, "TLS"},
		{Scenario{Steps: []Step{capture}}, Max{Conns: 2}, []Option{Path(PathAuto)}, PathGoroutine, "captures"},
		{Scenario{Steps: []Step{{Name: "b", URL: url, Contains: "ok"}}}, Max{Conns: 2}, []Option{Path(PathAuto)}, PathGoroutine, "body"},
		{Scenario{Setup: []Step{capture}, Steps: []Step{{Name: "v", URL: url + "{{v}}"}}}, Max{Conns: 2}, []Option{Path(PathAuto)}, PathGoroutine, "variables"},
	}
	for _, c := range cases {
		g, err := New(c.scn, c.model, c.opts...)
		if err != nil {
			t.Fatalf("%v: %v", c.model, err)
		}
		if got := g.Path(); got != c.want {
			t.Errorf("%v %v: path %s, want %s", c.scn.Steps[0].URL, c.model, got, c.want)
		}
		if c.why == "" {
			continue
		}
		_, err = New(c.scn, c.model, Path(PathLoop))
		if err == nil || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%v %v with the loop asked for: error %v, want one saying %q", c.scn.Steps[0].URL, c.model, err, c.why)
		}
	}
	if _, err := New(oneStep(url), Max{Conns: 1}, Path("fast")); err == nil || !strings.Contains(err.Error(), "choose auto, loop or goroutine") {
		t.Errorf("an unknown path: error %v", err)
	}
}

// The loops hold a processor each; once they run, the runtime has one
// more for everything else, so that a loop never waits for its own
// processor to be handed back when it wakes.
func TestLoopsLeaveTheRuntimeASpareProcessor(t *testing.T) {
	setsItsPath(t)
	if runtime.GOOS != "linux" {
		t.Skip("the event loop runs on Linux only")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	url := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false)
	g, err := New(oneStep(url), Max{Conns: 2}, Duration(200*time.Millisecond), Path(PathLoop))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.loops) != 1 {
		t.Fatalf("%d loops on one processor, want 1", len(g.loops))
	}
	snap, err := g.Run(t.Context())
	if err != nil || snap.All.Run.Requests == 0 {
		t.Fatalf("run: %v, %d requests", err, snap.All.Run.Requests)
	}
	if got := runtime.GOMAXPROCS(0); got < 2 {
		t.Fatalf("GOMAXPROCS %d after a run on 1 loop, want at least 2", got)
	}
}

// A run whose every target is on the loopback leaves half the cores to
// the target; any target elsewhere, or targets kept on cores of their
// own, get every core a loop.
func TestLoopCountLeavesALoopbackTargetItsCores(t *testing.T) {
	setsItsPath(t)
	names := map[string][]netip.Addr{
		"box":                   {netip.MustParseAddr("127.0.1.1")},
		"both":                  {netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("10.1.2.3")},
		"localhost.example.com": {netip.MustParseAddr("93.184.215.14")},
	}
	defer func(f func(context.Context, string, string) ([]netip.Addr, error)) { lookupHost = f }(lookupHost)
	lookupHost = func(_ context.Context, _, host string) ([]netip.Addr, error) {
		if ips, ok := names[host]; ok {
			return ips, nil
		}
		return nil, errors.New("no such host")
	}
	for _, c := range []struct {
		urls  []string
		cores int
		want  int
	}{
		{[]string{"http://127.0.0.1:8080/"}, 2, 1},
		{[]string{"http://127.0.0.1:8080/"}, 1, 1},
		{[]string{"http://localhost:8080/a", "http://[::1]:8080/b"}, 8, 4},
		{[]string{"http://127.3.2.1/", "http://api.localhost:9/"}, 3, 1},
		{[]string{"http://10.0.0.7:8080/"}, 2, 2},
		{[]string{"http://127.0.0.1:8080/", "http://example.com/"}, 4, 4},
		{[]string{"http://localhost.example.com/"}, 4, 4},
		{[]string{"http://box:8080/", "http://127.0.0.1:9/"}, 2, 1}, // box is 127.0.1.1
		{[]string{"http://both:8080/"}, 2, 2},                       // one address of two elsewhere
		{[]string{"http://nowhere:8080/"}, 2, 2},                    // no address
	} {
		var sc Scenario
		for i, u := range c.urls {
			sc.Steps = append(sc.Steps, Step{Name: fmt.Sprint("s", i), URL: u})
		}
		g, err := New(sc, Max{Conns: 1}, Duration(time.Second), Path(PathGoroutine))
		if err != nil {
			t.Fatal(err)
		}
		if got := loopCount(c.cores, g.sharesTargetsCores()); got != c.want {
			t.Errorf("%v on %d cores: %d loops, want %d", c.urls, c.cores, got, c.want)
		}
		g, err = New(sc, Max{Conns: 1}, Duration(time.Second), Path(PathGoroutine), TargetApart())
		if err != nil {
			t.Fatal(err)
		}
		if got := loopCount(c.cores, g.sharesTargetsCores()); got != c.cores {
			t.Errorf("%v on %d cores, kept apart: %d loops, want %d", c.urls, c.cores, got, c.cores)
		}
	}
}
