package fishial

import (
	"crypto/rand"
	"encoding/hex"
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
