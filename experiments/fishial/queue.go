package fishial

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
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
//	run:<id>:results / :errors
//	            a node pushes a result in the transaction that lets go
//	            of its job; if a slow node and its replacement both
//	            finish an image, the race keeps the first result
//	run:<id>:token (+:lock, channel :token-ready)
//	            one token per race, fetched by the node that wins SET NX
//	            on the lock, stored with the token's expiry and
//	            published with it
//
// Every conditional step is a WATCH transaction rather than a script:
// the embedded Redis runs each script in a fresh interpreter, which
// costs more than the round trips it saves.
const keyPrefix = "perflab:fishial:"

var (
	keyQueue = keyPrefix + "queue"
	keyNodes = keyPrefix + "nodes"
)

func keyNode(id string) string       { return keyPrefix + "node:" + id }
func keyProcessing(id string) string { return keyNode(id) + ":processing" }
func keyAlive(id string) string      { return keyNode(id) + ":alive" }
func keyRun(run string) string       { return keyPrefix + "run:" + run }
func keyResults(run string) string   { return keyRun(run) + ":results" }
func keyErrors(run string) string    { return keyRun(run) + ":errors" }
func keyToken(run string) string     { return keyRun(run) + ":token" }
func keyTokenLock(run string) string { return keyRun(run) + ":token:lock" }
func chanToken(run string) string    { return keyRun(run) + ":token-ready" }

// resultTTL bounds how long a result pushed for a race that is already
// over (a presumed-dead node's late one) stays in Redis.
const resultTTL = time.Hour

// recordResult pushes a node's result for its job and lets go of the
// job, in one transaction.
func recordResult(ctx context.Context, rdb *redis.Client, run, node, job, result string) error {
	_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, keyResults(run), result)
		p.PExpire(ctx, keyResults(run), resultTTL)
		p.LRem(ctx, keyProcessing(node), 1, job)
		return nil
	})
	return err
}

// requeue gives a job back to the head of the queue, if its node still
// holds it.
func requeue(ctx context.Context, rdb *redis.Client, node, job string) error {
	return watched(ctx, rdb, keyProcessing(node), func(tx *redis.Tx) (func(redis.Pipeliner), error) {
		pos, err := tx.LPos(ctx, keyProcessing(node), job, redis.LPosArgs{}).Result()
		if err != nil || pos < 0 {
			return nil, err
		}
		return func(p redis.Pipeliner) {
			p.LRem(ctx, keyProcessing(node), 1, job)
			p.LPush(ctx, keyQueue, job)
		}, nil
	})
}

// deleteIf deletes key only if it still holds value.
func deleteIf(ctx context.Context, rdb *redis.Client, key, value string) error {
	return watched(ctx, rdb, key, func(tx *redis.Tx) (func(redis.Pipeliner), error) {
		if v, err := tx.Get(ctx, key).Result(); err != nil || v != value {
			return nil, err
		}
		return func(p redis.Pipeliner) { p.Del(ctx, key) }, nil
	})
}

// watched runs a check-then-write on key: check reads under WATCH and
// returns the writes to make (nil: none); if key changes before they
// run, the check runs again, up to watchTries times. A missing key is no
// error.
func watched(ctx context.Context, rdb *redis.Client, key string, check func(*redis.Tx) (func(redis.Pipeliner), error)) error {
	var err error
	for range watchTries {
		err = rdb.Watch(ctx, func(tx *redis.Tx) error {
			write, err := check(tx)
			if err != nil || write == nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				write(p)
				return nil
			})
			return err
		}, key)
		switch {
		case errors.Is(err, redis.TxFailedErr):
			continue
		case errors.Is(err, redis.Nil):
			return nil
		}
		return err
	}
	return fmt.Errorf("%s kept changing under %d attempts to update it: %w", key, watchTries, err)
}

// watchTries bounds a check-then-write's attempts on a key others keep
// changing.
const watchTries = 100

// blockFor is a blocking command's timeout in (fractional) seconds, which
// Redis 6 and later accept; the client library's helpers round it up to
// a whole second, too coarse to notice a dead node or a stop in time.
func blockFor(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

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
