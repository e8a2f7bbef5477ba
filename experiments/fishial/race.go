package fishial

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	mock "perflab/server/fishial"
	"perflab/server/proc"
	"perflab/server/redisconn"
)

// race is one Run: the mock API, the photo bucket and (for the
// distributed strategy) the Redis, shared by the strategies it runs.
type race struct {
	cfg    Config
	mock   *mock.Server
	bucket *photoBucket
	images []Image
	md5s   []string
	lease  time.Duration // distributed: a node silent this long is dead

	emitMu sync.Mutex
	emit   func(Progress)

	seqMu      sync.Mutex
	seqSeconds float64 // measured sequential time, once known

	redisMu  sync.Mutex
	mini     *redisconn.Embedded
	rdb      *redis.Client
	redisURL string
}

// defaultLease is the distributed nodes' heartbeat lease: short enough
// that a dead node's image is back in the queue within about a second.
const defaultLease = time.Second

// readyTimeout bounds process start-up (16 nodes on two busy cores, or
// a race-detector build, can take several seconds).
const readyTimeout = 60 * time.Second

func newRace(c Config, onProgress func(Progress)) (*race, error) {
	r := &race{cfg: c, lease: defaultLease, emit: onProgress}
	r.images = Images(c.Images)
	for _, im := range r.images {
		r.md5s = append(r.md5s, im.MD5())
	}
	var err error
	r.mock, err = mock.Start(mock.Config{TimeScale: c.TimeScale, Prob429: c.Prob429, Seed: uint64(time.Now().UnixNano())})
	if err != nil {
		return nil, err
	}
	if r.bucket, err = startPhotoBucket(r.images); err != nil {
		r.mock.Close()
		return nil, err
	}
	return r, nil
}

func (r *race) close() {
	r.mock.Close()
	r.bucket.Close()
	r.redisMu.Lock()
	defer r.redisMu.Unlock()
	if r.rdb != nil {
		r.rdb.Close()
	}
	if r.mini != nil {
		r.mini.Close()
	}
}

func (r *race) progress(p Progress) {
	if r.emit == nil {
		return
	}
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	r.emit(p)
}

// jobs are the race's photos as work items.
func (r *race) jobs(run string) []photoJob {
	out := make([]photoJob, len(r.images))
	for i, im := range r.images {
		out[i] = photoJob{Image: i, Name: im.Name, URL: r.bucket.url + "/photos/" + im.Name, Run: run}
	}
	return out
}

// run races one strategy and checks every image came back exactly once
// with the right bytes behind it.
func (r *race) run(ctx context.Context, strategy string) (Result, []imageResult, error) {
	t := newTally(r, strategy, r.cfg.Images)
	var cpu time.Duration
	var requeued int
	var err error
	switch strategy {
	case StrategySequential:
		cpu, err = r.runClients(ctx, t, modeSequential, 1)
	case StrategyAsync:
		cpu, err = r.runClients(ctx, t, modeAsync, 1)
	case StrategyMultiprocess:
		cpu, err = r.runClients(ctx, t, modeProcess, r.cfg.Processes)
	case StrategyDistributed:
		cpu, requeued, err = r.runDistributed(ctx, t)
	default:
		err = fmt.Errorf("unknown strategy %q", strategy)
	}
	if err != nil {
		return Result{}, nil, fmt.Errorf("%s: %w", strategy, err)
	}
	recs, err := t.verify()
	if err != nil {
		return Result{}, nil, fmt.Errorf("%s: %w", strategy, err)
	}
	workers := r.cfg.Workers(strategy)
	if strategy == StrategyDistributed {
		// Nodes started elsewhere (perflab fishial-node) may have joined.
		seen := map[string]bool{}
		for _, rec := range recs {
			seen[rec.Worker] = true
		}
		workers = max(workers, len(seen))
	}
	res := Result{
		Strategy:     strategy,
		Images:       r.cfg.Images,
		Workers:      workers,
		Seconds:      t.wall().Seconds(),
		IdealSeconds: Ideal(strategy, r.cfg.Images, workers, r.mock.Latencies()).Seconds(),
		CPUSeconds:   cpu.Seconds(),
		Requeued:     requeued,
	}
	res.Retries429 = t.retries
	for _, rec := range recs {
		res.Retries429 += rec.Retries429
	}
	if res.CPUSeconds > 0 {
		res.ImagesPerCPUSecond = float64(res.Images) / res.CPUSeconds
	}
	r.seqMu.Lock()
	if strategy == StrategySequential {
		r.seqSeconds = res.Seconds
	}
	base := r.seqSeconds
	r.seqMu.Unlock()
	if base == 0 {
		base = Ideal(StrategySequential, r.cfg.Images, 1, r.mock.Latencies()).Seconds()
	}
	res.Speedup = speedup(base, res.Seconds)
	final := res
	r.progress(Progress{Strategy: strategy, Done: r.cfg.Images, Total: r.cfg.Images, Elapsed: t.wall(), Result: &final})
	return res, recs, nil
}

// tally collects one strategy's results as they come in.
type tally struct {
	race     *race
	strategy string
	total    int

	mu       sync.Mutex
	start    time.Time
	last     time.Time
	recs     []*imageResult
	done     int
	retries  int // 429s met outside any image's flow
	complete chan struct{}
}

func newTally(r *race, strategy string, total int) *tally {
	return &tally{race: r, strategy: strategy, total: total, recs: make([]*imageResult, total), complete: make(chan struct{})}
}

// begin starts the strategy's clock: its processes are up and the first
// image is about to be handed out.
func (t *tally) begin() {
	t.mu.Lock()
	t.start = time.Now()
	t.mu.Unlock()
}

// add records one recognised image; a second result for the same image
// is an error (results are exactly once).
func (t *tally) add(res imageResult) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if res.Image < 0 || res.Image >= t.total {
		return fmt.Errorf("result for image %d, which is not in this race of %d", res.Image, t.total)
	}
	if prev := t.recs[res.Image]; prev != nil {
		return fmt.Errorf("image %s recognised twice (by %s and %s)", res.Name, prev.Worker, res.Worker)
	}
	t.recs[res.Image] = &res
	t.done++
	t.last = time.Now()
	if t.done == t.total {
		close(t.complete)
	}
	t.race.progress(Progress{Strategy: t.strategy, Done: t.done, Total: t.total, Elapsed: t.last.Sub(t.start)})
	return nil
}

func (t *tally) addRetries(n int) {
	t.mu.Lock()
	t.retries += n
	t.mu.Unlock()
}

func (t *tally) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.done
}

func (t *tally) wall() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last.Sub(t.start)
}

// verify checks every image has exactly one result, its MD5 is the
// photo's, and its signed id is the service's own, for a blob holding
// those very bytes under that name.
func (t *tally) verify() ([]imageResult, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]imageResult, 0, t.total)
	for i, rec := range t.recs {
		im := t.race.images[i]
		if rec == nil {
			return nil, fmt.Errorf("image %s has no result", im.Name)
		}
		if rec.MD5 != t.race.md5s[i] {
			return nil, fmt.Errorf("image %s: result MD5 %s, photo MD5 %s", im.Name, rec.MD5, t.race.md5s[i])
		}
		b, err := t.race.mock.Lookup(rec.SignedID)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", im.Name, err)
		}
		if !b.Uploaded || b.Checksum != rec.MD5 || b.Filename != im.Name {
			return nil, fmt.Errorf("image %s: signed id names blob %q (MD5 %s, uploaded %v)", im.Name, b.Filename, b.Checksum, b.Uploaded)
		}
		out = append(out, *rec)
	}
	return out, nil
}

// child is one race process and the parent's end of its pipes.
type child struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.ReadCloser
	stderr *tailBuffer
	wmu    sync.Mutex
	enc    *json.Encoder
	exited chan struct{} // closed once the process is reaped
	state  *os.ProcessState
}

// startChild starts a race process with one OS thread for Go code, like
// the single interpreter thread of the study's Python workers.
func startChild(name, role string, args ...string) (*child, error) {
	cmd, err := proc.Command(role, args...)
	if err != nil {
		return nil, err
	}
	cmd.Env = append(cmd.Env, "GOMAXPROCS=1")
	ch := &child{name: name, cmd: cmd, stderr: &tailBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = ch.stderr
	if ch.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if ch.stdout, err = cmd.StdoutPipe(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	ch.enc = json.NewEncoder(ch.stdin)
	if err := proc.Start(cmd, nil); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return ch, nil
}

func (c *child) send(m linkMsg) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.enc.Encode(m)
}

// reap waits for the process once its stdout is drained.
func (c *child) reap() {
	io.Copy(io.Discard, c.stdout)
	c.cmd.Wait()
	c.state = c.cmd.ProcessState
	close(c.exited)
}

func (c *child) kill() {
	select {
	case <-c.exited:
	default:
		c.cmd.Process.Kill()
	}
}

// failure describes how a child ended, with the end of its stderr.
func (c *child) failure() error {
	msg := "exited"
	if c.state != nil {
		msg = c.state.String()
	}
	if tail := strings.TrimSpace(c.stderr.String()); tail != "" {
		msg += ": " + lastLines(tail, 3)
	}
	return fmt.Errorf("%s %s", c.name, msg)
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// stopChildren closes every child's stdin (the way to ask it to leave),
// waits up to childGrace, kills what is left and returns their CPU time.
func stopChildren(children []*child) time.Duration {
	for _, c := range children {
		c.stdin.Close()
	}
	deadline := time.NewTimer(childGrace)
	defer deadline.Stop()
	var cpu time.Duration
	for _, c := range children {
		select {
		case <-c.exited:
		case <-deadline.C:
			for _, k := range children {
				k.kill()
			}
			<-c.exited
		}
		if c.state != nil {
			cpu += c.state.UserTime() + c.state.SystemTime()
		}
	}
	return cpu
}

func killChildren(children []*child) {
	for _, c := range children {
		c.kill()
	}
	for _, c := range children {
		<-c.exited
	}
}

// jobQueue is the parent's queue for the client processes.
type jobQueue struct {
	mu   sync.Mutex
	jobs []photoJob
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
func (l *tokenLock) acquire(ctx context.Context, who int) (tok string, fetch bool, err error) {
	for {
		l.mu.Lock()
		if l.tok != "" && time.Now().Before(l.until) {
			tok := l.tok
			l.mu.Unlock()
			return tok, false, nil
		}
		if l.holder < 0 {
			l.holder = who
			l.mu.Unlock()
			return "", true, nil
		}
		wait := l.changed
		l.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return "", false, ctx.Err()
		}
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

// runClients runs k fishial-client processes in one mode, serves them
// the queue (and the token lock), and returns their CPU time.
func (r *race) runClients(ctx context.Context, t *tally, mode string, k int) (time.Duration, error) {
	id, secret := r.mock.Credentials()
	queue := &jobQueue{jobs: r.jobs("")}
	lock := newTokenLock()
	gate := make(chan struct{})
	ready := make(chan int, k)
	failed := make(chan error, 4*k)
	fail := func(err error) {
		select {
		case failed <- err:
		default:
		}
	}

	var children []*child
	for i := range k {
		name := fmt.Sprintf("%s process %d", t.strategy, i+1)
		if k == 1 {
			name = t.strategy + " process"
		}
		ch, err := startChild(name, roleClient)
		if err != nil {
			killChildren(children)
			return 0, err
		}
		children = append(children, ch)
		cfg := childConfig{Mode: mode, Worker: fmt.Sprintf("%s-%d", t.strategy, i+1), Auth: r.mock.URL(), API: r.mock.URL(), ClientID: id, ClientSecret: secret}
		go r.serveClient(ctx, ch, i, cfg, queue, lock, gate, ready, t, fail)
	}

	exited := 0
	exits := make(chan *child, k)
	for _, ch := range children {
		go func() { <-ch.exited; exits <- ch }()
	}
	abort := func(err error) (time.Duration, error) {
		killChildren(children)
		return 0, err
	}
	timeout := time.NewTimer(readyTimeout)
	defer timeout.Stop()
	for n := 0; n < k; {
		select {
		case <-ready:
			n++
		case err := <-failed:
			return abort(err)
		case ch := <-exits:
			return abort(fmt.Errorf("before it was ready: %w", ch.failure()))
		case <-timeout.C:
			return abort(fmt.Errorf("%d of %d processes ready after %v; the machine may be overloaded", n, k, readyTimeout))
		case <-ctx.Done():
			return abort(ctx.Err())
		}
	}
	t.begin()
	close(gate)
	for done := false; !done; {
		select {
		case <-t.complete:
			done = true
		case err := <-failed:
			return abort(err)
		case ch := <-exits:
			exited++
			if !ch.state.Success() {
				return abort(ch.failure())
			}
			if exited == k {
				select {
				case <-t.complete:
					done = true
				default:
					return abort(fmt.Errorf("every process left with %d of %d images recognised", t.count(), t.total))
				}
			}
		case <-ctx.Done():
			return abort(ctx.Err())
		}
	}
	// Every image is in: the processes are leaving on their own.
	return stopChildren(children), nil
}

// serveClient is the parent's side of one client process's link.
func (r *race) serveClient(ctx context.Context, ch *child, idx int, cfg childConfig, queue *jobQueue, lock *tokenLock, gate chan struct{}, ready chan<- int, t *tally, fail func(error)) {
	defer ch.reap()
	defer lock.release(idx)
	if err := ch.send(linkMsg{Op: "config", Config: &cfg}); err != nil {
		fail(fmt.Errorf("%s: write config: %w", ch.name, err))
		return
	}
	dec := json.NewDecoder(bufio.NewReader(ch.stdout))
	for {
		var m linkMsg
		if err := dec.Decode(&m); err != nil {
			if !errors.Is(err, io.EOF) {
				fail(fmt.Errorf("%s: read link: %w", ch.name, err))
			}
			return
		}
		switch m.Op {
		case "ready":
			ready <- idx
		case "next":
			select {
			case <-gate:
				ch.send(linkMsg{Op: "jobs", Jobs: queue.take(m.N)})
			case <-ctx.Done():
			}
		case "token":
			if tok, fetch, err := lock.acquire(ctx, idx); err == nil {
				ch.send(linkMsg{Op: "token", Token: tok, Fetch: fetch})
			}
		case "token-set":
			lock.set(idx, m.Token, time.UnixMilli(m.Until))
		case "token-release":
			lock.release(idx)
		case "token-stale":
			lock.stale(m.Token)
		case "done":
			if m.Result == nil {
				fail(fmt.Errorf("%s sent a result without content", ch.name))
			} else if err := t.add(*m.Result); err != nil {
				fail(err)
			}
		case "retries":
			t.addRetries(m.N)
		case "error":
			fail(fmt.Errorf("%s: %s", ch.name, m.Error))
		default:
			fail(fmt.Errorf("%s sent unknown message %q", ch.name, m.Op))
		}
	}
}
