package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// tasksMain is the task worker, the twin's Celery: it takes like and
// unlike tasks off the Redis list, applies them to the database and
// deletes the cached likes list.
func tasksMain([]string) int {
	logger := log.New(os.Stderr, fmt.Sprintf("tasks pid %d: ", os.Getpid()), log.LstdFlags|log.Lmicroseconds)
	quietRedis(os.Stderr)
	sigs := childSignals()
	spec, err := readSpec()
	if err != nil {
		logger.Print(err)
		return 1
	}
	b, err := mapBoard(os.NewFile(fdTaskBord, "board"))
	if err != nil {
		logger.Print(err)
		return 1
	}
	st, err := openStore(spec.DB)
	if err != nil {
		logger.Print(err)
		return 1
	}
	rdb, err := newRedisClient(spec.Redis, 2)
	if err != nil {
		logger.Print(err)
		return 1
	}
	tw := &taskWorker{board: b, store: st, rdb: rdb, log: logger}
	stopCPU := trackCPU(b, taskSlot)
	// A stop waits for the task being applied, never for the queue.
	go func() {
		<-sigs
		tw.applying.Lock()
		stopCPU()
		os.Exit(0)
	}()
	fmt.Println(readyLine)
	tw.run()
	return 0
}

type taskWorker struct {
	board    *board
	store    *store
	rdb      *redis.Client
	log      *log.Logger
	applying sync.Mutex
	threads  int32
	// dirty is set when a task changed the database but the cache key
	// could not be deleted.
	dirty bool
}

// popTimeout bounds one wait on the queue.
const popTimeout = time.Second

func (tw *taskWorker) run() {
	ctx := context.Background()
	backoff := 50 * time.Millisecond
	for {
		k := tw.board.knobs()
		tw.useProfile(k)
		if tw.dirty && tw.rdb.Del(ctx, cacheKey).Err() == nil {
			tw.dirty = false
		}
		res, err := tw.rdb.BRPop(ctx, popTimeout, taskQueue).Result()
		switch {
		case errors.Is(err, redis.Nil):
			continue
		case err != nil:
			tw.board.inc(taskSlot, sRedisErrors)
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		tw.applying.Lock()
		tw.apply(ctx, k, res[1])
		tw.applying.Unlock()
	}
}

// apply runs one task as the study's Celery task did: get the logbook,
// change its likes, delete the cached list.
func (tw *taskWorker) apply(ctx context.Context, k knobs, msg string) {
	costs := k.costs()
	burn(costs.Task)
	var t task
	if err := json.Unmarshal([]byte(msg), &t); err != nil {
		tw.fail("undecodable task %q: %v", msg, err)
		return
	}
	for _, step := range []func() error{
		func() error {
			ok, err := tw.store.exists(ctx, "logbookExists", t.LogbookID)
			if err == nil && !ok {
				err = fmt.Errorf("logbook %d does not exist", t.LogbookID)
			}
			return err
		},
		func() error { return applyTask(ctx, tw.store, t) },
	} {
		tw.board.inc(taskSlot, sDBQueries)
		burn(costs.Query)
		if err := step(); err != nil {
			tw.fail("%s(%d, %d): %v", t.Name, t.LogbookID, t.UserID, err)
			return
		}
	}
	if err := tw.rdb.Del(ctx, cacheKey).Err(); err != nil {
		tw.board.inc(taskSlot, sRedisErrors)
		tw.dirty = true
	}
	tw.board.inc(taskSlot, sTasksApplied)
}

func (tw *taskWorker) fail(format string, a ...any) {
	tw.board.inc(taskSlot, sTaskFailures)
	tw.log.Printf("task failed: "+format, a...)
}

func (tw *taskWorker) useProfile(k knobs) {
	if want := threadsFor(k); tw.threads != want {
		setThreads(want)
		tw.threads = want
	}
}
