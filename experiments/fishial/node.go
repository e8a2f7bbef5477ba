package fishial

import (
	"context"
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

	"perflab/server/proc"
	"perflab/server/redisconn"
)

// defaultLease is the distributed nodes' heartbeat lease: short enough
// that a dead node's image is back in the queue within about a second.
const defaultLease = time.Second

// NodeOptions configure one distributed node.
type NodeOptions struct {
	Redis string        // redis://host:port of the shared queue
	ID    string        // unique node id; default host-pid-random
	Lease time.Duration // heartbeat lease; default 1 s
	// Race, if set, is a race the node prepares for before it is ready:
	// it reads the race's endpoints and opens its connection to the API
	// then, as a node that has served a while would have, rather than
	// on its first image.
	Race string
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
	n := &node{id: o.ID, rdb: rdb, lease: o.Lease, log: o.Log, runs: map[string]*nodeRun{}, waits: map[string]*tokenNotice{}}
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
			n.wake(m.Channel, m.Payload)
		}
	}()

	hbCtx, stopHB := context.WithCancel(context.Background())
	defer stopHB()
	go n.heartbeat(hbCtx)

	if o.Race != "" {
		r, err := n.run(ctx, o.Race)
		if err != nil {
			return fmt.Errorf("prepare for race %s: %w", o.Race, err)
		}
		r.client.warmUp(ctx, 1)
	}
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
	waits map[string]*tokenNotice // token channel -> its next notice
}

// tokenNotice is the next notice on a token channel: done is closed when
// it comes, and token is then the stored token it carried.
type tokenNotice struct {
	done  chan struct{}
	token string
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
	cpu := proc.CPUTime()
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
		requeue(context.Background(), n.rdb, n.id, raw)
		sleepCtx(ctx, time.Second)
		return
	}
	res, err := run.client.recognise(ctx, job, run.tokens, n.id)
	res.CPU = (proc.CPUTime() - cpu).Seconds()
	if err != nil {
		// Give the job back first, so it is not lost whatever happens next.
		requeue(context.Background(), n.rdb, n.id, raw)
		if ctx.Err() == nil {
			n.rdb.RPush(ctx, keyErrors(job.Run), fmt.Sprintf("node %s: %v", n.id, err))
		}
		return
	}
	b, _ := json.Marshal(res)
	if err := recordResult(context.Background(), n.rdb, job.Run, n.id, raw, string(b)); err != nil {
		fmt.Fprintf(n.log, "fishial node %s: record result of %s: %v\n", n.id, job.Name, err)
	}
	if len(n.runs) > 1 {
		n.forget(ctx, job.Run)
	}
}

// forget drops the races, other than keep, that have ended (their
// parent removed the race's key), with their clients' kept connections
// and any wait for their token:
// a node that serves race after race holds only those still running.
// It runs after a job's result is recorded, so that no image waits on it.
func (n *node) forget(ctx context.Context, keep string) {
	for id, r := range n.runs {
		if id == keep {
			continue
		}
		if k, err := n.rdb.Exists(ctx, keyRun(id)).Result(); err != nil || k > 0 {
			continue
		}
		r.client.http.CloseIdleConnections()
		delete(n.runs, id)
		n.wmu.Lock()
		delete(n.waits, chanToken(id)) // no notice will come
		n.wmu.Unlock()
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

// notice returns the next notice on a token channel.
func (n *node) notice(channel string) *tokenNotice {
	n.wmu.Lock()
	defer n.wmu.Unlock()
	tn, ok := n.waits[channel]
	if !ok {
		tn = &tokenNotice{done: make(chan struct{})}
		n.waits[channel] = tn
	}
	return tn
}

func (n *node) wake(channel, token string) {
	n.wmu.Lock()
	defer n.wmu.Unlock()
	if tn, ok := n.waits[channel]; ok {
		tn.token = token
		close(tn.done)
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
				deleteIf(context.Background(), rdb, keyTokenLock(r.run), r.n.id)
				return r.tok, nil
			}
			return r.fetch(ctx, st)
		}
		// Someone else is fetching; the poll is only a fallback in case
		// the notice is lost with its sender.
		t := time.NewTimer(tokenLockTTL / 20)
		select {
		case <-notice.done:
			if r.keep(notice.token) {
				t.Stop()
				return r.tok, nil
			}
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
	defer deleteIf(context.Background(), rdb, keyTokenLock(r.run), r.n.id)
	tok, exp, err := r.client.fetchToken(ctx, st)
	if err != nil {
		return "", err
	}
	until := reuseUntil(exp)
	v := strconv.FormatInt(until.UnixMilli(), 10) + " " + tok
	if ttl := time.Until(until); ttl > 0 {
		// Stored and announced at once; the announcement carries it, so
		// the nodes waiting for it need not read it.
		_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, keyToken(r.run), v, ttl)
			p.Publish(ctx, chanToken(r.run), v)
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("store token: %w", err)
		}
	}
	r.stored, r.tok, r.until = v, tok, until
	return tok, nil
}

func (r *redisTokens) Stale(ctx context.Context, tok string) {
	if r.tok == tok {
		deleteIf(ctx, r.n.rdb, keyToken(r.run), r.stored)
		r.tok, r.stored = "", ""
	}
}

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
	race := fs.String("race", "", "race to prepare for before saying ready")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	err := RunNode(ctx, NodeOptions{Redis: *url, ID: *id, Lease: *lease, Race: *race, Ready: func(id string) {
		fmt.Fprintf(os.Stdout, "ready %s\n", id)
	}})
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "fishial node: %v\n", err)
		return 1
	}
	return 0
}
