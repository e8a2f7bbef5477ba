package agents

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"perflab/engine"
	"perflab/engine/report"
	"perflab/server/redisconn"
)

func TestSharesFollowCores(t *testing.T) {
	cases := []struct {
		level float64
		cores []int
		whole bool
		want  []float64
	}{
		{7, []int{1, 2, 4}, true, []float64{1, 2, 4}},
		{5, []int{1, 1, 1}, true, []float64{2, 2, 1}},
		{10, []int{2, 2, 2}, true, []float64{4, 3, 3}},
		{100, []int{1, 3}, false, []float64{25, 75}},
	}
	for _, c := range cases {
		got := shares(c.level, c.cores, c.whole)
		sum := 0.0
		for i := range got {
			sum += got[i]
			if got[i] != c.want[i] {
				t.Errorf("shares(%g, %v) = %v, want %v", c.level, c.cores, got, c.want)
				break
			}
		}
		if sum != c.level {
			t.Errorf("shares(%g, %v) add up to %g", c.level, c.cores, sum)
		}
	}
}

func TestAllowed(t *testing.T) {
	cases := []struct {
		target   string
		patterns []string
		ok       bool
	}{
		{"http://127.0.0.1:8080/x", DefaultAllow, true},
		{"http://localhost/", DefaultAllow, true},
		{"http://[::1]:9/", DefaultAllow, true},
		{"http://10.1.2.3/", DefaultAllow, false},
		{"http://example.com/", DefaultAllow, false},
		{"https://api.staging.example.com/", []string{"*.staging.example.com"}, true},
		{"https://staging.example.com.evil.net/", []string{"*.staging.example.com"}, false},
		{"http://10.1.2.3/", []string{"10.0.0.0/8"}, true},
	}
	for _, c := range cases {
		err := Allowed(c.target, c.patterns)
		if (err == nil) != c.ok {
			t.Errorf("Allowed(%s, %v) = %v, want ok=%v", c.target, c.patterns, err, c.ok)
		}
	}
}

// TestVersionsRefuseEachOther: a controller will not run with an agent of
// another build, and says what to do.
func TestVersionsRefuseEachOther(t *testing.T) {
	r, err := redisconn.StartEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	rdb, _ := redisconn.NewClient(r.URL(), redisconn.Options{})
	defer rdb.Close()
	old := Info{ID: "old1", Name: "old", Cores: 1, Version: "agents/0+abc"}
	rdb.Set(ctx, keyInfo(old.ID), marshal(old), time.Minute)
	rdb.ZAdd(ctx, keyRegistry(), redis.Z{Score: float64(time.Now().UnixMilli()), Member: old.ID})
	_, err = Start(ctx, ControllerOptions{Redis: r.URL(), Min: 1, Plan: Plan{Model: "max", Level: 1, URL: "http://127.0.0.1:1/"}})
	if err == nil || !strings.Contains(err.Error(), "run the same perflab build on both") {
		t.Fatalf("Start with an agent of another build: %v", err)
	}
}

// TestPlanCarriesTheEngineChoice: an agent drives its share by the
// engine path the run asked for, and asks for the real-time pacer when
// the run did; a plan that names no path leaves the agent its own choice.
func TestPlanCarriesTheEngineChoice(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	a := &agent{info: Info{Allow: DefaultAllow}, log: io.Discard}
	plan := func(engine string, realtime bool) *Plan {
		return &Plan{Version: Version, Method: http.MethodGet, URL: srv.URL + "/", Model: "open", Level: 200,
			Seconds: 0.3, Engine: engine, Realtime: realtime}
	}
	g, err := a.generator(plan(engine.PathGoroutine, false))
	if err != nil {
		t.Fatal(err)
	}
	if g.Path() != engine.PathGoroutine {
		t.Fatalf("a plan asking for goroutines got the %s path", g.Path())
	}
	if runtime.GOOS != "linux" {
		return
	}
	if g, err = a.generator(plan("", false)); err != nil || g.Path() != engine.PathLoop {
		t.Fatalf("a plan naming no path: %v, path %s; want the loop, which the plan fits", err, g.Path())
	}
	if g, err = a.generator(plan(engine.PathLoop, true)); err != nil {
		t.Fatal(err)
	}
	snap, err := g.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p := snap.Health.PacerPriority; p == "" {
		t.Fatal("a plan asking for the real-time pacer ran without asking for it")
	}
}

// TestMergedPacerPrioritySaysARefusal: the merged health says the pacers
// run at real time only if every agent's does; one refusal is said.
func TestMergedPacerPrioritySaysARefusal(t *testing.T) {
	refused := engine.PacerNormal + " (real-time priority refused: operation not permitted)"
	agent := func(p string) *runAgent {
		a := &runAgent{}
		a.last.Health.PacerPriority = p
		return a
	}
	for _, c := range []struct {
		got  []string
		want string
	}{
		{[]string{"", ""}, ""},
		{[]string{engine.PacerRealtime, engine.PacerRealtime}, engine.PacerRealtime},
		{[]string{engine.PacerRealtime, refused}, refused},
		{[]string{refused, engine.PacerRealtime}, refused},
	} {
		var as []*runAgent
		for _, p := range c.got {
			as = append(as, agent(p))
		}
		if st := stateOf(as, engine.Load{}); st.Health.PacerPriority != c.want {
			t.Errorf("agents %q: merged %q, want %q", c.got, st.Health.PacerPriority, c.want)
		}
	}
}

// TestMergedEngineSaysEachWay: the merged health names the agents' engine
// path when they all took the same, and one agent whose loop read and
// wrote call by call says so for all.
func TestMergedEngineSaysEachWay(t *testing.T) {
	calls := engine.LoopIOCalls + ", io_uring unavailable: operation not permitted"
	agent := func(path, io string) *runAgent {
		a := &runAgent{}
		a.last.Health.Path, a.last.Health.LoopIO = path, io
		return a
	}
	for _, c := range []struct {
		agents   []*runAgent
		path, io string
	}{
		{[]*runAgent{agent(engine.PathLoop, engine.LoopIOBatched), agent(engine.PathLoop, engine.LoopIOBatched)}, engine.PathLoop, engine.LoopIOBatched},
		{[]*runAgent{agent(engine.PathLoop, engine.LoopIOBatched), agent(engine.PathLoop, calls)}, engine.PathLoop, calls},
		{[]*runAgent{agent(engine.PathLoop, calls), agent(engine.PathLoop, engine.LoopIOBatched)}, engine.PathLoop, calls},
		{[]*runAgent{agent(engine.PathGoroutine, ""), agent(engine.PathGoroutine, "")}, engine.PathGoroutine, ""},
		{[]*runAgent{agent(engine.PathLoop, engine.LoopIOBatched), agent(engine.PathGoroutine, "")}, "", engine.LoopIOBatched},
	} {
		st := stateOf(c.agents, engine.Load{})
		if st.Health.Path != c.path || st.Health.LoopIO != c.io {
			t.Errorf("agents %+v, %+v: merged path %q io %q, want %q and %q", c.agents[0].last.Health, c.agents[1].last.Health,
				st.Health.Path, st.Health.LoopIO, c.path, c.io)
		}
	}
}

// TestEngineOfNamesTheWay: the agents table's engine column.
func TestEngineOfNamesTheWay(t *testing.T) {
	for _, c := range []struct {
		h    engine.Health
		want string
	}{
		{engine.Health{Path: engine.PathLoop, LoopIO: engine.LoopIOBatched}, "loop (io_uring)"},
		{engine.Health{Path: engine.PathLoop, LoopIO: engine.LoopIOBatched, Loops: 3}, "loop (3 threads, io_uring)"},
		{engine.Health{Path: engine.PathLoop, LoopIO: engine.LoopIOCalls + ", io_uring turned off"}, "loop (read/write)"},
		{engine.Health{Path: engine.PathGoroutine}, "goroutine"},
	} {
		if got := report.EngineName(c.h, false); got != c.want {
			t.Errorf("EngineName(%+v, false) = %q, want %q", c.h, got, c.want)
		}
	}
}
