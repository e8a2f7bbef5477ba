package fishial

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"perflab/server/redisconn"
)

// The distributed strategy's nodes share nothing but a Redis:
//
//	queue       list of jobs (JSON photoJob); nodes BLMOVE one into their
//	            own processing list, so a job is never only in flight
//	nodes       set of node ids; each node keeps node:<id>:alive alive
//	            with a lease it renews, and whoever finds the lease gone
//	            (the race's parent) moves its processing list back
//	run:<id>    hash: the race's endpoints and credentials
//	run:<id>:done / :results / :errors
//	            a result is recorded with HSETNX on done and only then
//	            pushed on results, so each image is reported once even
//	            if a slow node and its replacement both finish it
//	run:<id>:token (+:lock, channel :token-ready)
//	            one token per race, fetched by the node that wins SET NX
//	            on the lock and stored with the token's expiry
const keyPrefix = "perflab:fishial:"

var (
	keyQueue = keyPrefix + "queue"
	keyNodes = keyPrefix + "nodes"
)

func keyNode(id string) string       { return keyPrefix + "node:" + id }
func keyProcessing(id string) string { return keyNode(id) + ":processing" }
func keyAlive(id string) string      { return keyNode(id) + ":alive" }
func keyRun(run string) string       { return keyPrefix + "run:" + run }
func keyDone(run string) string      { return keyRun(run) + ":done" }
func keyResults(run string) string   { return keyRun(run) + ":results" }
func keyErrors(run string) string    { return keyRun(run) + ":errors" }
func keyToken(run string) string     { return keyRun(run) + ":token" }
func keyTokenLock(run string) string { return keyRun(run) + ":token:lock" }
func chanToken(run string) string    { return keyRun(run) + ":token-ready" }

var (
	// complete records a result once and lets go of the job. A job of a
	// race that is over (its run hash gone) is just dropped.
	completeScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[4]) == 1 and redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('RPUSH', KEYS[2], ARGV[2])
end
redis.call('LREM', KEYS[3], 1, ARGV[3])
return 1`)
	// requeue gives a job back to the head of the queue.
	requeueScript = redis.NewScript(`
if redis.call('LREM', KEYS[1], 1, ARGV[1]) > 0 then
  redis.call('LPUSH', KEYS[2], ARGV[1])
end
return 1`)
	// deleteIfScript deletes a key only if it still holds the value.
	deleteIfScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)
)

// raceRedis shapes the Redis clients of the race and of its nodes:
// go-redis's defaults, retries included. The twin's short timeouts and
// single attempts suit a cache with a database behind it; a race has
// nothing to fall back on.
var raceRedis = redisconn.Options{}

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// NodeOptions configure one distributed node.
type NodeOptions struct {
	Redis string        // redis://host:port of the shared queue
	ID    string        // unique node id; default host-pid-random
	Lease time.Duration // heartbeat lease; default 1 s
	// Ready, if set, is called once the node is registered and waiting
	// for work.
	Ready func(id string)
	Log   io.Writer // errors met on jobs; default os.Stderr
}

// RunNode serves jobs from the shared queue until ctx ends: any
// race whose parent put jobs there, on this machine or another. A job
// it cannot finish goes back to the queue; on the way out, so does
// whatever it holds.
func RunNode(ctx context.Context, o NodeOptions) error {
	rdb, err := redisconn.NewClient(o.Redis, raceRedis)
	if err != nil {
		return fmt.Errorf("--redis %q: %v", o.Redis, err)
	}
	defer rdb.Close()
	if o.Lease <= 0 {
		o.Lease = defaultLease
	}
	if o.ID == "" {
		host, _ := os.Hostname()
		o.ID = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), randomID(3))
	}
	if o.Log == nil {
		o.Log = os.Stderr
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("reach Redis at %s: %w", o.Redis, err)
	}
	n := &node{id: o.ID, rdb: rdb, lease: o.Lease, log: o.Log, runs: map[string]*nodeRun{}, waits: map[string]chan struct{}{}}
	if err := n.register(ctx); err != nil {
		return err
	}
	defer n.leave()

	// Token notices arrive on one pattern subscription, made before any
	// job is taken so that none can be missed.
	ps := rdb.PSubscribe(ctx, keyPrefix+"run:*:token-ready")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		return fmt.Errorf("subscribe to token notices: %w", err)
	}
	go func() {
		for m := range ps.Channel() {
			n.wake(m.Channel)
		}
	}()

	hbCtx, stopHB := context.WithCancel(context.Background())
	defer stopHB()
	go n.heartbeat(hbCtx)

	if o.Ready != nil {
		o.Ready(n.id)
	}
	return n.serve(ctx)
}

// node is one distributed worker: one image at a time, like one process
// of the study's MPI-like run.
type node struct {
	id    string
	rdb   *redis.Client
	lease time.Duration
	log   io.Writer

	runs map[string]*nodeRun // the races this node has seen

	wmu   sync.Mutex
	waits map[string]chan struct{} // token channel -> closed on notice
}

type nodeRun struct {
	client *apiClient
	tokens *redisTokens
}

func (n *node) register(ctx context.Context) error {
	host, _ := os.Hostname()
	_, err := n.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, keyNode(n.id), "pid", os.Getpid(), "host", host, "started", time.Now().UTC().Format(time.RFC3339))
		p.Set(ctx, keyAlive(n.id), "1", n.lease)
		p.SAdd(ctx, keyNodes, n.id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("register node %s: %w", n.id, err)
	}
	return nil
}

// heartbeat renews the lease; if a reaper already declared this node
// dead (a long pause), it simply joins again.
func (n *node) heartbeat(ctx context.Context) {
	tick := time.NewTicker(n.lease / 4)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			n.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, keyAlive(n.id), "1", n.lease)
				p.SAdd(ctx, keyNodes, n.id)
				return nil
			})
		}
	}
}

// leave hands back what the node holds and unregisters it.
func (n *node) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		if err := n.rdb.LMove(ctx, keyProcessing(n.id), keyQueue, "RIGHT", "LEFT").Err(); err != nil {
			break
		}
	}
	n.rdb.SRem(ctx, keyNodes, n.id)
	n.rdb.Del(ctx, keyAlive(n.id), keyNode(n.id), keyProcessing(n.id))
}

// serve takes one job at a time until ctx ends.
func (n *node) serve(ctx context.Context) error {
	for ctx.Err() == nil {
		raw, err := n.rdb.Do(ctx, "BLMOVE", keyQueue, keyProcessing(n.id), "LEFT", "RIGHT", blockFor(250*time.Millisecond)).Text()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			fmt.Fprintf(n.log, "fishial node %s: take a job: %v\n", n.id, err)
			sleepCtx(ctx, time.Second)
			continue
		}
		n.handle(ctx, raw)
	}
	return nil
}

func (n *node) handle(ctx context.Context, raw string) {
	var job photoJob
	if err := json.Unmarshal([]byte(raw), &job); err != nil || job.Run == "" {
		fmt.Fprintf(n.log, "fishial node %s: dropping unreadable job %.80q\n", n.id, raw)
		n.rdb.LRem(ctx, keyProcessing(n.id), 1, raw)
		return
	}
	run, err := n.run(ctx, job.Run)
	if errors.Is(err, errRaceOver) {
		n.rdb.LRem(ctx, keyProcessing(n.id), 1, raw) // nobody waits for it
		return
	}
	if err != nil {
		fmt.Fprintf(n.log, "fishial node %s: %v\n", n.id, err)
		requeueScript.Run(context.Background(), n.rdb, []string{keyProcessing(n.id), keyQueue}, raw)
		sleepCtx(ctx, time.Second)
		return
	}
	res, err := run.client.recognise(ctx, job, run.tokens, n.id)
	if err != nil {
		// Give the job back first, so it is not lost whatever happens next.
		requeueScript.Run(context.Background(), n.rdb, []string{keyProcessing(n.id), keyQueue}, raw)
		if ctx.Err() == nil {
			n.rdb.RPush(ctx, keyErrors(job.Run), fmt.Sprintf("node %s: %v", n.id, err))
		}
		return
	}
	b, _ := json.Marshal(res)
	keys := []string{keyDone(job.Run), keyResults(job.Run), keyProcessing(n.id), keyRun(job.Run)}
	if err := completeScript.Run(context.Background(), n.rdb, keys, strconv.Itoa(job.Image), string(b), raw).Err(); err != nil {
		fmt.Fprintf(n.log, "fishial node %s: record result of %s: %v\n", n.id, job.Name, err)
	}
}

// errRaceOver marks a job whose race has ended (its parent cleaned up).
var errRaceOver = errors.New("race is over")

// run returns the client for a race, reading its endpoints once.
func (n *node) run(ctx context.Context, id string) (*nodeRun, error) {
	if r, ok := n.runs[id]; ok {
		return r, nil // a stray job of a race that ended is dropped on completion
	}
	h, err := n.rdb.HGetAll(ctx, keyRun(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("read race %s: %w", id, err)
	}
	if len(h) == 0 {
		return nil, errRaceOver
	}
	c := newAPIClient(Endpoints{Auth: h["auth"], API: h["api"]}, h["client_id"], h["client_secret"])
	r := &nodeRun{client: c, tokens: &redisTokens{n: n, run: id, client: c}}
	n.runs[id] = r
	return r, nil
}

// notice returns a channel closed at the next notice on a token channel.
func (n *node) notice(channel string) <-chan struct{} {
	n.wmu.Lock()
	defer n.wmu.Unlock()
	ch, ok := n.waits[channel]
	if !ok {
		ch = make(chan struct{})
		n.waits[channel] = ch
	}
	return ch
}

func (n *node) wake(channel string) {
	n.wmu.Lock()
	defer n.wmu.Unlock()
	if ch, ok := n.waits[channel]; ok {
		close(ch)
		delete(n.waits, channel)
	}
}

// redisTokens is the distributed token: stored once per race with the
// token's expiry; the node that wins SET NX on the lock fetches it and
// announces it, the others wait for the announcement. A node keeps the
// token it read until it is due for renewal or the service refuses it.
type redisTokens struct {
	n      *node
	run    string
	client *apiClient
	stored string    // the value in Redis: "<reuse-until unix ms> <token>"
	tok    string    // the token itself
	until  time.Time // reuse it until then
}

// tokenLockTTL frees the lock if its holder dies mid-fetch.
const tokenLockTTL = 10 * time.Second

func (r *redisTokens) Token(ctx context.Context, st *flowStats) (string, error) {
	if r.tok != "" && time.Now().Before(r.until) {
		return r.tok, nil
	}
	rdb := r.n.rdb
	for {
		notice := r.n.notice(chanToken(r.run))
		v, err := rdb.Get(ctx, keyToken(r.run)).Result()
		if err == nil && r.keep(v) {
			return r.tok, nil
		}
		if err != nil && !errors.Is(err, redis.Nil) {
			return "", fmt.Errorf("read token: %w", err)
		}
		won, err := rdb.SetNX(ctx, keyTokenLock(r.run), r.n.id, tokenLockTTL).Result()
		if err != nil {
			return "", fmt.Errorf("take token lock: %w", err)
		}
		if won {
			// The holder before us may have stored the token between our
			// read and our lock: look again before fetching another.
			if v, err := rdb.Get(ctx, keyToken(r.run)).Result(); err == nil && r.keep(v) {
				deleteIfScript.Run(context.Background(), rdb, []string{keyTokenLock(r.run)}, r.n.id)
				return r.tok, nil
			}
			return r.fetch(ctx, st)
		}
		// Someone else is fetching; the poll is only a fallback in case
		// the notice is lost with its sender.
		t := time.NewTimer(tokenLockTTL / 20)
		select {
		case <-notice:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return "", ctx.Err()
		}
		t.Stop()
	}
}

// keep caches a stored token if it is still good to use.
func (r *redisTokens) keep(v string) bool {
	ms, tok, ok := strings.Cut(v, " ")
	until, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || tok == "" || time.Now().After(time.UnixMilli(until)) {
		return false
	}
	r.stored, r.tok, r.until = v, tok, time.UnixMilli(until)
	return true
}

func (r *redisTokens) fetch(ctx context.Context, st *flowStats) (string, error) {
	rdb := r.n.rdb
	defer deleteIfScript.Run(context.Background(), rdb, []string{keyTokenLock(r.run)}, r.n.id)
	tok, exp, err := r.client.fetchToken(ctx, st)
	if err != nil {
		return "", err
	}
	until := reuseUntil(exp)
	v := strconv.FormatInt(until.UnixMilli(), 10) + " " + tok
	if ttl := time.Until(until); ttl > 0 {
		if err := rdb.Set(ctx, keyToken(r.run), v, ttl).Err(); err != nil {
			return "", fmt.Errorf("store token: %w", err)
		}
		rdb.Publish(ctx, chanToken(r.run), "1")
	}
	r.stored, r.tok, r.until = v, tok, until
	return tok, nil
}

func (r *redisTokens) Stale(ctx context.Context, tok string) {
	if r.tok == tok {
		deleteIfScript.Run(ctx, r.n.rdb, []string{keyToken(r.run)}, r.stored)
		r.tok, r.stored = "", ""
	}
}

// blockFor is a blocking command's timeout in (fractional) seconds, which
// Redis 6 and later accept; the client library's helpers round it up to
// a whole second, too coarse to notice a dead node or a stop in time.
func blockFor(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// runNodeRole is a node started by a race: it stops when the
// parent closes its stdin, and says "ready <id>" on stdout when it is.
func runNodeRole(args []string) int {
	fs := flag.NewFlagSet(roleNode, flag.ContinueOnError)
	url := fs.String("redis", "", "shared Redis")
	id := fs.String("id", "", "node id")
	lease := fs.Duration("lease", defaultLease, "heartbeat lease")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	err := RunNode(ctx, NodeOptions{Redis: *url, ID: *id, Lease: *lease, Ready: func(id string) {
		fmt.Fprintf(os.Stdout, "ready %s\n", id)
	}})
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "fishial node: %v\n", err)
		return 1
	}
	return 0
}

// redisClient returns the race's Redis: the embedded one, started on
// first use, or the server --redis names.
func (r *race) redisClient(ctx context.Context) (*redis.Client, string, error) {
	r.redisMu.Lock()
	defer r.redisMu.Unlock()
	if r.rdb != nil {
		return r.rdb, r.redisURL, nil
	}
	url := r.cfg.Redis
	if url == "" || url == "embedded" {
		m, err := redisconn.StartEmbedded() // leases and token expiry run on the wall clock
		if err != nil {
			return nil, "", fmt.Errorf("start embedded Redis: %w", err)
		}
		r.mini = m
		url = m.URL()
	}
	rdb, err := redisconn.NewClient(url, raceRedis)
	if err != nil {
		return nil, "", fmt.Errorf("--redis %q: %v", url, err)
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, "", fmt.Errorf("reach Redis at %s: %w; start redis-server there or use --redis embedded", url, err)
	}
	r.rdb, r.redisURL = rdb, url
	return rdb, url, nil
}

// reapDeadNodes moves the jobs of nodes whose lease ran out back to the queue and
// returns how many of them belong to run.
func reapDeadNodes(ctx context.Context, rdb *redis.Client, run string) (int, error) {
	ids, err := rdb.SMembers(ctx, keyNodes).Result()
	if err != nil {
		return 0, err
	}
	mine := 0
	for _, id := range ids {
		alive, err := rdb.Exists(ctx, keyAlive(id)).Result()
		if err != nil {
			return mine, err
		}
		if alive == 1 {
			continue
		}
		for {
			raw, err := rdb.LMove(ctx, keyProcessing(id), keyQueue, "RIGHT", "LEFT").Result()
			if errors.Is(err, redis.Nil) {
				break
			}
			if err != nil {
				return mine, err
			}
			var job photoJob
			if json.Unmarshal([]byte(raw), &job) == nil && job.Run == run {
				mine++
			}
		}
		rdb.SRem(ctx, keyNodes, id)
		rdb.Del(ctx, keyNode(id))
	}
	return mine, nil
}

// runDistributed starts the nodes, queues the photos, collects results
// from Redis, and takes back the jobs of nodes that die.
func (r *race) runDistributed(ctx context.Context, t *tally) (cpu time.Duration, requeued int, err error) {
	rdb, url, err := r.redisClient(ctx)
	if err != nil {
		return 0, 0, err
	}
	run := randomID(8)
	id, secret := r.mock.Credentials()
	// Nodes reach the API by its remote door: they stand for machines
	// elsewhere, and pay the study's network overhead per image there.
	if err := rdb.HSet(ctx, keyRun(run), "auth", r.mock.RemoteURL(), "api", r.mock.RemoteURL(),
		"client_id", id, "client_secret", secret, "images", r.cfg.Images).Err(); err != nil {
		return 0, 0, fmt.Errorf("publish the race in Redis: %w", err)
	}
	jobs := r.jobs(run)
	payloads := make([]any, len(jobs))
	for i, j := range jobs {
		b, _ := json.Marshal(j)
		payloads[i] = string(b)
	}
	defer func() {
		// Whatever is left of this race in Redis goes: stray jobs (a
		// presumed-dead node's image done twice) and the race's keys.
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, p := range payloads {
			rdb.LRem(c, keyQueue, 0, p)
		}
		rdb.Del(c, keyRun(run), keyDone(run), keyResults(run), keyErrors(run), keyToken(run), keyTokenLock(run))
	}()

	var nodes []*child
	ready := make(chan string, r.cfg.Nodes)
	exits := make(chan *child, r.cfg.Nodes)
	for i := range r.cfg.Nodes {
		ch, err := startChild(fmt.Sprintf("node %d", i+1), roleNode,
			"--redis", url, "--id", fmt.Sprintf("%s-node-%d", run[:6], i+1), "--lease", r.lease.String())
		if err != nil {
			killChildren(nodes)
			return 0, 0, err
		}
		nodes = append(nodes, ch)
		go func() {
			sc := bufio.NewScanner(ch.stdout)
			for sc.Scan() {
				if id, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
					ready <- id
				}
			}
			ch.reap()
			exits <- ch
		}()
	}
	abort := func(err error) (time.Duration, int, error) {
		killChildren(nodes)
		return 0, requeued, err
	}
	timeout := time.NewTimer(readyTimeout)
	defer timeout.Stop()
	for n := 0; n < len(nodes); {
		select {
		case <-ready:
			n++
		case ch := <-exits:
			return abort(fmt.Errorf("before it was ready: %w", ch.failure()))
		case <-timeout.C:
			return abort(fmt.Errorf("%d of %d nodes ready after %v; the machine may be overloaded", n, len(nodes), readyTimeout))
		case <-ctx.Done():
			return abort(ctx.Err())
		}
	}

	t.begin()
	if err := rdb.RPush(ctx, keyQueue, payloads...).Err(); err != nil {
		return abort(fmt.Errorf("queue the photos: %w", err))
	}
	alive := len(nodes)
	nextReap := time.Now().Add(r.lease / 4)
	for {
		select {
		case <-t.complete:
			return stopChildren(nodes), requeued, nil
		case <-ctx.Done():
			return abort(ctx.Err())
		case ch := <-exits:
			// A node died (killed, crashed): its lease runs out and its
			// job is taken back below; only losing them all is fatal.
			if alive--; alive == 0 {
				return abort(fmt.Errorf("every node exited with %d of %d images recognised; last: %v", t.count(), t.total, ch.failure()))
			}
		default:
		}
		kv, err := rdb.Do(ctx, "BLPOP", keyResults(run), keyErrors(run), blockFor(100*time.Millisecond)).StringSlice()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			if ctx.Err() != nil {
				return abort(ctx.Err())
			}
			return abort(fmt.Errorf("read results: %w", err))
		case kv[0] == keyErrors(run):
			return abort(errors.New(kv[1]))
		default:
			var res imageResult
			if err := json.Unmarshal([]byte(kv[1]), &res); err != nil {
				return abort(fmt.Errorf("unreadable result %.80q: %w", kv[1], err))
			}
			if err := t.add(res); err != nil {
				return abort(err)
			}
		}
		if time.Now().After(nextReap) {
			n, err := reapDeadNodes(ctx, rdb, run)
			if err != nil && ctx.Err() == nil {
				return abort(fmt.Errorf("take back jobs of dead nodes: %w", err))
			}
			requeued += n
			nextReap = time.Now().Add(r.lease / 4)
		}
	}
}
