package fishial

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"perflab/server/proc"
)

// Child roles of the race. Each strategy's work runs in processes of
// its own so that their rusage is that strategy's CPU and nothing else.
const (
	roleClient = "fishial-client" // sequential, async, and each multiprocess process
	roleNode   = "fishial-node"   // one distributed node
)

func init() {
	proc.Register(roleClient, runClientRole)
	proc.Register(roleNode, runNodeRole)
}

// Modes of a fishial-client process.
const (
	modeSequential = "sequential" // one image at a time, a token per image
	modeProcess    = "process"    // one image at a time, the token shared through the parent
	modeAsync      = "async"      // every image at once, one token shared in-process
)

// linkMsg is one JSON line between a race process and its parent, on the
// child's stdin (parent to child) and stdout (child to parent).
//
//	child -> parent: ready, next{n}, token, token-set{token,until},
//	                 token-release, token-stale{token}, done{result},
//	                 retries{n} (429s met outside any image's flow), error{error}
//	parent -> child: config{config}, jobs{jobs} (none left: empty),
//	                 token{token} or token{fetch} (you hold the lock: fetch it)
type linkMsg struct {
	Op     string       `json:"op"`
	Config *childConfig `json:"config,omitempty"`
	N      int          `json:"n,omitempty"` // next: how many jobs, 0 for all; retries: how many
	Jobs   []photoJob   `json:"jobs,omitempty"`
	Token  string       `json:"token,omitempty"`
	Until  int64        `json:"until,omitempty"` // unix ms: reuse the token until then
	Fetch  bool         `json:"fetch,omitempty"`
	Result *imageResult `json:"result,omitempty"`
	Error  string       `json:"error,omitempty"`
}

// childConfig tells a fishial-client process what to do and where.
type childConfig struct {
	Mode         string `json:"mode"`
	Worker       string `json:"worker"`
	Auth         string `json:"auth"`
	API          string `json:"api"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// parentLink is the child's end of the link.
type parentLink struct {
	dec *json.Decoder
	enc *json.Encoder
	wmu sync.Mutex // one line written at a time
	cmu sync.Mutex // one request and its reply at a time
}

func newParentLink(r io.Reader, w io.Writer) *parentLink {
	return &parentLink{dec: json.NewDecoder(r), enc: json.NewEncoder(w)}
}

func (l *parentLink) send(m linkMsg) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	return l.enc.Encode(m)
}

func (l *parentLink) receive() (linkMsg, error) {
	var m linkMsg
	err := l.dec.Decode(&m)
	return m, err
}

// call sends a request and reads its reply. Only calls read from the
// parent, so replies cannot cross.
func (l *parentLink) call(m linkMsg) (linkMsg, error) {
	l.cmu.Lock()
	defer l.cmu.Unlock()
	if err := l.send(m); err != nil {
		return linkMsg{}, fmt.Errorf("write to parent: %w", err)
	}
	r, err := l.receive()
	if err != nil {
		return linkMsg{}, fmt.Errorf("read from parent: %w", err)
	}
	return r, nil
}

// parentTokens is the multiprocess token: one per race, cached by the
// parent, fetched by whichever process the parent's lock lets in first
// while the others wait.
type parentTokens struct {
	c    *apiClient
	link *parentLink
}

func (p *parentTokens) Token(ctx context.Context, st *flowStats) (string, error) {
	r, err := p.link.call(linkMsg{Op: "token"})
	if err != nil {
		return "", err
	}
	if r.Token != "" {
		return r.Token, nil
	}
	if !r.Fetch {
		return "", errors.New("parent answered the token request with neither a token nor the lock")
	}
	tok, exp, err := p.c.fetchToken(ctx, st)
	if err != nil {
		p.link.send(linkMsg{Op: "token-release"})
		return "", err
	}
	if err := p.link.send(linkMsg{Op: "token-set", Token: tok, Until: reuseUntil(exp).UnixMilli()}); err != nil {
		return "", fmt.Errorf("write to parent: %w", err)
	}
	return tok, nil
}

func (p *parentTokens) Stale(_ context.Context, tok string) {
	p.link.send(linkMsg{Op: "token-stale", Token: tok})
}

// runClientRole is a race process. The parent ends it by closing
// the link or killing it; it has no other way out but finishing.
func runClientRole(args []string) int {
	link := newParentLink(os.Stdin, os.Stdout)
	first, err := link.receive()
	if err != nil || first.Op != "config" || first.Config == nil {
		fmt.Fprintf(os.Stderr, "fishial process: expected a config line from the parent (%v)\n", err)
		return 2
	}
	cfg := *first.Config
	c := newAPIClient(Endpoints{Auth: cfg.Auth, API: cfg.API}, cfg.ClientID, cfg.ClientSecret)
	if err := link.send(linkMsg{Op: "ready"}); err != nil {
		return 1
	}
	if err := runClientMode(context.Background(), link, c, cfg); err != nil {
		link.send(linkMsg{Op: "error", Error: err.Error()})
		fmt.Fprintf(os.Stderr, "fishial %s: %v\n", cfg.Worker, err)
		return 1
	}
	return 0
}

func runClientMode(ctx context.Context, link *parentLink, c *apiClient, cfg childConfig) error {
	switch cfg.Mode {
	case modeSequential, modeProcess:
		var tokens tokenSource = perImageTokens{c}
		if cfg.Mode == modeProcess {
			tokens = &parentTokens{c: c, link: link}
		}
		for {
			r, err := link.call(linkMsg{Op: "next", N: 1})
			if err != nil {
				return err
			}
			if len(r.Jobs) == 0 {
				return nil
			}
			for _, job := range r.Jobs {
				res, err := c.recognise(ctx, job, tokens, cfg.Worker)
				if err != nil {
					return err
				}
				if err := link.send(linkMsg{Op: "done", Result: &res}); err != nil {
					return fmt.Errorf("write to parent: %w", err)
				}
			}
		}
	case modeAsync:
		r, err := link.call(linkMsg{Op: "next"})
		if err != nil {
			return err
		}
		tokens := &localTokens{c: c}
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
					err = link.send(linkMsg{Op: "retries", N: st.retries429})
				}
				if err != nil {
					cancel(err)
				}
			})
			runtime.Gosched() // let it send the request before the photos crowd the one thread
		}
		for _, job := range r.Jobs {
			wg.Go(func() {
				res, err := c.recognise(ctx, job, tokens, cfg.Worker)
				if err == nil {
					err = link.send(linkMsg{Op: "done", Result: &res})
				}
				if err != nil {
					cancel(err)
				}
			})
			runtime.Gosched() // let it send the request before the photos crowd the one thread
		}
		wg.Wait()
		return context.Cause(ctx)
	}
	return fmt.Errorf("unknown mode %q", cfg.Mode)
}
