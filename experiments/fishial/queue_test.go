package fishial

import (
	"context"
	"encoding/json"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"perflab/server/redisconn"
)

// embeddedRedis starts an embedded Redis for a test, with a client to it;
// both end with the test.
func embeddedRedis(t *testing.T) (*redisconn.Embedded, *redis.Client) {
	t.Helper()
	m, err := redisconn.StartEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	rdb, err := connectRedis(context.Background(), m.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return m, rdb
}

// A job goes back to the queue only from the node that still holds it:
// a node whose job the reaper already moved must not queue it twice.
func TestRequeueGivesBackOnlyAJobItHolds(t *testing.T) {
	m, rdb := embeddedRedis(t)
	ctx := context.Background()
	m.RPush(keyProcessing("a"), "job-1", "job-2")

	if err := requeue(ctx, rdb, "a", "job-2"); err != nil {
		t.Fatal(err)
	}
	if err := requeue(ctx, rdb, "a", "job-3"); err != nil { // not held
		t.Fatal(err)
	}
	if err := requeue(ctx, rdb, "b", "job-1"); err != nil { // held by another node
		t.Fatal(err)
	}
	held, _ := m.List(keyProcessing("a"))
	queue, _ := m.List(keyQueue)
	if len(held) != 1 || held[0] != "job-1" || len(queue) != 1 || queue[0] != "job-2" {
		t.Fatalf("node a holds %q and the queue has %q; want [job-1] and [job-2]", held, queue)
	}
}

// deleteIf takes a lock or a token away only from its owner.
func TestDeleteIfSparesAnotherValue(t *testing.T) {
	m, rdb := embeddedRedis(t)
	ctx := context.Background()
	m.Set("lock", "node-2")
	if err := deleteIf(ctx, rdb, "lock", "node-1"); err != nil {
		t.Fatal(err)
	}
	if !m.Exists("lock") {
		t.Fatal("node-1 deleted node-2's lock")
	}
	if err := deleteIf(ctx, rdb, "lock", "node-2"); err != nil {
		t.Fatal(err)
	}
	if m.Exists("lock") {
		t.Fatal("node-2 could not delete its own lock")
	}
	if err := deleteIf(ctx, rdb, "lock", "node-2"); err != nil {
		t.Fatalf("deleting a key that is gone: %v", err)
	}
}

// A node presumed dead that finishes its image after all pushes a second
// result for it: the race keeps the first, and both nodes let go of the
// job in the same step.
func TestALateSecondResultIsDropped(t *testing.T) {
	m, rdb := embeddedRedis(t)
	ctx := context.Background()
	const run = "r1"
	job := `{"run":"r1","image":0}`
	m.RPush(keyProcessing("fast"), job)
	m.RPush(keyProcessing("slow"), job)
	for _, w := range []string{"fast", "slow"} {
		b, _ := json.Marshal(imageResult{Image: 0, Name: "fish-0.jpg", Worker: w})
		if err := recordResult(ctx, rdb, run, w, job, string(b)); err != nil {
			t.Fatal(err)
		}
		if held, _ := m.List(keyProcessing(w)); len(held) != 0 {
			t.Fatalf("node %s still holds %q after recording its result", w, held)
		}
	}
	if ttl := m.TTL(keyResults(run)); ttl <= 0 || ttl > resultTTL {
		t.Fatalf("results list expires in %v; want a bound of at most %v", ttl, resultTTL)
	}

	tl := newTally(&race{}, StrategyDistributed, 2)
	for range 2 {
		if err := takeResult(ctx, tl, rdb, run); err != nil {
			t.Fatal(err)
		}
	}
	if !tl.has(0) || tl.recs[0].Worker != "fast" || tl.done != 1 {
		t.Fatalf("recorded %d results, image 0 by %+v; want one, by the node that finished first", tl.done, tl.recs[0])
	}
}

// A node waiting while another fetches the token takes the token the
// announcement carries, without reading it from Redis.
func TestTokenNoticeCarriesTheToken(t *testing.T) {
	m, rdb := embeddedRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const run = "r2"
	n := &node{id: "waiter", rdb: rdb, log: io.Discard, runs: map[string]*nodeRun{}, waits: map[string]*tokenNotice{}}
	ps := rdb.Subscribe(ctx, chanToken(run))
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	go func() {
		for msg := range ps.Channel() {
			n.wake(msg.Channel, msg.Payload)
		}
	}()
	m.Set(keyTokenLock(run), "fetcher") // someone else is fetching

	got := make(chan string, 1)
	go func() {
		tok, err := (&redisTokens{n: n, run: run}).Token(ctx, &flowStats{})
		if err != nil {
			tok = "error: " + err.Error()
		}
		got <- tok
	}()
	for !waiting(n, chanToken(run)) {
		time.Sleep(time.Millisecond)
	}
	// Announced but never stored: only the notice has it.
	until := strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10)
	m.Publish(chanToken(run), until+" tok-123")
	if tok := <-got; tok != "tok-123" {
		t.Fatalf("waiting node got %q; want the announced tok-123", tok)
	}
}

func waiting(n *node, channel string) bool {
	n.wmu.Lock()
	defer n.wmu.Unlock()
	_, ok := n.waits[channel]
	return ok
}
