package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"perflab/engine"
	"perflab/server/proc"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // substring of the error; "" for valid
	}{
		{"default", func(*Config) {}, ""},
		{"16 workers async cached", func(c *Config) { c.Workers, c.Mode, c.Cache = 16, ModeAsync, true }, ""},
		{"external redis", func(c *Config) { c.Redis = "redis://127.0.0.1:6379" }, ""},
		{"no workers", func(c *Config) { c.Workers = 0 }, "--workers must be in 1..16, got 0"},
		{"too many workers", func(c *Config) { c.Workers = 20 }, "--workers must be in 1..16, got 20"},
		{"mode", func(c *Config) { c.Mode = "threads" }, `--mode must be sync or async, got "threads"`},
		{"query", func(c *Config) { c.Query = "join" }, "--query must be naive or prefetch"},
		{"profile", func(c *Config) { c.Profile = "rails" }, "--profile must be django or go"},
		{"cpus", func(c *Config) { c.InstanceCPUs = runtime.NumCPU() + 1 }, "--instance-cpus must be in 1.."},
		{"negative cpus", func(c *Config) { c.InstanceCPUs = -1 }, "--instance-cpus"},
		{"addr", func(c *Config) { c.Addr = "8000" }, "--addr"},
		{"edge addr", func(c *Config) { c.EdgeAddr = "127.0.0.1:http" }, "--edge-addr"},
		{"redis scheme", func(c *Config) { c.Redis = "http://127.0.0.1:6379" }, "--redis must be embedded or redis://host:port"},
		{"redis no port", func(c *Config) { c.Redis = "redis://localhost" }, "--redis"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	c := DefaultConfig()
	if w := c.Warnings(); proc.PinningSupported && len(w) != 0 {
		t.Errorf("loopback defaults warn: %v", w)
	}
	c.Addr = "0.0.0.0:8000"
	if w := c.Warnings(); len(w) == 0 || !strings.Contains(w[0], "--addr 0.0.0.0:8000") {
		t.Errorf("a listener on every interface should warn, got %v", w)
	}
}

func TestApplyRefusesFixedSettings(t *testing.T) {
	tw := startTwin(t, fastConfig())
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Addr = "127.0.0.1:1" }, "--addr cannot change"},
		{func(c *Config) { c.Redis = "redis://127.0.0.1:1" }, "--redis cannot change"},
		{func(c *Config) { c.DataDir = t.TempDir() }, "--data-dir cannot change"},
		{func(c *Config) { c.Workers = 17 }, "--workers must be in 1..16"},
	} {
		c := tw.Config()
		tc.edit(&c)
		if err := tw.Apply(context.Background(), c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Apply: %v, want an error containing %q", err, tc.want)
		}
	}
	if got := tw.Config(); got != fastConfig() {
		t.Errorf("a refused Apply changed the config: %+v", got)
	}
}

// TestModes: in sync mode a worker runs one view at a time; in async
// mode it admits them together (their DB calls still queue on one thread).
func TestModes(t *testing.T) {
	tw := startTwin(t, DefaultConfig()) // django: a likes view takes long enough to overlap
	a := newAPI(t, tw.AppURL())
	a.signin()
	burst := func() {
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				// Each on its own connection, as six users would be.
				c := newAPI(t, tw.AppURL())
				c.hc.Transport = &http.Transport{}
				c.token = a.token
				c.likes()
			})
		}
		wg.Wait()
	}
	burst()
	if p := tw.Stats().Workers[0].PeakActive; p != 1 {
		t.Fatalf("sync mode: %d views ran at once in one worker, want 1", p)
	}
	c := tw.Config()
	c.Mode = ModeAsync
	if err := tw.Apply(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	burst()
	if p := tw.Stats().Workers[0].PeakActive; p < 2 {
		t.Fatalf("async mode: at most %d view ran at once in one worker, want several", p)
	}
}

// likesLoad drives the study's second flow until stopped.
func likesLoad(t *testing.T, base string, vus int) *engine.Generator {
	t.Helper()
	scn := engine.Scenario{
		Setup: []engine.Step{{
			Name: "signin", Method: "POST", URL: base + "/api/auths/signin/",
			Body: `{"email":"ruby@gmail.com","password":"12345678"}`, Expect: 200,
			Capture: []engine.Capture{{Var: "access", Field: "access"}},
		}},
		Steps: []engine.Step{{
			Name: "likes", URL: base + "/api/logbooks/likes/",
			Header: []engine.Header{{Key: "Authorization", Value: "Bearer {{access}}"}},
			Expect: 200,
		}},
	}
	gen, err := engine.New(scn, engine.Closed{VUs: vus, Think: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return gen
}

// TestLiveResize grows and shrinks the workers under load: no request
// may fail, and each Apply returns with the new count serving.
func TestLiveResize(t *testing.T) {
	tw := startTwin(t, fastConfig())
	stop := startLoad(t, likesLoad(t, tw.AppURL(), 8))
	servedMore(t, tw, 20)
	for _, n := range []int{4, 2} {
		c := tw.Config()
		c.Workers = n
		if err := tw.Apply(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		s := tw.Stats()
		pids := map[int]bool{}
		for _, w := range s.Workers {
			pids[w.PID] = true
		}
		if s.WorkersUp != n || len(s.Workers) != n || len(pids) != n || s.Config.Workers != n {
			t.Fatalf("after Apply(workers=%d): %d up, %d listed, %d pids, config %d", n, s.WorkersUp, len(s.Workers), len(pids), s.Config.Workers)
		}
		servedMore(t, tw, 20)
		// The clients' keep-alive connections spread over the new set:
		// every worker serves, not only the ones that held them before.
		before := map[int]uint64{}
		for _, w := range tw.Stats().Workers {
			before[w.Slot] = w.Requests
		}
		waitFor(t, 15*time.Second, fmt.Sprintf("all %d workers to serve", n), func() bool {
			for _, w := range tw.Stats().Workers {
				if w.Requests <= before[w.Slot] {
					return false
				}
			}
			return true
		})
	}
	final := stop()
	if r := final.All.Run; r.Requests < 60 || r.Errors != 0 {
		t.Fatalf("%d requests, %d failed (%+v) across the resizes; want none failed", r.Requests, r.Errors, final.Errors)
	}
	if tw.Stats().Total.Requests < uint64(final.All.Run.Requests) {
		t.Error("the workers' request counters lost requests of removed workers")
	}
}

// TestRestartDelay: a child that crashes is restarted at once, even
// when it had just started; one that keeps dying right after start is
// restarted ever more slowly, up to 2 s apart.
func TestRestartDelay(t *testing.T) {
	ms := time.Millisecond
	for quick, want := range []time.Duration{0, 0, 100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 2000 * ms, 2000 * ms} {
		if got := restartDelay(quick); got != want {
			t.Errorf("restartDelay(%d) = %v; want %v", quick, got, want)
		}
	}
	if got := restartDelay(60); got != 2*time.Second {
		t.Errorf("restartDelay(60) = %v; want the 2 s cap", got)
	}
}

// TestWorkerKilledIsRestarted: kill -9 a worker; the parent restarts it
// at once (see TestRestartDelay), so it is back within a second, or on a
// machine too busy for that, within the time the whole twin took to
// start, and it serves.
func TestWorkerKilledIsRestarted(t *testing.T) {
	c := fastConfig()
	c.Workers = 2
	began := time.Now()
	tw := startTwin(t, c)
	startup := time.Since(began)
	old := tw.Stats().Workers[0].PID
	if p, err := os.FindProcess(old); err != nil || p.Kill() != nil {
		t.Fatalf("kill worker %d: %v", old, err)
	}
	killed := time.Now()
	waitFor(t, 5*time.Second, "the worker to be restarted", func() bool {
		w := tw.Stats().Workers[0]
		return w.State == "up" && w.PID != old && w.PID != 0
	})
	if d, limit := time.Since(killed), max(time.Second, startup); d > limit {
		t.Errorf("restart took %s, want within %s (1 s, or the twin's start-up)", d, limit)
	}
	w := tw.Stats().Workers[0]
	if w.Restarts != 1 {
		t.Errorf("restarts %d, want 1", w.Restarts)
	}
	if proc.Running(old) {
		t.Errorf("killed worker %d still listed as a process", old)
	}
	a := newAPI(t, tw.AppURL())
	a.signin()
	for range 4 {
		a.likes() // over fresh connections, whichever worker takes them
		a.hc.CloseIdleConnections()
	}
}

// TestClose: every process gone and every file removed within 2 s.
func TestClose(t *testing.T) {
	c := fastConfig()
	c.Workers = 3
	ctx := context.Background()
	tw, err := Start(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	a := newAPI(t, tw.AppURL())
	a.signin()
	a.likes()
	pids, dir := twinPIDs(tw.Stats()), tw.DataDir()
	if len(pids) != 6 {
		t.Fatalf("pids %v, want 3 workers, the task worker, the embedded Redis and the edge", pids)
	}
	began := time.Now()
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d > 2*time.Second {
		t.Errorf("Close took %s, want within 2s", d)
	}
	for _, pid := range pids {
		if proc.Running(pid) {
			t.Errorf("pid %d outlived Close", pid)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("data directory %s outlived Close", dir)
	}
	if _, err := http.Get(tw.AppURL() + "/"); err == nil {
		t.Error("the app port still answers after Close")
	}
	if err := tw.Apply(ctx, c); err == nil {
		t.Error("Apply after Close succeeded")
	}
}

// TestDataDir: a given directory keeps what was there; the twin's files
// go unless kept, and a kept database is used again.
func TestDataDir(t *testing.T) {
	dir := t.TempDir()
	mine := filepath.Join(dir, "notes.txt")
	os.WriteFile(mine, []byte("mine"), 0o644)
	c := fastConfig()
	c.DataDir = dir
	tw, err := Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	tw.Close()
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(left) != 1 || left[0] != mine {
		t.Fatalf("after Close the directory holds %v, want only %s", left, mine)
	}

	c.KeepData = true
	tw, err = Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	a := newAPI(t, tw.AppURL())
	a.signin()
	if resp, body := a.do("POST", "/api/logbooks/1/like/", ""); resp.StatusCode != 202 {
		t.Fatalf("like: %d %s", resp.StatusCode, body)
	}
	waitFor(t, 5*time.Second, "the like to be applied", func() bool { return tw.Stats().Tasks.Applied == 1 })
	tw.Close()
	if _, err := os.Stat(filepath.Join(dir, "twin.db")); err != nil {
		t.Fatalf("kept database: %v", err)
	}
	tw = startTwin(t, c)
	a = newAPI(t, tw.AppURL())
	a.signin()
	if got := a.likes(); len(got) == 0 || got[0].ID != 1 || got[0].Likes[0] != "ruby" {
		t.Errorf("the kept database lost ruby's like: %v", got)
	}
}

func TestStatsEndpoint(t *testing.T) {
	c := fastConfig()
	c.Workers = 2
	c.Cache = true
	tw := startTwin(t, c)
	a := newAPI(t, tw.AppURL())
	a.signin()
	a.likes()
	resp, body := a.do("GET", StatsPath, "")
	if resp.StatusCode != 200 {
		t.Fatalf("stats: %d %s", resp.StatusCode, body)
	}
	var s Stats
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatal(err)
	}
	in := tw.Stats()
	if s.Config.Workers != 2 || !s.Config.Cache || s.Config.Profile != ProfileGo || s.WorkersUp != 2 || !s.RedisReachable {
		t.Errorf("stats over HTTP: %+v", s)
	}
	if len(s.Workers) != 2 || s.Workers[0].PID != in.Workers[0].PID || s.Tasks.PID != in.Tasks.PID {
		t.Errorf("HTTP and in-process stats disagree on pids: %+v vs %+v", s.Workers, in.Workers)
	}
	if s.Total.Requests != 2 || s.Total.CacheMisses != 1 || s.Total.CPUSeconds <= 0 {
		t.Errorf("totals %+v: want 2 requests (signin, likes), 1 cache miss, some CPU", s.Total)
	}
	var raw map[string]any
	json.Unmarshal(body, &raw)
	for _, k := range []string{"time", "config", "workers", "total", "tasks", "edge", "redis_reachable"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("stats JSON lacks %q", k)
		}
	}
}

// TestEmbeddedRedisClock: miniredis expires keys only when told time
// passed; the twin's clock must tell it.
func TestEmbeddedRedisClock(t *testing.T) {
	tw := startTwin(t, fastConfig())
	ctx := context.Background()
	if err := tw.rdb.Set(ctx, "perflab:test", "x", 300*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "the key's TTL to expire", func() bool {
		n, err := tw.rdb.Exists(ctx, "perflab:test").Result()
		return err == nil && n == 0
	})
}

// freePort finds a loopback port nobody listens on.
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startRedisServer runs a real redis-server on port until the test ends
// or the returned process is killed.
func startRedisServer(t *testing.T, bin string, port int) *os.Process {
	t.Helper()
	cmd := proc.External(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := proc.Start(cmd, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	waitFor(t, 5*time.Second, "redis-server to listen", func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return cmd.Process
}

// TestRedisKilledMidRun: with a real Redis killed under load, requests
// fall back to the database (no 5xx), errors are counted, and the cache
// is used again once Redis is back.
func TestRedisKilledMidRun(t *testing.T) {
	bin := needProgram(t, "redis-server", "apt-get install redis-server")
	port := freePort(t)
	redisProc := startRedisServer(t, bin, port)
	c := fastConfig()
	c.Workers = 2
	c.Cache = true
	c.Redis = "redis://127.0.0.1:" + strconv.Itoa(port)
	tw := startTwin(t, c)
	a := newAPI(t, tw.AppURL())
	a.signin()

	var stop atomic.Bool
	var ok, bad atomic.Int64
	var lastBad atomic.Value
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			hc := &http.Client{Timeout: 10 * time.Second}
			for !stop.Load() {
				req, _ := http.NewRequest("GET", tw.AppURL()+"/api/logbooks/likes/", nil)
				req.Header.Set("Authorization", "Bearer "+a.token)
				resp, err := hc.Do(req)
				if err != nil {
					bad.Add(1)
					lastBad.Store(err.Error())
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == 200 {
					ok.Add(1)
				} else {
					bad.Add(1)
					lastBad.Store(resp.Status)
				}
			}
		})
	}
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()

	waitFor(t, 5*time.Second, "cache hits", func() bool { return tw.Stats().Total.CacheHits > 10 })
	redisProc.Kill()
	waitFor(t, 5*time.Second, "the twin to see Redis down", func() bool {
		s := tw.Stats()
		return !s.RedisReachable && s.Total.RedisErrors > 0
	})
	servedDown := ok.Load()
	for wait := time.Now(); ok.Load() == servedDown; time.Sleep(10 * time.Millisecond) {
		if time.Since(wait) > 10*time.Second {
			t.Fatalf("no request succeeded in 10 s while Redis was down (failed %d, last %v; stats %+v)", bad.Load(), lastBad.Load(), tw.Stats().Total)
		}
	}
	startRedisServer(t, bin, port)
	waitFor(t, 5*time.Second, "the twin to see Redis back", func() bool { return tw.Stats().RedisReachable })
	hits := tw.Stats().Total.CacheHits
	waitFor(t, 5*time.Second, "cache hits after Redis came back", func() bool { return tw.Stats().Total.CacheHits > hits+10 })
	stop.Store(true)
	wg.Wait()

	s := tw.Stats()
	if bad.Load() != 0 || s.Total.Errors5xx != 0 {
		t.Fatalf("%d requests failed (last: %v), %d 5xx: Redis going away must not fail requests", bad.Load(), lastBad.Load(), s.Total.Errors5xx)
	}
	if s.Total.Restarts != 0 {
		t.Errorf("workers restarted %d times: a Redis failure must not crash them", s.Total.Restarts)
	}
	t.Logf("%d requests ok; redis errors counted: workers %d, task worker %d", ok.Load(), s.Total.RedisErrors, s.Tasks.RedisErrors)
}
