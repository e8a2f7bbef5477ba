package fishial

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"perflab/server/redisconn"
)

// The coordinator is what a strategy's workers share, run in a process
// of its own so that what coordinating them costs is measured apart, as
// that process's CPU, and not lost in the race's parent (which runs the
// mock API, the photo server and the dashboard):
//
//	queue  the multiprocess strategy's job queue and token lock, served
//	       to each of its processes on a loopback connection
//	redis  the distributed strategy's embedded Redis (none when the race
//	       is given a Redis, which then runs outside perflab and is not
//	       counted), and the reaper that gives the jobs of dead nodes
//	       back to the queue
//
// The parent starts it, reads "ready" with its address, gives a queue
// its jobs when the race begins, and closes its stdin when the race is
// over; the coordinator then leaves.
const (
	coordQueue = "queue"
	coordRedis = "redis"
)

// coordConfig is the coordinator's first line from the parent.
type coordConfig struct {
	Kind  string        `json:"kind"`
	Redis string        `json:"redis,omitempty"` // redis: the race's Redis; empty: start one here
	Run   string        `json:"run,omitempty"`   // redis: the race whose taken-back jobs are counted
	Lease time.Duration `json:"lease,omitempty"` // redis: a node silent this long is dead
}

// runCoordinatorRole is a coordinator process.
func runCoordinatorRole(args []string) int {
	parent := newLink(os.Stdin, os.Stdout)
	first, err := parent.receive()
	if err != nil || first.Op != "coordinate" || first.Coordinate == nil {
		fmt.Fprintf(os.Stderr, "fishial coordinator: expected a coordinate line from the parent (%v)\n", err)
		return 2
	}
	switch cfg := *first.Coordinate; cfg.Kind {
	case coordQueue:
		err = serveQueue(parent)
	case coordRedis:
		err = serveRedis(parent, cfg)
	default:
		err = fmt.Errorf("unknown kind %q", cfg.Kind)
	}
	if err != nil {
		parent.send(linkMsg{Op: "error", Error: err.Error()})
		fmt.Fprintf(os.Stderr, "fishial coordinator: %v\n", err)
		return 1
	}
	return 0
}

// serveQueue serves the multiprocess queue and token lock until the
// parent closes the link.
func serveQueue(parent *link) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen on loopback: %w", err)
	}
	defer l.Close()
	queue, lock, gate := &jobQueue{}, newTokenLock(), make(chan struct{})
	if err := parent.send(linkMsg{Op: "ready", Addr: l.Addr().String()}); err != nil {
		return err
	}
	go func() {
		for who := 0; ; who++ {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				if err := serveQueueConn(conn, who, queue, lock, gate); err != nil {
					parent.send(linkMsg{Op: "error", Error: err.Error()})
				}
			}()
		}
	}()
	for opened := false; ; {
		m, err := parent.receive()
		if err != nil {
			return nil // the race is over
		}
		if m.Op == "jobs" && !opened {
			queue.put(m.Jobs)
			close(gate)
			opened = true
		}
	}
}

// serveQueueConn answers one process: jobs (once the race has begun) and
// the token lock, which it lets go of if the process leaves holding it.
func serveQueueConn(conn net.Conn, who int, queue *jobQueue, lock *tokenLock, gate <-chan struct{}) error {
	defer conn.Close()
	defer lock.release(who)
	l := newLink(conn, conn)
	for {
		m, err := l.receive()
		if err != nil {
			return nil // the process left
		}
		switch m.Op {
		case "next":
			<-gate
			err = l.send(linkMsg{Op: "jobs", Jobs: queue.take(m.N)})
		case "token":
			tok, fetch := lock.acquire(who)
			err = l.send(linkMsg{Op: "token", Token: tok, Fetch: fetch})
		case "token-set":
			lock.set(who, m.Token, time.UnixMilli(m.Until))
		case "token-release":
			lock.release(who)
		case "token-stale":
			lock.stale(m.Token)
		default:
			return fmt.Errorf("process %d sent unknown message %q", who+1, m.Op)
		}
		if err != nil {
			return nil // the process left mid-answer
		}
	}
}

// serveRedis runs the distributed strategy's Redis (unless the race has
// its own) and takes back the jobs of dead nodes until the parent closes
// the link.
func serveRedis(parent *link, cfg coordConfig) error {
	url := cfg.Redis
	if url == "" {
		m, err := redisconn.StartEmbedded() // leases and token expiry run on the wall clock
		if err != nil {
			return fmt.Errorf("start embedded Redis: %w", err)
		}
		defer m.Close()
		url = m.URL()
	}
	rdb, err := redisconn.NewClient(url, raceRedis)
	if err != nil {
		return fmt.Errorf("--redis %q: %v", url, err)
	}
	defer rdb.Close()
	if err := parent.send(linkMsg{Op: "ready", Addr: url}); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		defer cancel()
		for {
			if _, err := parent.receive(); err != nil {
				return // the race is over
			}
		}
	}()
	tick := time.NewTicker(cfg.Lease / 4)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		n, err := reapDeadNodes(ctx, rdb, cfg.Run)
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("take back jobs of dead nodes: %w", err)
		}
		if n > 0 {
			parent.send(linkMsg{Op: "requeued", N: n})
		}
	}
}

// coordinator is the parent's end of a coordinator process.
type coordinator struct {
	*child
	addr string // queue: host:port; redis: redis://host:port
}

// startCoordinator starts a coordinator and waits until it serves. What
// it says afterwards goes to t (jobs taken back from dead nodes) and to
// fail (its errors).
func startCoordinator(ctx context.Context, cfg coordConfig, t *tally, fail func(error)) (*coordinator, error) {
	ch, err := startChild(t.strategy+" coordinator", roleCoordinator)
	if err != nil {
		return nil, err
	}
	if err := ch.send(linkMsg{Op: "coordinate", Coordinate: &cfg}); err != nil {
		killChildren([]*child{ch})
		return nil, fmt.Errorf("%s: write config: %w", ch.name, err)
	}
	ready := make(chan string, 1)
	go ch.listen(fail, func(m linkMsg) {
		switch m.Op {
		case "ready":
			ready <- m.Addr
		case "requeued":
			t.addRequeued(m.N)
		case "error":
			fail(fmt.Errorf("%s: %s", ch.name, m.Error))
		default:
			fail(fmt.Errorf("%s sent unknown message %q", ch.name, m.Op))
		}
	})
	timeout := time.NewTimer(readyTimeout)
	defer timeout.Stop()
	select {
	case addr := <-ready:
		return &coordinator{child: ch, addr: addr}, nil
	case <-ch.exited:
		return nil, fmt.Errorf("before it was ready: %w", ch.failure())
	case <-timeout.C:
		err = fmt.Errorf("%s not ready after %v; the machine may be overloaded", ch.name, readyTimeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	killChildren([]*child{ch})
	return nil, err
}

// begin hands a queue its jobs: the race has begun.
func (c *coordinator) begin(jobs []photoJob) error {
	if err := c.send(linkMsg{Op: "jobs", Jobs: jobs}); err != nil {
		return fmt.Errorf("%s: write jobs: %w", c.name, err)
	}
	return nil
}

// jobQueue hands out a race's jobs.
type jobQueue struct {
	mu   sync.Mutex
	jobs []photoJob
}

func (q *jobQueue) put(jobs []photoJob) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, jobs...)
}

// take hands out up to n jobs (all of them for n <= 0).
func (q *jobQueue) take(n int) []photoJob {
	q.mu.Lock()
	defer q.mu.Unlock()
	if n <= 0 || n > len(q.jobs) {
		n = len(q.jobs)
	}
	out := q.jobs[:n:n]
	q.jobs = q.jobs[n:]
	return out
}

// tokenLock is the multiprocess strategy's shared token: a cache with a
// lock, held by the process fetching the token while the others wait.
type tokenLock struct {
	mu      sync.Mutex
	tok     string
	until   time.Time
	holder  int // -1: nobody is fetching
	changed chan struct{}
}

func newTokenLock() *tokenLock { return &tokenLock{holder: -1, changed: make(chan struct{})} }

// acquire returns the cached token, or fetch=true when the caller now
// holds the lock and must fetch it.
func (l *tokenLock) acquire(who int) (tok string, fetch bool) {
	for {
		l.mu.Lock()
		if l.tok != "" && time.Now().Before(l.until) {
			tok := l.tok
			l.mu.Unlock()
			return tok, false
		}
		if l.holder < 0 {
			l.holder = who
			l.mu.Unlock()
			return "", true
		}
		wait := l.changed
		l.mu.Unlock()
		<-wait
	}
}

func (l *tokenLock) broadcastLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *tokenLock) set(who int, tok string, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tok, l.until = tok, until
	if l.holder == who {
		l.holder = -1
	}
	l.broadcastLocked()
}

// release lets another process fetch: the holder failed or is gone.
func (l *tokenLock) release(who int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.holder == who {
		l.holder = -1
		l.broadcastLocked()
	}
}

func (l *tokenLock) stale(tok string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tok == tok {
		l.tok = ""
	}
}
