package fishial

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
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
	type victim struct{ id, held string } // held: the job it held, "" if no node was caught
	killed := make(chan victim, 1)
	r, err := newRace(cfg, func(p Progress) {
		if p.Strategy == StrategyDistributed && p.Done == 1 {
			once.Do(func() {
				go func() {
					id, held := killNodeHoldingAnImage(m, cfg.Nodes)
					killed <- victim{id, held}
				}()
			})
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
	v := <-killed
	if v.held == "" {
		t.Fatal("no node was caught holding an image; nothing was killed")
	}
	id := v.id
	var job photoJob
	if err := json.Unmarshal([]byte(v.held), &job); err != nil {
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

// killNodeHoldingAnImage kills a node that holds an image, then reads
// what it held once it is dead (it may have finished that image just
// before): it tries another node until one dies holding one, and always
// spares one of the race's nodes. It returns the node's id and the job
// it held, or an empty job if none was caught within 5 s.
func killNodeHoldingAnImage(m *redisconn.Embedded, nodes int) (id, held string) {
	deadline := time.Now().Add(5 * time.Second)
	tried := map[string]bool{}
	for time.Now().Before(deadline) {
		ids, _ := m.Members(keyNodes)
		for _, id := range ids {
			held, _ := m.List(keyProcessing(id))
			pid, _ := strconv.Atoi(m.HGet(keyNode(id), "pid"))
			if tried[id] || len(held) != 1 || pid <= 0 || len(tried) == nodes-1 {
				continue
			}
			tried[id] = true
			if syscall.Kill(pid, syscall.SIGKILL) != nil {
				continue
			}
			for !processGone(pid) {
				time.Sleep(time.Millisecond)
			}
			// A command the node sent just before it died (its result,
			// say) may still be on its way to Redis: let it land before
			// deciding what the dead node held.
			time.Sleep(100 * time.Millisecond)
			if held, _ := m.List(keyProcessing(id)); len(held) == 1 {
				return id, held[0]
			}
		}
		time.Sleep(time.Millisecond)
	}
	return "", ""
}

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
	// The coordinator only reaps here: the Redis runs outside perflab,
	// and the result says its CPU is not counted.
	if !res.RedisOutside || res.CoordinatorCPUSeconds <= 0 {
		t.Fatalf("result %+v: want the Redis marked as outside, the reaper's CPU counted", res)
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

// A node the race starts reads the race and opens its connection to
// the API before it says it is ready, so that its first image does not
// pay for either; a race it cannot find stops it with the reason.
func TestNodePreparesForItsRaceBeforeReady(t *testing.T) {
	m, rdb := embeddedRedis(t)
	srv, conns := connCounter(t, http.NotFoundHandler())
	if err := rdb.HSet(context.Background(), keyRun("r1"), "auth", srv.URL, "api", srv.URL, "client_id", "id", "client_secret", "s").Err(); err != nil {
		t.Fatal(err)
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	ready := make(chan int32, 1)
	done := make(chan error, 1)
	go func() {
		done <- RunNode(ctx, NodeOptions{Redis: m.URL(), ID: "n1", Race: "r1", Ready: func(string) { ready <- conns.Load() }})
	}()
	select {
	case n := <-ready:
		if n != 1 {
			t.Fatalf("node was ready with %d connections to the API, want 1", n)
		}
	case err := <-done:
		t.Fatalf("node ended before it was ready: %v", err)
	}
	stop()
	<-done

	err := RunNode(context.Background(), NodeOptions{Redis: m.URL(), ID: "n2", Race: "missing", Log: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "prepare for race missing") {
		t.Fatalf("node for a race Redis does not hold: %v, want a prepare error", err)
	}
}

// A node that serves race after race forgets each once it has ended
// (its key is gone), closing the connections its client kept, and keeps
// the races still running.
func TestNodeForgetsEndedRaces(t *testing.T) {
	_, rdb := embeddedRedis(t)
	srv, conns := connCounter(t, http.NotFoundHandler())
	ctx := context.Background()
	n := &node{id: "n1", rdb: rdb, runs: map[string]*nodeRun{}, waits: map[string]*tokenNotice{}}
	for _, id := range []string{"ended", "running", "current"} {
		if err := rdb.HSet(ctx, keyRun(id), "auth", srv.URL, "api", srv.URL, "client_id", "id", "client_secret", "s").Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := n.run(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	ended := n.runs["ended"].client.http.Transport.(*syncTransport)
	n.runs["ended"].client.warmUp(ctx, 2)
	if conns.Load() != 2 || len(ended.idle) == 0 {
		t.Fatalf("the ended race's client opened %d connections and keeps %d hosts, want 2 and 1", conns.Load(), len(ended.idle))
	}
	if err := rdb.Del(ctx, keyRun("ended")).Err(); err != nil {
		t.Fatal(err)
	}
	n.notice(chanToken("ended")) // a wait for a token that will not come
	n.notice(chanToken("running"))
	n.forget(ctx, "current")
	if _, ok := n.runs["ended"]; ok || len(n.runs) != 2 || n.runs["running"] == nil || n.runs["current"] == nil {
		t.Fatalf("after forgetting, the node holds %v; want running and current", n.runs)
	}
	if len(ended.idle) != 0 {
		t.Fatalf("the ended race's client still keeps connections: %v", ended.idle)
	}
	if _, ok := n.waits[chanToken("ended")]; ok || n.waits[chanToken("running")] == nil {
		t.Fatalf("token waits after forgetting: %v; want the running race's only", n.waits)
	}
}
