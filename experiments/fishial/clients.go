package fishial

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// runClients runs k fishial-client processes in one mode, serves them
// the queue (and the token lock), and returns their CPU time.
func (r *race) runClients(ctx context.Context, t *tally, mode string, k int) (time.Duration, error) {
	id, secret := r.mock.Credentials()
	queue := &jobQueue{jobs: r.jobs("")}
	lock := newTokenLock()
	gate := make(chan struct{})
	ready := make(chan struct{}, k)
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
	if err := awaitReady(ctx, k, "processes", ready, exits, failed); err != nil {
		return abort(err)
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
func (r *race) serveClient(ctx context.Context, ch *child, idx int, cfg childConfig, queue *jobQueue, lock *tokenLock, gate chan struct{}, ready chan<- struct{}, t *tally, fail func(error)) {
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
			ready <- struct{}{}
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
