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
	st, err := openStore(spec.Dialect, spec.DB)
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
	// requeued is set once what a task worker that died held is back on
	// the queue; until then no new task is taken, so none overtakes it.
	requeued bool
	// held is the task taken off the queue whose processing entry is not
	// removed yet.
	held string
	// dirty is set from a task's commit until the cached list is
	// invalidated.
	dirty bool
}

// popTimeout bounds one wait on the queue.
const popTimeout = time.Second

// The task worker's queue is reliable, as Celery's with acks_late: a
// task moves from the queue to the processing list in one step (BLMOVE)
// and leaves it only once its change is committed and the cached list
// invalidated. A task worker killed in between leaves the task there,
// and the next one puts it back at the head of the queue before taking
// any other, so tasks keep their order and nothing is lost. A task can
// then be applied twice (killed after the commit, before the removal),
// which changes nothing: a like inserts a row unless it exists, an
// unlike deletes it if it does, and no later task of the same user and
// logbook can have run in between.
func (tw *taskWorker) run() {
	ctx := context.Background()
	backoff := 50 * time.Millisecond
	for {
		k := tw.board.knobs()
		tw.useProfile(k)
		if err := tw.step(ctx, k); err != nil {
			tw.board.inc(taskSlot, sRedisErrors)
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
	}
}

// step does the queue's next piece of work: put back what a dead task
// worker held; or take a task and apply it; then invalidate the cached
// list and let go of the task. Each part is done once; an error from
// Redis is returned and step is called again to carry on from there.
func (tw *taskWorker) step(ctx context.Context, k knobs) error {
	if !tw.requeued {
		n, err := requeueHeld(ctx, tw.rdb)
		if err != nil {
			return err
		}
		if n > 0 {
			tw.log.Printf("put %d task(s) a stopped task worker held back on the queue", n)
		}
		tw.requeued = true
	}
	if tw.held == "" {
		msg, err := tw.rdb.BLMove(ctx, taskQueue, taskProcessing, "RIGHT", "LEFT", popTimeout).Result()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		if err != nil {
			return err
		}
		tw.held = msg
		tw.applying.Lock()
		tw.dirty = tw.apply(ctx, k, msg)
		// Celery's Django fix-up closes the task's connection after
		// it, as a request's end does.
		tw.store.release(k.persistent)
		tw.applying.Unlock()
	}
	if tw.dirty {
		if err := invalidateLikes(ctx, tw.rdb); err != nil {
			return err
		}
		tw.dirty = false
		tw.board.inc(taskSlot, sTasksApplied)
	}
	if err := tw.rdb.LRem(ctx, taskProcessing, 1, tw.held).Err(); err != nil {
		return err
	}
	tw.held = ""
	return nil
}

// requeueHeld moves every task on the processing list back to the head
// of the queue, the oldest nearest the head, and says how many it moved.
func requeueHeld(ctx context.Context, rdb *redis.Client) (int, error) {
	for n := 0; ; n++ {
		err := rdb.LMove(ctx, taskProcessing, taskQueue, "LEFT", "RIGHT").Err()
		if errors.Is(err, redis.Nil) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// apply runs one task as the study's Celery task did: get the logbook,
// change its likes (step then invalidates the cached list and counts the
// task applied). It reports whether the change is committed; a task that
// cannot be applied is counted as failed, logged and dropped.
func (tw *taskWorker) apply(ctx context.Context, k knobs, msg string) bool {
	costs := k.costs()
	burn(costs.Task)
	var t task
	if err := json.Unmarshal([]byte(msg), &t); err != nil {
		tw.fail("undecodable task %q: %v", msg, err)
		return false
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
			return false
		}
	}
	return true
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
