package fishial

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"perflab/server/redisconn"
)

// The distributed strategy, the race's side: it starts the coordinator
// (the Redis, unless the race has one, and the reaper of dead nodes),
// publishes the race in Redis (queue.go has the layout), starts the
// nodes, fills the queue and collects the results. The nodes' side is in
// node.go.

// runDistributed starts the coordinator and the nodes, queues the photos
// and collects the results from Redis.
func (r *race) runDistributed(ctx context.Context, t *tally) (cpu cpuTimes, err error) {
	failed := make(chan error, 4)
	fail := func(err error) {
		select {
		case failed <- err:
		default:
		}
	}
	run := randomID(8)
	redisURL := ""
	if !r.cfg.embeddedRedis() {
		redisURL = r.cfg.Redis
	}
	coord, err := startCoordinator(ctx, coordConfig{Kind: coordRedis, Redis: redisURL, Run: run, Lease: r.lease}, t, fail)
	if err != nil {
		return cpu, err
	}
	stopCoordinator := func() time.Duration { return stopChildren([]*child{coord.child}) }
	rdb, err := connectRedis(ctx, coord.addr)
	if err != nil {
		stopCoordinator()
		return cpu, err
	}
	defer rdb.Close()
	payloads, err := r.publish(ctx, rdb, run)
	if err != nil {
		stopCoordinator()
		return cpu, err
	}
	// The race's keys go before its Redis does.
	finish := func(nodes []*child, kill bool) cpuTimes {
		if kill {
			killChildren(nodes)
		} else {
			cpu.workers = stopChildren(nodes)
		}
		clearRun(rdb, run, payloads)
		cpu.coordinator = stopCoordinator()
		return cpu
	}

	ready := make(chan struct{}, r.cfg.Nodes)
	exits := make(chan *child, r.cfg.Nodes)
	nodes, err := r.startNodes(coord.addr, run, ready, exits)
	if err != nil {
		return finish(nil, true), err
	}
	if err := awaitReady(ctx, len(nodes), "nodes", ready, exits, failed); err != nil {
		return finish(nodes, true), err
	}
	t.begin()
	if err := rdb.RPush(ctx, keyQueue, payloads...).Err(); err != nil {
		return finish(nodes, true), fmt.Errorf("queue the photos: %w", err)
	}
	if err := r.collect(ctx, t, rdb, run, len(nodes), exits, failed); err != nil {
		return finish(nodes, true), err
	}
	return finish(nodes, false), nil
}

// publish writes the race where its nodes look for it, under run: the
// API's address and credentials. It returns the race's photos as queue
// payloads.
func (r *race) publish(ctx context.Context, rdb *redis.Client, run string) ([]any, error) {
	id, secret := r.mock.Credentials()
	// Nodes reach the API by its remote door: they stand for machines
	// elsewhere, and pay the study's network overhead per image there.
	if err := rdb.HSet(ctx, keyRun(run), "auth", r.mock.RemoteURL(), "api", r.mock.RemoteURL(),
		"client_id", id, "client_secret", secret, "images", r.cfg.Images).Err(); err != nil {
		return nil, fmt.Errorf("publish the race in Redis: %w", err)
	}
	jobs := r.jobs(run)
	payloads := make([]any, len(jobs))
	for i, j := range jobs {
		b, _ := json.Marshal(j)
		payloads[i] = string(b)
	}
	return payloads, nil
}

// clearRun removes whatever is left of a race in Redis: stray jobs (a
// presumed-dead node's image done twice) and the race's keys.
func clearRun(rdb *redis.Client, run string, payloads []any) {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, p := range payloads {
		rdb.LRem(c, keyQueue, 0, p)
	}
	rdb.Del(c, keyRun(run), keyResults(run), keyErrors(run), keyToken(run), keyTokenLock(run))
}

// startNodes starts the race's nodes. Each sends on ready once it has
// joined the queue, and itself on exits once it has exited and been
// reaped.
func (r *race) startNodes(url, run string, ready chan<- struct{}, exits chan<- *child) ([]*child, error) {
	var nodes []*child
	for i := range r.cfg.Nodes {
		ch, err := startChild(fmt.Sprintf("node %d", i+1), roleNode,
			"--redis", url, "--id", fmt.Sprintf("%s-node-%d", run[:6], i+1), "--lease", r.lease.String(), "--race", run)
		if err != nil {
			killChildren(nodes)
			return nil, err
		}
		nodes = append(nodes, ch)
		go func() {
			sc := bufio.NewScanner(ch.stdout)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "ready ") {
					ready <- struct{}{}
				}
			}
			ch.reap()
			exits <- ch
		}()
	}
	return nodes, nil
}

// collect records the race's results as the nodes push them, until
// every image is in. A node that dies is not fatal (the coordinator
// gives its job to another); losing them all is, as is an error the
// coordinator reports.
func (r *race) collect(ctx context.Context, t *tally, rdb *redis.Client, run string, nodes int, exits <-chan *child, failed <-chan error) error {
	alive := nodes
	for {
		select {
		case <-t.complete:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case err := <-failed:
			return err
		case ch := <-exits:
			if alive--; alive == 0 {
				return fmt.Errorf("every node exited with %d of %d images recognised; last: %v", t.count(), t.total, ch.failure())
			}
		default:
		}
		if err := takeResult(ctx, t, rdb, run); err != nil {
			return err
		}
	}
}

// takeResult waits a moment for the race's next result or error and
// records it; an error a node reported ends the race.
func takeResult(ctx context.Context, t *tally, rdb *redis.Client, run string) error {
	kv, err := rdb.Do(ctx, "BLPOP", keyResults(run), keyErrors(run), blockFor(100*time.Millisecond)).StringSlice()
	switch {
	case errors.Is(err, redis.Nil):
		return nil
	case err != nil:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("read results: %w", err)
	case kv[0] == keyErrors(run):
		return errors.New(kv[1])
	}
	var res imageResult
	if err := json.Unmarshal([]byte(kv[1]), &res); err != nil {
		return fmt.Errorf("unreadable result %.80q: %w", kv[1], err)
	}
	if t.has(res.Image) {
		return nil // a node presumed dead finished it after all: the first result stands
	}
	return t.add(res)
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

// connectRedis returns a client of the race's Redis, once it answers.
func connectRedis(ctx context.Context, url string) (*redis.Client, error) {
	rdb, err := redisconn.NewClient(url, raceRedis)
	if err != nil {
		return nil, fmt.Errorf("--redis %q: %v", url, err)
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("reach Redis at %s: %w; start redis-server there or use --redis embedded", url, err)
	}
	return rdb, nil
}
