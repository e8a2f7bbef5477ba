package fishial

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"

	"perflab/server/proc"
)

// Child roles of the race. Each strategy's work runs in processes of
// its own so that their rusage is that strategy's CPU and nothing else.
const (
	roleClient      = "fishial-client"      // sequential, async, and each multiprocess process
	roleNode        = "fishial-node"        // one distributed node
	roleCoordinator = "fishial-coordinator" // the multiprocess queue, or the distributed Redis
)

func init() {
	proc.Register(roleClient, runClientRole)
	proc.Register(roleNode, runNodeRole)
	proc.Register(roleCoordinator, runCoordinatorRole)
}

// Modes of a fishial-client process.
const (
	modeSequential = "sequential" // its whole list, one image at a time, a token per image
	modeProcess    = "process"    // one image at a time off the coordinator's queue, the token under its lock
	modeAsync      = "async"      // its whole list at once, one token shared in-process
)

// linkMsg is one JSON line between a race process and its parent (on the
// child's stdin and stdout), or between a multiprocess client and its
// coordinator (on a loopback connection).
//
//	client -> parent:      ready, next (sequential, async: the whole list),
//	                       done{result}, retries{n} (429s met outside any
//	                       image's flow), cpu{seconds}, error{error}
//	parent -> client:      config{config}, jobs{jobs}
//	client -> coordinator: next{n}, token, token-set{token,until},
//	                       token-release, token-stale{token}
//	coordinator -> client: jobs{jobs} (none left: empty),
//	                       token{token} or token{fetch} (you hold the lock: fetch it)
//	parent -> coordinator: coordinate{coordinate}, jobs{jobs} (the race begins)
//	coordinator -> parent: ready{addr}, requeued{n}, error{error}
type linkMsg struct {
	Op         string       `json:"op"`
	Config     *childConfig `json:"config,omitempty"`
	Coordinate *coordConfig `json:"coordinate,omitempty"`
	N          int          `json:"n,omitempty"` // next: how many jobs, 0 for all; retries, requeued: how many
	Jobs       []photoJob   `json:"jobs,omitempty"`
	Token      string       `json:"token,omitempty"`
	Until      int64        `json:"until,omitempty"` // unix ms: reuse the token until then
	Fetch      bool         `json:"fetch,omitempty"`
	Result     *imageResult `json:"result,omitempty"`
	Seconds    float64      `json:"seconds,omitempty"` // cpu: the client's CPU from its first job to its last result
	Addr       string       `json:"addr,omitempty"`    // ready: where the coordinator serves
	Error      string       `json:"error,omitempty"`
}

// childConfig tells a fishial-client process what to do and where.
type childConfig struct {
	Mode         string `json:"mode"`
	Worker       string `json:"worker"`
	Auth         string `json:"auth"`
	API          string `json:"api"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Coordinator  string `json:"coordinator,omitempty"` // process: the queue's address
	Conns        int    `json:"conns,omitempty"`       // connections to open before the race: one per image it will have in flight
}

// link is one end of a line-per-message JSON link.
type link struct {
	dec *json.Decoder
	enc *json.Encoder
	wmu sync.Mutex // one line written at a time
	cmu sync.Mutex // one request and its reply at a time
}

func newLink(r io.Reader, w io.Writer) *link {
	return &link{dec: json.NewDecoder(r), enc: json.NewEncoder(w)}
}

func (l *link) send(m linkMsg) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	return l.enc.Encode(m)
}

func (l *link) receive() (linkMsg, error) {
	var m linkMsg
	err := l.dec.Decode(&m)
	return m, err
}

// call sends a request and reads its reply. Only calls read from the
// other end, so replies cannot cross.
func (l *link) call(m linkMsg) (linkMsg, error) {
	l.cmu.Lock()
	defer l.cmu.Unlock()
	if err := l.send(m); err != nil {
		return linkMsg{}, fmt.Errorf("write %s request: %w", m.Op, err)
	}
	r, err := l.receive()
	if err != nil {
		return linkMsg{}, fmt.Errorf("read %s reply: %w", m.Op, err)
	}
	return r, nil
}

// sharedTokens is the multiprocess token: one per race, cached by the
// coordinator, fetched by whichever process its lock lets in first while
// the others wait.
type sharedTokens struct {
	c     *apiClient
	coord *link
}

func (p *sharedTokens) Token(ctx context.Context, st *flowStats) (string, error) {
	r, err := p.coord.call(linkMsg{Op: "token"})
	if err != nil {
		return "", err
	}
	if r.Token != "" {
		return r.Token, nil
	}
	if !r.Fetch {
		return "", errors.New("coordinator answered the token request with neither a token nor the lock")
	}
	tok, exp, err := p.c.fetchToken(ctx, st)
	if err != nil {
		p.coord.send(linkMsg{Op: "token-release"})
		return "", err
	}
	if err := p.coord.send(linkMsg{Op: "token-set", Token: tok, Until: reuseUntil(exp).UnixMilli()}); err != nil {
		return "", fmt.Errorf("write to coordinator: %w", err)
	}
	return tok, nil
}

func (p *sharedTokens) Stale(_ context.Context, tok string) {
	p.coord.send(linkMsg{Op: "token-stale", Token: tok})
}

// runClientRole is a race process. The parent ends it by closing
// the link or killing it; it has no other way out but finishing.
func runClientRole(args []string) int {
	parent := newLink(os.Stdin, os.Stdout)
	first, err := parent.receive()
	if err != nil || first.Op != "config" || first.Config == nil {
		fmt.Fprintf(os.Stderr, "fishial process: expected a config line from the parent (%v)\n", err)
		return 2
	}
	cfg := *first.Config
	w := &clientWork{parent: parent, queue: parent, cfg: cfg,
		c: newAPIClient(Endpoints{Auth: cfg.Auth, API: cfg.API}, cfg.ClientID, cfg.ClientSecret)}
	if cfg.Mode == modeProcess {
		// Joining the coordinator is start-up, done before the race's
		// clock starts.
		conn, err := net.Dial("tcp", cfg.Coordinator)
		if err != nil {
			fmt.Fprintf(os.Stderr, "fishial %s: reach the coordinator: %v\n", cfg.Worker, err)
			return 1
		}
		defer conn.Close()
		w.queue = newLink(conn, conn)
	}
	w.c.warmUp(context.Background(), cfg.Conns)
	if err := parent.send(linkMsg{Op: "ready"}); err != nil {
		return 1
	}
	if err := w.run(context.Background()); err != nil {
		parent.send(linkMsg{Op: "error", Error: err.Error()})
		fmt.Fprintf(os.Stderr, "fishial %s: %v\n", cfg.Worker, err)
		return 1
	}
	return 0
}

// clientWork is what a client process does once the race begins.
type clientWork struct {
	c      *apiClient
	cfg    childConfig
	parent *link // results go here
	queue  *link // jobs come from here: the parent, or the coordinator
}

// run recognises the client's images and then reports the CPU it spent
// from asking for its first job to sending its last result: its work on
// the images, without its start-up.
func (w *clientWork) run(ctx context.Context) error {
	start := proc.CPUTime()
	var err error
	switch w.cfg.Mode {
	case modeSequential:
		err = w.oneAtATime(ctx, perImageTokens{w.c}, 0)
	case modeProcess:
		err = w.oneAtATime(ctx, &sharedTokens{c: w.c, coord: w.queue}, 1)
	case modeAsync:
		err = w.allAtOnce(ctx)
	default:
		err = fmt.Errorf("unknown mode %q", w.cfg.Mode)
	}
	if err != nil {
		return err
	}
	return w.parent.send(linkMsg{Op: "cpu", Seconds: (proc.CPUTime() - start).Seconds()})
}

func (w *clientWork) report(res imageResult) error {
	if err := w.parent.send(linkMsg{Op: "done", Result: &res}); err != nil {
		return fmt.Errorf("write to parent: %w", err)
	}
	return nil
}

// oneAtATime takes n jobs at a time (0: the whole list) until none are
// left, and recognises them one after another.
func (w *clientWork) oneAtATime(ctx context.Context, tokens tokenSource, n int) error {
	for {
		r, err := w.queue.call(linkMsg{Op: "next", N: n})
		if err != nil {
			return err
		}
		if len(r.Jobs) == 0 {
			return nil
		}
		for _, job := range r.Jobs {
			res, err := w.c.recognise(ctx, job, tokens, w.cfg.Worker)
			if err != nil {
				return err
			}
			if err := w.report(res); err != nil {
				return err
			}
		}
		if n == 0 {
			return nil // that was the whole list
		}
	}
}

// allAtOnce puts every image of the list in flight at once, on one
// thread.
func (w *clientWork) allAtOnce(ctx context.Context) error {
	r, err := w.queue.call(linkMsg{Op: "next"})
	if err != nil {
		return err
	}
	tokens := &localTokens{c: w.c}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	// Ask for the token at once, as its own task: the photos are
	// hashed while it is on its way, and each flow then finds it
	// cached (or waits on the lock for it).
	if len(r.Jobs) > 0 {
		var st flowStats
		wg.Go(func() {
			_, err := tokens.Token(ctx, &st)
			if err == nil && st.retries429 > 0 {
				err = w.parent.send(linkMsg{Op: "retries", N: st.retries429})
			}
			if err != nil {
				cancel(err)
			}
		})
		runtime.Gosched() // let it send the request before the photos crowd the one thread
	}
	// Every flow starts at once, in the list's order. Yielding after
	// each start would put the starter behind the flows already under
	// way, so the last photos would start last of all (measured: about
	// 3% longer at 100 images, time-scale 0.1).
	for _, job := range r.Jobs {
		wg.Go(func() {
			m := &stepMeter{}
			m.start()
			res, err := w.c.recognise(withMeter(ctx, m), job, tokens, w.cfg.Worker)
			m.endStep()
			if err == nil {
				res.Steps = m.seconds()
				err = w.report(res)
			}
			if err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}
