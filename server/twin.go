package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"perflab/server/proc"
	"perflab/server/redisconn"
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
	dbPath    string
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

	appLn   net.Listener
	appFile *os.File
	appURL  string
	edgeLn  net.Listener
	edgeSrv *http.Server
	edgeURL string

	mini     *redisconn.Embedded
	redisURL string
	rdb      *redis.Client

	workers []*runner // slots 0..Workers-1
	tasks   *runner

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
	if err := t.prepareData(ctx); err != nil {
		return nil, err
	}
	if err := t.startRedis(); err != nil {
		return nil, err
	}
	if err := t.listen(); err != nil {
		return nil, err
	}
	t.secret = make([]byte, 32)
	rand.Read(t.secret)
	t.board.hdr(hKnobs).Store(knobsOf(c).word())
	t.board.hdr(hWorkers).Store(uint64(c.Workers))
	t.board.hdr(hStartedUnixNano).Store(uint64(time.Now().UnixNano()))
	t.board.hdr(hInstanceCPUs).Store(uint64(c.instanceCPUs()))

	t.bg.Add(2)
	go t.serveEdge()
	go t.watchRedis()

	slots := make([]int, c.Workers+1)
	for i := range slots {
		slots[i] = i
	}
	slots[c.Workers] = taskSlot
	runners, err := t.startSlots(ctx, slots)
	if err != nil {
		return nil, err
	}
	t.workers, t.tasks = runners[:c.Workers], runners[c.Workers]
	t.log.Printf("twin up: app %s, edge %s, %d workers, redis %s, data %s", t.appURL, t.edgeURL, c.Workers, redactURL(t.redisURL), t.dir)
	ok = true
	return t, nil
}

var quietRedisOnce sync.Once

// prepareData makes the data directory, the log, the shared board, the
// SPA files and the database.
func (t *Twin) prepareData(ctx context.Context) error {
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
	t.dbPath = filepath.Join(t.dir, "twin.db")
	if _, err := os.Stat(t.dbPath); os.IsNotExist(err) {
		t.noteCreated(t.dbPath, t.dbPath+"-wal", t.dbPath+"-shm")
	}
	return loadFixtures(ctx, t.dbPath)
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

// startRedis starts the embedded Redis, or checks the configured URL.
func (t *Twin) startRedis() error {
	if t.started.Redis == RedisEmbedded {
		mini, err := redisconn.StartEmbedded()
		if err != nil {
			return fmt.Errorf("start embedded redis: %w", err)
		}
		t.mini, t.redisURL = mini, mini.URL()
	} else {
		t.redisURL = t.started.Redis
	}
	var err error
	t.rdb, err = newRedisClient(t.redisURL, 2)
	return err
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

// listen opens the shared app socket and the edge's socket.
func (t *Twin) listen() error {
	ln, err := net.Listen("tcp", t.started.Addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w; pick a free port (0 picks one)", t.started.Addr, err)
	}
	t.appLn = ln
	if t.appFile, err = ln.(*net.TCPListener).File(); err != nil {
		return fmt.Errorf("share the app socket with workers: %w", err)
	}
	t.appURL = urlOf(ln.Addr())
	if t.edgeLn, err = net.Listen("tcp", t.started.EdgeAddr); err != nil {
		return fmt.Errorf("--edge-addr %s: %w; pick a free port (0 picks one)", t.started.EdgeAddr, err)
	}
	t.edgeURL = urlOf(t.edgeLn.Addr())
	t.edgeSrv = &http.Server{
		Handler:           &edge{bundle: t.bundle, count: t.countEdge},
		ReadHeaderTimeout: requestReadTimeout,
		ReadTimeout:       requestReadTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          t.log,
	}
	return nil
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

func (t *Twin) serveEdge() {
	defer t.bg.Done()
	if err := t.edgeSrv.Serve(t.edgeLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.log.Printf("edge: %v", err)
	}
}

// countEdge books one edge answer. It holds boardMu because an answer
// cut short by Close can finish after the edge server stopped waiting.
func (t *Twin) countEdge(s served) {
	t.boardMu.RLock()
	defer t.boardMu.RUnlock()
	if t.board == nil {
		return
	}
	t.board.hdr(hEdgeRequests).Add(1)
	t.board.hdr(hEdgeBytes).Add(uint64(s.bytes))
	if s.notModified {
		t.board.hdr(hEdgeNotModified).Add(1)
	}
}

// startSlots starts the given slots' processes side by side; if one
// fails, the others are stopped again.
func (t *Twin) startSlots(ctx context.Context, slots []int) ([]*runner, error) {
	runners := make([]*runner, len(slots))
	errs := make([]error, len(slots))
	var wg sync.WaitGroup
	for i, slot := range slots {
		role := roleWorker
		if slot == taskSlot {
			role = roleTasks
		}
		wg.Go(func() { runners[i], errs[i] = t.startSlot(ctx, slot, role) })
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
// instance's CPUs by moving every process's threads. Listen addresses,
// Redis and the data directory cannot change.
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
	t.board.hdr(hKnobs).Store(knobsOf(c).word())
	inForce := c
	inForce.Workers = running.Workers
	t.setConfig(inForce)
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

// pin confines the instance to n cores from now on: the processes running
// now are moved, the ones started later start there.
func (t *Twin) pin(n int) error {
	cpus := proc.CPUList(n)
	t.cpusMu.Lock()
	t.cpus = cpus
	t.cpusMu.Unlock()
	t.board.hdr(hInstanceCPUs).Store(uint64(n))
	for slot := 0; slot <= taskSlot; slot++ {
		if t.board.slot(slot, sState).Load() == stateOff {
			continue
		}
		pid := int(t.board.slot(slot, sPID).Load())
		if pid <= 0 {
			continue
		}
		if err := proc.Pin(pid, cpus); err != nil && proc.Running(pid) {
			return fmt.Errorf("--instance-cpus %d: %w", n, err)
		}
	}
	return nil
}

// instanceCPUList is where a process starting now runs.
func (t *Twin) instanceCPUList() []int {
	t.cpusMu.Lock()
	defer t.cpusMu.Unlock()
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
	return readStats(t.board, t.started)
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
	var wg sync.WaitGroup
	wg.Go(func() { stopRunners(all, stopGrace) })
	if t.edgeSrv != nil {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
			defer cancel()
			if err := t.edgeSrv.Shutdown(ctx); err != nil {
				t.edgeSrv.Close()
			}
		})
	} else if t.edgeLn != nil {
		t.edgeLn.Close()
	}
	wg.Wait()
	t.bg.Wait()
	if t.rdb != nil {
		t.rdb.Close()
	}
	if t.mini != nil {
		t.mini.Close()
	}
	if t.board != nil {
		t.boardMu.Lock()
		t.final = readStats(t.board, t.started)
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
