package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"perflab/server/proc"
)

// Twin is a running reference server. Its methods are safe for concurrent
// use.
type Twin struct {
	started Config // as given to Start

	// mu serialises Apply and Close; cfg is guarded by cfgMu so Config
	// and Stats never wait for a resize.
	mu     sync.Mutex
	cfgMu  sync.RWMutex
	cfg    Config
	closed bool

	dir       string
	ownDir    bool     // dir was created here
	created   []string // files and folders created in a given DataDir
	staticDir string
	logPath   string
	logFile   *os.File
	log       *log.Logger

	// boardMu keeps Stats off the board while Close unmaps it; final is
	// what Stats returns from then on.
	boardMu   sync.RWMutex
	board     *board
	boardFile *os.File
	final     Stats
	bundle    *bundle
	secret    []byte
	// cpus are the cores the instance's processes run on; a process
	// (re)started takes them at its start.
	cpusMu sync.Mutex
	cpus   []int

	// The listening sockets the children serve on: the workers share
	// the app's, the edge and the embedded Redis have their own. The
	// parent keeps them open, so a child started again after a crash
	// answers at the same address.
	appLn     net.Listener
	appFile   *os.File
	appURL    string
	edgeLn    net.Listener
	edgeFile  *os.File
	edgeURL   string
	redisLn   net.Listener // nil with an external Redis
	redisFile *os.File
	redisURL  string
	rdb       *redis.Client

	workers  []*runner // slots 0..Workers-1
	tasks    *runner
	services []*runner // the embedded Redis (if any) and the edge

	// db is the database in force; starting the private cluster being
	// started, for its watchdog's spec.
	dbMu     sync.Mutex
	db       *twinDB
	starting *clusterSpec

	// isolated is set while this process is kept off the instance's cores.
	isolated bool

	quit chan struct{}
	bg   sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// Start validates c and brings the twin up: data, Redis, the edge, the
// task worker and c.Workers worker processes. It returns once every
// process serves.
func Start(ctx context.Context, c Config) (*Twin, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	quietRedisOnce.Do(func() { quietRedis(io.Discard) })
	t := &Twin{started: c, cfg: c, quit: make(chan struct{}), cpus: proc.CPUList(c.instanceCPUs())}
	ok := false
	defer func() {
		if !ok {
			t.shutdown()
		}
	}()
	if err := t.prepareData(); err != nil {
		return nil, err
	}
	if err := t.listen(); err != nil {
		return nil, err
	}
	var err error
	if t.rdb, err = newRedisClient(t.redisURL, 2); err != nil {
		return nil, err
	}
	t.secret = make([]byte, 32)
	rand.Read(t.secret)
	t.board.hdr(hKnobs).Store(knobsOf(c).word())
	t.board.hdr(hWorkers).Store(uint64(c.Workers))
	t.board.hdr(hStartedUnixNano).Store(uint64(time.Now().UnixNano()))
	t.board.hdr(hInstanceCPUs).Store(uint64(c.instanceCPUs()))
	if err := t.isolate(c.instanceCPUs()); err != nil {
		return nil, err
	}

	// Redis first: the task worker takes tasks from it at once.
	if t.redisLn != nil {
		redis, err := t.startSlots(ctx, []int{redisSlot})
		if err != nil {
			return nil, fmt.Errorf("start embedded redis: %w", err)
		}
		t.services = redis
	}
	t.bg.Add(1)
	go t.watchRedis()
	if t.db, err = t.openDB(ctx, c.DB); err != nil {
		return nil, err
	}
	t.bg.Add(1)
	go t.watchDB()

	slots := make([]int, c.Workers+2)
	for i := range slots {
		slots[i] = i
	}
	slots[c.Workers], slots[c.Workers+1] = taskSlot, edgeSlot
	runners, err := t.startSlots(ctx, slots)
	if err != nil {
		return nil, err
	}
	t.workers, t.tasks = runners[:c.Workers], runners[c.Workers]
	t.services = append(t.services, runners[c.Workers+1])
	t.log.Printf("twin up: app %s, edge %s, %d workers, redis %s, db %s, data %s", t.appURL, t.edgeURL, c.Workers, redactURL(t.redisURL), redactURL(c.DB), t.dir)
	ok = true
	return t, nil
}

var quietRedisOnce sync.Once

// prepareData makes the data directory, the log, the shared board and
// the SPA files.
func (t *Twin) prepareData() error {
	c := t.started
	var err error
	if c.DataDir == "" {
		if t.dir, err = os.MkdirTemp("", "perflab-twin-"); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
		t.ownDir = true
	} else {
		// Absolute, so children and messages agree whatever their
		// working directory.
		if t.dir, err = filepath.Abs(c.DataDir); err != nil {
			return fmt.Errorf("--data-dir %s: %w", c.DataDir, err)
		}
		if _, statErr := os.Stat(t.dir); os.IsNotExist(statErr) {
			t.ownDir = true
		}
		if err := os.MkdirAll(t.dir, 0o755); err != nil {
			return fmt.Errorf("--data-dir %s: %w", t.dir, err)
		}
	}
	t.logPath = filepath.Join(t.dir, "twin.log")
	t.noteCreated(t.logPath)
	if t.logFile, err = os.OpenFile(t.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err != nil {
		return t.noSpace(fmt.Errorf("open log: %w", err))
	}
	t.log = log.New(t.logFile, "twin: ", log.LstdFlags|log.Lmicroseconds)
	if t.board, t.boardFile, err = newBoard(t.dir); err != nil {
		return t.noSpace(err)
	}
	t.bundle = spaBundle()
	t.staticDir = filepath.Join(t.dir, "static")
	t.noteCreated(t.staticDir)
	if err := t.bundle.write(t.staticDir); err != nil {
		return t.noSpace(err)
	}
	return nil
}

// noteCreated records paths made inside a DataDir that was given, so
// Close removes them and nothing else there.
func (t *Twin) noteCreated(paths ...string) {
	if !t.ownDir {
		for _, p := range paths {
			if _, err := os.Stat(p); os.IsNotExist(err) {
				t.created = append(t.created, p)
			}
		}
	}
}

// watchRedis keeps the queue depth and Redis's reachability on the board,
// four times a second, so Stats never waits on Redis.
func (t *Twin) watchRedis() {
	defer t.bg.Done()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), redisTimeout)
		n, err := t.rdb.LLen(ctx, taskQueue).Result()
		cancel()
		if err == nil {
			t.board.hdr(hQueueDepth).Store(uint64(n))
			t.board.hdr(hRedisUp).Store(1)
		} else {
			t.board.hdr(hRedisUp).Store(0)
		}
		select {
		case <-t.quit:
			return
		case <-tick.C:
		}
	}
}

// listen opens the children's listening sockets: the app's (shared by
// the workers), the edge's and the embedded Redis's.
func (t *Twin) listen() error {
	var err error
	if t.appLn, t.appFile, err = listenFor("--addr", t.started.Addr); err != nil {
		return err
	}
	t.appURL = urlOf(t.appLn.Addr())
	if t.edgeLn, t.edgeFile, err = listenFor("--edge-addr", t.started.EdgeAddr); err != nil {
		return err
	}
	t.edgeURL = urlOf(t.edgeLn.Addr())
	t.redisURL = t.started.Redis
	if t.started.Redis == RedisEmbedded {
		if t.redisLn, t.redisFile, err = listenFor("the embedded redis", "127.0.0.1:0"); err != nil {
			return err
		}
		t.redisURL = "redis://" + t.redisLn.Addr().String()
	}
	return nil
}

// listenFor opens a listening socket for a child to serve on, and the
// file that hands it down.
func listenFor(flag, addr string) (net.Listener, *os.File, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w; pick a free port (0 picks one)", flag, addr, err)
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		ln.Close()
		return nil, nil, fmt.Errorf("%s %s: hand the socket to a child process: %w", flag, addr, err)
	}
	return ln, f, nil
}

// urlOf is the http URL a client on this machine uses for a listener.
func urlOf(a net.Addr) string {
	ta := a.(*net.TCPAddr)
	host := ta.IP.String()
	if ta.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(ta.Port))
}

// startSlots starts the given slots' processes side by side; if one
// fails, the others are stopped again.
func (t *Twin) startSlots(ctx context.Context, slots []int) ([]*runner, error) {
	runners := make([]*runner, len(slots))
	errs := make([]error, len(slots))
	var wg sync.WaitGroup
	for i, slot := range slots {
		wg.Go(func() { runners[i], errs[i] = t.startSlot(ctx, slot, roleOf(slot)) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		stopRunners(runners, stopGrace)
		return nil, err
	}
	return runners, nil
}

// stopRunners drains the slots side by side and waits until their
// processes are gone.
func stopRunners(rs []*runner, grace time.Duration) {
	for _, r := range rs {
		if r != nil {
			r.grace = grace
			close(r.stop)
		}
	}
	for _, r := range rs {
		if r != nil {
			<-r.done
		}
	}
}

// AppURL is the API's base URL (the SPA's too while offload is off).
func (t *Twin) AppURL() string { return t.appURL }

// EdgeURL is the edge listener's base URL; it serves the SPA whatever the
// offload setting.
func (t *Twin) EdgeURL() string { return t.edgeURL }

// SiteURL is where the SPA is served under the configuration in force.
func (t *Twin) SiteURL() string {
	if t.Config().Offload {
		return t.edgeURL
	}
	return t.appURL
}

// DataDir is the directory holding the database, SPA files and log.
func (t *Twin) DataDir() string { return t.dir }

// LogPath is the server log; children write there too.
func (t *Twin) LogPath() string { return t.logPath }

// Config is the configuration in force.
func (t *Twin) Config() Config {
	t.cfgMu.RLock()
	defer t.cfgMu.RUnlock()
	return t.cfg
}

func (t *Twin) setConfig(c Config) {
	t.cfgMu.Lock()
	t.cfg = c
	t.cfgMu.Unlock()
}

// Apply changes the live knobs and returns once they are in force: mode,
// cache, query, offload and profile for every request that starts after
// the call; a worker count by starting the new workers (ready to serve)
// or draining the removed ones (their requests in flight finish), after
// which every worker drops its keep-alive connections for a moment so the
// clients spread over the new set, as after a rolling reload; the
// instance's CPUs by moving every process's threads; the database by
// making the new one ready and restarting the workers and the task
// worker on it. Listen addresses, Redis and the data directory cannot
// change.
func (t *Twin) Apply(ctx context.Context, c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errors.New("the twin is stopped; start a new one")
	}
	running := t.Config()
	if err := c.checkLive(running); err != nil {
		return err
	}
	if n := c.instanceCPUs(); n != running.instanceCPUs() {
		if err := t.pin(n); err != nil {
			return err
		}
	}
	// A new database is in force once the workers run on it.
	inForce := c
	inForce.Workers, inForce.DB = running.Workers, running.DB
	t.board.hdr(hKnobs).Store(knobsOf(inForce).word())
	t.setConfig(inForce)
	if c.DB != running.DB {
		if err := t.switchDB(ctx, c); err != nil {
			return fmt.Errorf("--db %s: %w", redactURL(c.DB), err)
		}
		inForce.DB = c.DB
		t.board.hdr(hKnobs).Store(knobsOf(inForce).word())
		t.setConfig(inForce)
	}
	switch n := c.Workers; {
	case n > len(t.workers):
		slots := make([]int, 0, n-len(t.workers))
		for s := len(t.workers); s < n; s++ {
			slots = append(slots, s)
		}
		added, err := t.startSlots(ctx, slots)
		if err != nil {
			return fmt.Errorf("add workers: %w", err)
		}
		t.workers = append(t.workers, added...)
	case n < len(t.workers):
		removed := t.workers[n:]
		t.workers = t.workers[:n]
		// New connections go to the remaining workers from here on.
		t.board.hdr(hWorkers).Store(uint64(n))
		t.setConfig(c)
		done := make(chan struct{})
		go func() {
			stopRunners(removed, resizeGrace)
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("workers still draining: %w", ctx.Err())
		}
	}
	t.board.hdr(hWorkers).Store(uint64(c.Workers))
	if c.Workers != running.Workers {
		t.board.hdr(hRebalance).Add(1)
	}
	t.setConfig(c)
	t.log.Printf("config now %+v", c)
	return nil
}

// pin confines the instance to n cores from now on, and everything else
// to the rest: the processes running now are moved, the ones started
// later start there.
func (t *Twin) pin(n int) error {
	t.cpusMu.Lock()
	t.cpus = proc.CPUList(n)
	t.cpusMu.Unlock()
	t.board.hdr(hInstanceCPUs).Store(uint64(n))
	for slot := range slots {
		if t.board.slot(slot, sState).Load() == stateOff {
			continue
		}
		pid := int(t.board.slot(slot, sPID).Load())
		if pid <= 0 {
			continue
		}
		if err := proc.Pin(pid, t.cpusOf(slot)); err != nil && proc.Running(pid) {
			return fmt.Errorf("--instance-cpus %d: %w", n, err)
		}
		// The database server's processes, and the connections it
		// starts later, follow its postmaster.
		if child := int(t.board.slot(slot, sChildPID).Load()); child > 0 {
			if err := proc.PinTree(child, t.cpusOf(slot)); err != nil && proc.Running(child) {
				return fmt.Errorf("--instance-cpus %d: %w", n, err)
			}
		}
	}
	return t.isolate(n)
}

// cpusOf is where the process in slot runs now: the instance's cores,
// but for the edge, which runs on the others (nil: every core).
func (t *Twin) cpusOf(slot int) []int {
	t.cpusMu.Lock()
	defer t.cpusMu.Unlock()
	if slot == edgeSlot {
		return proc.OtherCPUs(len(t.cpus))
	}
	return t.cpus
}

// Stats reads the live figures; it makes no call to any process. After
// Close it returns the last figures.
func (t *Twin) Stats() Stats {
	t.boardMu.RLock()
	defer t.boardMu.RUnlock()
	if t.board == nil {
		return t.final
	}
	return readStats(t.board, t.Config())
}

// Close stops every process and listener, within about two seconds, and
// removes what the twin created unless KeepData is set.
func (t *Twin) Close() error {
	t.closeOnce.Do(func() {
		t.mu.Lock()
		t.closed = true
		t.mu.Unlock()
		t.closeErr = t.shutdown()
	})
	return t.closeErr
}

// shutdown releases whatever Start got to; it runs once.
func (t *Twin) shutdown() error {
	close(t.quit)
	var errs []error
	if t.appLn != nil {
		t.appLn.Close()
	}
	if t.appFile != nil {
		t.appFile.Close()
	}
	all := append([]*runner{}, t.workers...)
	if t.tasks != nil {
		all = append(all, t.tasks)
	}
	stopRunners(append(all, t.services...), stopGrace)
	t.dbMu.Lock()
	db := t.db
	t.dbMu.Unlock()
	if t.edgeLn != nil {
		t.edgeLn.Close()
		t.edgeFile.Close()
	}
	if t.redisLn != nil {
		t.redisLn.Close()
		t.redisFile.Close()
	}
	t.bg.Wait()
	if t.rdb != nil {
		t.rdb.Close()
	}
	if t.board != nil {
		errs = append(errs, t.closeDB(db))
	}
	if t.isolated {
		releaseIsolation()
	}
	if t.board != nil {
		t.boardMu.Lock()
		t.final = readStats(t.board, t.Config())
		errs = append(errs, t.board.close())
		t.board = nil
		t.boardMu.Unlock()
	}
	if t.boardFile != nil {
		t.boardFile.Close()
	}
	if t.log != nil {
		t.log.Print("twin stopped")
	}
	if t.logFile != nil {
		t.logFile.Close()
	}
	if !t.started.KeepData {
		errs = append(errs, t.removeData())
	}
	return errors.Join(errs...)
}

func (t *Twin) removeData() error {
	if t.dir == "" {
		return nil
	}
	if t.ownDir {
		if err := os.RemoveAll(t.dir); err != nil {
			return fmt.Errorf("remove data directory: %w", err)
		}
		return nil
	}
	var errs []error
	for _, p := range t.created {
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}
