package fishial

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"perflab/server/redisconn"
)

// A node killed with SIGKILL while it holds an image: the race still
// completes, the image is taken back and recognised by another node, and
// every image is in the results exactly once (run verifies signed id and
// MD5 of each).
func TestDistributedSurvivesANodeKilledMidImage(t *testing.T) {
	m, err := redisconn.StartEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	cfg := smallRace()
	cfg.Images, cfg.TimeScale, cfg.Nodes, cfg.Prob429 = 24, 0.05, 5, 0
	cfg.Redis = m.URL()

	var once sync.Once
	killed := make(chan string, 1) // "node-id job", or "" if no node could be caught
	kill := func() {
		// Kill a node that holds an image, then read what it held once it
		// is dead (it may have finished that image just before): retry
		// with another node until one dies holding one.
		deadline := time.Now().Add(5 * time.Second)
		tried := map[string]bool{}
		for time.Now().Before(deadline) {
			ids, _ := m.Members(keyNodes)
			for _, id := range ids {
				held, _ := m.List(keyProcessing(id))
				pid, _ := strconv.Atoi(m.HGet(keyNode(id), "pid"))
				if tried[id] || len(held) != 1 || pid <= 0 || len(tried) == cfg.Nodes-1 {
					continue
				}
				tried[id] = true
				if syscall.Kill(pid, syscall.SIGKILL) != nil {
					continue
				}
				for !processGone(pid) {
					time.Sleep(time.Millisecond)
				}
				// A command the node sent just before it died (its
				// result, say) may still be on its way to Redis: let it
				// land before deciding what the dead node held.
				time.Sleep(100 * time.Millisecond)
				if held, _ := m.List(keyProcessing(id)); len(held) == 1 {
					killed <- id + " " + held[0]
					return
				}
			}
			time.Sleep(time.Millisecond)
		}
		killed <- ""
	}
	r, err := newRace(cfg, func(p Progress) {
		if p.Strategy == StrategyDistributed && p.Done == 1 {
			once.Do(func() { go kill() })
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, recs, err := r.run(ctx, StrategyDistributed)
	if err != nil {
		t.Fatal(err)
	}
	victim := <-killed
	if victim == "" {
		t.Fatal("no node was caught holding an image; nothing was killed")
	}
	var id string
	var job photoJob
	fmt.Sscan(victim, &id)
	if err := json.Unmarshal([]byte(victim[len(id)+1:]), &job); err != nil {
		t.Fatal(err)
	}
	if res.Requeued < 1 {
		t.Fatalf("result %+v: want the killed node's image counted as re-queued", res)
	}
	if got := recs[job.Image].Worker; got == id {
		t.Fatalf("image %s credited to the node killed while holding it", job.Name)
	}
	if len(recs) != cfg.Images {
		t.Fatalf("%d results for %d images", len(recs), cfg.Images)
	}
	if st := r.mock.Stats(); st.Recognitions < int64(cfg.Images) {
		t.Fatalf("mock answered %d recognitions for %d images", st.Recognitions, cfg.Images)
	}
	if held, _ := m.List(keyProcessing(id)); len(held) != 0 {
		t.Fatalf("dead node %s still holds %v", id, held)
	}
	if q, _ := m.List(keyQueue); len(q) != 0 {
		t.Fatalf("queue left with %d jobs after the race", len(q))
	}
	assertNoChildren(t)
}

// Cancelling the context stops the race at once and leaves no process.
// processGone reports whether pid has exited (a zombie counts: it runs
// no more).
func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) == 0 || fields[0] == "Z" || fields[0] == "X"
}

func TestCancelStopsEveryProcess(t *testing.T) {
	cases := []struct {
		name       string
		strategies []string
		concurrent bool
	}{
		{"sequential", []string{StrategySequential}, false},
		{"all at once", Strategies, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := smallRace()
			cfg.TimeScale, cfg.Strategies, cfg.Prob429 = 0.2, c.strategies, 0
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var mu sync.Mutex
			seen := 0
			start := time.Now()
			results, err := Run(ctx, cfg, c.concurrent, func(p Progress) {
				mu.Lock()
				defer mu.Unlock()
				if p.Strategy == StrategySequential && p.Done == 2 {
					cancel()
				}
				seen++
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err %v, want context.Canceled", err)
			}
			for _, r := range results {
				if r.Strategy == StrategySequential {
					t.Fatalf("sequential reported as finished after being cancelled: %+v", r)
				}
			}
			// Sequential alone would take 12 x 0.17 s; cancelled after two
			// images, it must stop well before that.
			if d := time.Since(start); d > cfg.Ideal(StrategySequential)+10*time.Second {
				t.Fatalf("cancelled race took %v", d)
			}
			assertNoChildren(t)
		})
	}
}

func TestRacingAllAtOnce(t *testing.T) {
	cfg := smallRace()
	var mu sync.Mutex
	done := map[string]int{}
	finals := map[string]*Result{}
	results, err := Run(context.Background(), cfg, true, func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		if p.Result != nil {
			finals[p.Strategy] = p.Result
			return
		}
		if p.Done != done[p.Strategy]+1 {
			t.Errorf("%s: event done=%d after %d", p.Strategy, p.Done, done[p.Strategy])
		}
		done[p.Strategy] = p.Done
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 4 {
		t.Fatalf("%d results, want 4", len(results))
	}
	for i, r := range results {
		if r.Strategy != Strategies[i] || done[r.Strategy] != cfg.Images || finals[r.Strategy] == nil {
			t.Fatalf("result %d = %+v (events %d, final %v): want %s with %d images", i, r, done[r.Strategy], finals[r.Strategy], Strategies[i], cfg.Images)
		}
	}
	if results[0].Speedup != 1 {
		t.Fatalf("sequential speed-up %.3f, want 1 (it is the base)", results[0].Speedup)
	}
	for _, r := range results[1:] {
		if want := results[0].Seconds / r.Seconds; r.Speedup != want {
			t.Fatalf("%s speed-up %.3f, want measured sequential / its time = %.3f", r.Strategy, r.Speedup, want)
		}
	}
	assertNoChildren(t)
}

// The distributed strategy against a real redis-server, as --redis
// redis://host:port would run it.
func TestDistributedOnRealRedis(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		requireExternal(t, "redis-server", "the distributed race against a real Redis")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	srv.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		srv.Process.Kill()
		srv.Wait()
	}()
	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer rdb.Close()
	for i := 0; rdb.Ping(context.Background()).Err() != nil; i++ {
		if i > 100 {
			t.Fatal("redis-server did not answer within 5 s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	cfg := smallRace()
	cfg.Redis = url
	r, res, recs, _ := raceOnce(t, cfg, StrategyDistributed)
	if len(recs) != cfg.Images || r.mock.Stats().Tokens != 1 {
		t.Fatalf("result %+v, %d records, %d tokens: want %d images on one token", res, len(recs), r.mock.Stats().Tokens, cfg.Images)
	}
	// The nodes left (they were told to), and the race cleaned up.
	if keys, _ := rdb.Keys(context.Background(), keyPrefix+"*").Result(); len(keys) != 0 {
		t.Fatalf("race left keys in Redis: %v", keys)
	}
	assertNoChildren(t, srv.Process.Pid)
}

// A node started on its own (as `perflab fishial-node` does) joins a
// race it knows nothing about through the shared Redis, and leaves
// cleanly when stopped.
func TestOutsideNodeJoinsTheRace(t *testing.T) {
	m, err := redisconn.StartEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	url := m.URL()

	ctx, stop := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	nodeDone := make(chan error, 1)
	go func() {
		nodeDone <- RunNode(ctx, NodeOptions{Redis: url, ID: "outside", Ready: func(id string) { ready <- id }})
	}()
	select {
	case <-ready:
	case err := <-nodeDone:
		t.Fatalf("outside node ended before it was ready: %v", err)
	}

	cfg := smallRace()
	cfg.Redis, cfg.Nodes, cfg.Prob429 = url, 1, 0
	_, res, recs, _ := raceOnce(t, cfg, StrategyDistributed)
	outside := 0
	for _, rec := range recs {
		if rec.Worker == "outside" {
			outside++
		}
	}
	if outside == 0 || outside == cfg.Images || res.Workers != 2 {
		t.Fatalf("outside node recognised %d of %d images, result says %d workers: want both nodes to take part", outside, cfg.Images, res.Workers)
	}
	stop()
	if err := <-nodeDone; err != nil {
		t.Fatalf("stopped node returned %v", err)
	}
	if ids, _ := m.Members(keyNodes); len(ids) != 0 {
		t.Fatalf("nodes still registered after leaving: %v", ids)
	}
}
