package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"perflab/server/proc"
)

// Child roles.
const (
	roleWorker = "twin-worker"
	roleTasks  = "twin-tasks"
	roleRedis  = "twin-redis"
	roleEdge   = "twin-edge"
)

func init() {
	proc.Register(roleWorker, workerMain)
	proc.Register(roleTasks, tasksMain)
	proc.Register(roleRedis, redisMain)
	proc.Register(roleEdge, edgeMain)
}

// roleOf is the role of the process in a slot.
func roleOf(slot int) string {
	switch slot {
	case taskSlot:
		return roleTasks
	case redisSlot:
		return roleRedis
	case edgeSlot:
		return roleEdge
	case dbSlot:
		return rolePostgres
	}
	return roleWorker
}

// childSpec is what the parent hands a child on its standard input; the
// secret travels there rather than in arguments or the environment, which
// other users of the machine can read.
type childSpec struct {
	Slot int `json:"slot"`
	// DB is the SQLite file, or the PostgreSQL connection string
	// (password included: the spec is never in arguments or the
	// environment).
	DB      string   `json:"db"`
	Dialect dialect  `json:"dialect"`
	Redis   string   `json:"redis"` // redis:// URL
	Static  string   `json:"static"`
	Assets  []*asset `json:"assets"`
	Secret  []byte   `json:"secret"`
	Config  Config   `json:"config"` // in force at the start, for the stats endpoint
	// Cluster is the private PostgreSQL cluster, for its watchdog.
	Cluster *clusterSpec `json:"cluster,omitempty"`
}

// Inherited descriptors: a worker, the Redis and the edge get their
// listening socket and the board, the task worker the board only.
const (
	fdListener = 3
	fdBoard    = 4
	fdTaskBord = 3
)

// drainTimeout is how long a stopping worker lets the requests on its
// connections finish (a sync worker answers them one at a time); the
// parent may kill it sooner when the whole twin stops.
const drainTimeout = 10 * time.Second

// readyLine is what a child prints on standard output once it serves.
const readyLine = "ready"

func readSpec() (childSpec, error) {
	var s childSpec
	if err := json.NewDecoder(os.Stdin).Decode(&s); err != nil {
		return s, fmt.Errorf("read start-up spec from parent: %w", err)
	}
	return s, nil
}

// childSignals ignores the terminal's Ctrl-C, which reaches the whole
// process group: the parent decides when children stop, with SIGTERM.
func childSignals() <-chan os.Signal {
	signal.Ignore(os.Interrupt)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM)
	return ch
}

// worker is one gunicorn-style worker process: it accepts from the shared
// socket and serves the API (and the SPA while it is not offloaded).
type worker struct {
	spec   childSpec
	slot   int
	board  *board
	store  *store
	rdb    *redis.Client
	bundle *bundle
	log    *log.Logger

	// admit lets one view run at a time in sync mode: the worker's one
	// interpreter thread.
	admit chan struct{}
	// exec is async mode's single DB thread.
	exec *executor
	// cacheDirty is set when a like was applied without Redis: the cached
	// list may be stale, so it is deleted as soon as Redis answers again.
	cacheDirty atomic.Bool
	redisGate  gate

	listener net.Listener
	conns    *connCount
	draining atomic.Bool
	// closing makes every answer close its connection (see drain).
	closing atomic.Bool

	// threads is the GOMAXPROCS setting in force: threadsOne or
	// threadsDefault (0 before the first request).
	profileMu sync.Mutex
	threads   atomic.Int32
}

const (
	threadsOne = 1 + iota
	threadsDefault
)

func workerMain([]string) int {
	logger := log.New(os.Stderr, fmt.Sprintf("worker pid %d: ", os.Getpid()), log.LstdFlags|log.Lmicroseconds)
	quietRedis(os.Stderr)
	sigs := childSignals()
	w, srv, err := newWorker(logger)
	if err != nil {
		logger.Print(err)
		return 1
	}
	go func() {
		if err := srv.Serve(w.listener); err != nil && !errors.Is(err, http.ErrServerClosed) && !w.draining.Load() {
			logger.Printf("serve: %v", err)
			os.Exit(1)
		}
	}()
	stopCPU := trackCPU(w.board, w.slot)
	stopRebalance := w.watchRebalance(w.board)
	fmt.Println(readyLine)
	<-sigs
	stopRebalance()
	w.drain(srv)
	stopCPU()
	w.rdb.Close()
	w.store.close()
	return 0
}

func newWorker(logger *log.Logger) (*worker, *http.Server, error) {
	spec, err := readSpec()
	if err != nil {
		return nil, nil, err
	}
	b, ln, err := inheritedFiles()
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(spec.Dialect, spec.DB)
	if err != nil {
		return nil, nil, err
	}
	rdb, err := newRedisClient(spec.Redis, 4)
	if err != nil {
		return nil, nil, err
	}
	w := &worker{
		spec: spec, slot: spec.Slot, board: b, store: st, rdb: rdb, log: logger,
		conns:    &connCount{},
		bundle:   manifestBundle(spec.Assets),
		admit:    make(chan struct{}, 1),
		exec:     newExecutor(),
		listener: ln,
	}
	w.useProfile(b.knobs())
	srv := &http.Server{
		Handler:           w,
		ReadHeaderTimeout: requestReadTimeout,
		ReadTimeout:       requestReadTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          logger,
		ConnState:         w.conns.track,
	}
	return w, srv, nil
}

// useProfile gives the worker one thread under the django profile (one
// CPython interpreter) and Go's default under the go profile.
func (w *worker) useProfile(k knobs) {
	want := threadsFor(k)
	if w.threads.Load() == want {
		return
	}
	w.profileMu.Lock()
	defer w.profileMu.Unlock()
	if w.threads.Load() == want {
		return
	}
	setThreads(want)
	w.threads.Store(want)
}

func threadsFor(k knobs) int32 {
	if k.costs().OneThread {
		return threadsOne
	}
	return threadsDefault
}

func setThreads(t int32) {
	if t == threadsOne {
		runtime.GOMAXPROCS(1)
	} else {
		runtime.SetDefaultGOMAXPROCS()
	}
}

// trackCPU keeps the slot's CPU figure current until the returned
// function is called (which writes it a last time).
func trackCPU(b *board, slot int) func() { return trackCPUOf(b, slot, proc.CPUTime) }

// trackCPUOf is trackCPU with the figure read by cpu.
func trackCPUOf(b *board, slot int, cpu func() time.Duration) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			b.slot(slot, sCPUNow).Store(uint64(cpu()))
			select {
			case <-t.C:
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		b.slot(slot, sCPUNow).Store(uint64(cpu()))
	}
}

// connCount counts the worker's open connections.
type connCount struct{ n atomic.Int64 }

func (c *connCount) track(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		c.n.Add(1)
	case http.StateClosed, http.StateHijacked:
		c.n.Add(-1)
	}
}

// drain stops taking connections and answers every request already sent
// on the ones it has, each connection closing after its next answer, then
// ends the server. http.Server.Shutdown alone would not do: a request it
// reads once shutdown has begun is dropped unanswered, which the client
// that sent it sees as a failure.
//
// Closing an idle kept-alive connection races with a request the client
// may be sending on it that moment, which the client then sees dropped;
// so the worker first answers on every connection with "Connection:
// close" for closeWindow, letting each client's next request close its
// connection cleanly, and only then closes the ones still idle.
func (w *worker) drain(srv *http.Server) {
	w.draining.Store(true)
	w.closing.Store(true)
	w.listener.Close()
	deadline := time.Now().Add(drainTimeout)
	for grace := time.Now().Add(closeWindow); w.conns.n.Load() > 0 && time.Now().Before(grace); {
		time.Sleep(5 * time.Millisecond)
	}
	srv.SetKeepAlivesEnabled(false) // the connections idle since close now
	for w.conns.n.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Until(deadline))
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		w.log.Printf("drain: %v; closing the remaining connections", err)
	}
}

// closeWindow is how long a worker answers with "Connection: close"
// after the worker count changed, or before a draining one closes its idle
// connections: long enough for every client with a request in flight or
// about to come (the experiments' users think a second at most) to get its
// connection closed once, by the worker, after an answer.
const closeWindow = 2 * time.Second

// watchRebalance closes the worker's keep-alive connections, each after
// its next answer, whenever the worker count changes. Connections stay
// with the process that accepted them, so without this, workers added
// live would sit idle while the old ones kept every client; gunicorn's
// rolling reload has the same effect.
func (w *worker) watchRebalance(b *board) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		seen := b.hdr(hRebalance).Load()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
			case <-done:
				return
			}
			now := b.hdr(hRebalance).Load()
			if now == seen {
				continue
			}
			seen = now
			w.closing.Store(true)
			select {
			case <-time.After(closeWindow):
			case <-done:
				return
			}
			if !w.draining.Load() {
				w.closing.Store(false)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// ServeHTTP is the worker's whole request path: counted, panic-safe,
// API views admitted by mode, the SPA while it is not offloaded.
func (w *worker) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.URL.Path == StatsPath {
		w.serveStats(rw, r)
		return
	}
	if w.closing.Load() {
		rw.Header().Set("Connection", "close") // net/http closes it after this answer
	}
	k := w.board.knobs()
	w.useProfile(k)
	b, s := w.board, w.slot
	b.inc(s, sInFlight)
	api := strings.HasPrefix(r.URL.Path, "/api/")
	rec := &recorder{ResponseWriter: rw, onStatus: func(status int) {
		b.inc(s, sRequests)
		if api {
			b.inc(s, sAPIRequests)
		}
		if status >= 500 {
			b.inc(s, sErrors5xx)
		}
	}}
	defer func() {
		if rec.status == 0 { // nothing written: net/http sends 200
			rec.onStatus(http.StatusOK)
		}
		b.dec(s, sInFlight)
	}()
	defer w.recoverPanic(rec, r)
	if api {
		rec.timing = newServerTiming()
		if bufferBody(rec, r) {
			rec.timing.restart()
			w.serveAPI(rec, r, k, rec.timing)
		}
		return
	}
	w.serveStatic(rec, r, k)
}

// recoverPanic turns a handler's panic into a 500 and keeps the worker
// alive, as Django's handler does.
func (w *worker) recoverPanic(rec *recorder, r *http.Request) {
	p := recover()
	if p == nil {
		return
	}
	if p == http.ErrAbortHandler {
		panic(p)
	}
	w.board.inc(w.slot, sPanics)
	buf := make([]byte, 4096)
	buf = buf[:runtime.Stack(buf, false)]
	w.log.Printf("panic serving %s %s: %v\n%s", r.Method, r.URL.Path, p, buf)
	if rec.status != 0 {
		// The answer already started: cut the connection so the client
		// sees a failure rather than a truncated success.
		w.board.inc(w.slot, sErrors5xx)
		panic(http.ErrAbortHandler)
	}
	writeDetail(rec, http.StatusInternalServerError, "A server error occurred.")
}

func (w *worker) serveStats(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rw.Header().Set("Allow", "GET, HEAD")
		writeDetail(rw, http.StatusMethodNotAllowed, fmt.Sprintf("Method \"%s\" not allowed.", r.Method))
		return
	}
	writeValue(rw, http.StatusOK, readStats(w.board, w.spec.Config))
}

// executor is the single thread that sync_to_async(thread_sensitive=True)
// sends every database and cache call of a worker to.
type executor struct{ jobs chan func() }

func newExecutor() *executor {
	e := &executor{jobs: make(chan func())}
	go func() {
		for fn := range e.jobs {
			fn()
		}
	}()
	return e
}

// do runs fn on the executor and waits; a panic in fn comes back to the
// caller's goroutine, where the request's recovery handles it.
func (e *executor) do(fn func()) {
	var p any
	done := make(chan struct{})
	e.jobs <- func() {
		defer func() {
			p = recover()
			close(done)
		}()
		fn()
	}
	<-done
	if p != nil {
		panic(p)
	}
}

// gate stops calling Redis for a moment after a call failed, so a Redis
// that does not answer costs requests one timeout, not one each.
type gate struct{ closedUntil atomic.Int64 }

const gatePause = 200 * time.Millisecond

var errRedisPaused = errors.New("redis failed moments ago; not called")

func (g *gate) open() bool { return time.Now().UnixNano() >= g.closedUntil.Load() }

func (g *gate) fail() { g.closedUntil.Store(time.Now().Add(gatePause).UnixNano()) }
