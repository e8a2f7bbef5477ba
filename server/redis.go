package server

import (
	"context"
	"fmt"
	"io"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"perflab/server/redisconn"
)

// Redis keys, as the study's Django cache and Celery used them.
const (
	cacheKey = "logbook_likes"
	cacheTTL = 60 * time.Second
	// likesGeneration counts the committed changes to the likes; the
	// study had no such key (see likescache.go).
	likesGeneration = cacheKey + ":generation"
	// taskQueue is the list the like and unlike tasks travel on: pushed
	// on the left, taken from the right.
	taskQueue = "perflab:tasks"
	// taskProcessing holds the task the task worker has taken off the
	// queue until its change is in the database, so a task worker that
	// dies mid-task loses nothing: the next one puts it back.
	taskProcessing = taskQueue + ":processing"
)

// redisTimeout bounds every Redis call of a request: when Redis is gone
// the request must fall back to the database quickly, not hang.
const redisTimeout = 250 * time.Millisecond

// redisLogger sends go-redis's own messages somewhere other than the
// terminal, which belongs to the dashboard.
type redisLogger struct{ l *log.Logger }

func (r redisLogger) Printf(_ context.Context, format string, v ...any) { r.l.Printf(format, v...) }

// quietRedis routes go-redis's log to w (io.Discard in the parent).
func quietRedis(w io.Writer) {
	redis.SetLogger(redisLogger{log.New(w, "redis: ", log.LstdFlags)})
}

// newRedisClient connects to a redis:// URL with short timeouts and no
// retries, of commands or of dials: a failed call is counted and the
// caller falls back at once.
// RESP2 keeps the handshake to what both a real Redis and the embedded
// one understand.
func newRedisClient(rawURL string, poolSize int) (*redis.Client, error) {
	rdb, err := redisconn.NewClient(rawURL, redisconn.Options{
		PoolSize:  poolSize,
		Timeout:   redisTimeout,
		NoRetries: true,
		RESP2:     true,
	})
	if err != nil {
		return nil, fmt.Errorf("redis URL %q: %w", rawURL, err)
	}
	return rdb, nil
}
