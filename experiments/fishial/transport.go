package fishial

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// maxAnswer bounds an answer's body: the service's answers are a few
// kilobytes.
const maxAnswer = 1 << 20

// syncTransport runs each plain-HTTP exchange on the caller's goroutine:
// it writes the request, then reads and parses the whole answer on the
// connection the caller holds for the exchange. net/http's transport
// hands each exchange to two goroutines of the connection (one writes,
// one reads) and back, which on a client of one thread costs about as
// much as the exchange itself, and scatters an image's CPU over
// goroutines no image owns. Connections are kept for the next exchange
// as net/http's are; https goes to the fallback.
type syncTransport struct {
	fallback http.RoundTripper
	dialer   net.Dialer

	mu   sync.Mutex
	idle map[string][]*syncConn // host:port -> connections free for an exchange
}

type syncConn struct {
	net.Conn
	host string // host:port it was dialled to
	r    *bufio.Reader
	w    *bufio.Writer
}

func newSyncTransport(fallback http.RoundTripper) *syncTransport {
	return &syncTransport{fallback: fallback, dialer: net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second},
		idle: map[string][]*syncConn{}}
}

// RoundTrip sends req and returns its answer, read whole (at most
// maxAnswer bytes; a longer one is an error) so the connection is free
// again when it returns.
func (t *syncTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		return t.fallback.RoundTrip(req)
	}
	host := hostPort(req.URL)
	c, reused, err := t.conn(req.Context(), host, true)
	if err != nil {
		return nil, err
	}
	resp, err := t.exchange(c, req)
	if err != nil && reused && errors.Is(err, errStaleConn) && (req.Body == nil || req.GetBody != nil) {
		// The service closed a kept connection while it sat idle; nothing
		// was answered on it, so the request goes once more on a new one.
		if req.GetBody != nil {
			if req.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		if c, _, err = t.conn(req.Context(), host, false); err != nil {
			return nil, err
		}
		resp, err = t.exchange(c, req)
	}
	if err != nil {
		return nil, err
	}
	if resp.Close || req.Close {
		c.Close()
	} else {
		t.put(host, c)
	}
	return resp, nil
}

// prime opens n new connections to url's host, makes one exchange on
// each (a GET of url, whose answer nothing uses) and keeps them all, as
// the pool of a client that has had n exchanges in flight at once.
// Exchanges return their connection before they return, so n exchanges
// at once would not open n connections.
func (t *syncTransport) prime(ctx context.Context, url string, n int) error {
	var opened []*syncConn
	defer func() {
		for _, c := range opened {
			t.put(c.host, c)
		}
	}()
	for range n {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		c, _, err := t.conn(ctx, hostPort(req.URL), false)
		if err != nil {
			return err
		}
		resp, err := t.exchange(c, req)
		if err != nil {
			return err
		}
		if resp.Close {
			c.Close()
			continue
		}
		opened = append(opened, c)
	}
	return nil
}

// hostPort is where a plain-HTTP URL's connections go.
func hostPort(u *url.URL) string {
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "80")
	}
	return u.Host
}

// errStaleConn marks an exchange that failed before any of its answer
// came: on a kept connection, the service may have closed it.
var errStaleConn = errors.New("no answer")

// exchange writes req on c and reads its answer whole; on any error c
// is closed.
func (t *syncTransport) exchange(c *syncConn, req *http.Request) (resp *http.Response, err error) {
	stop := context.AfterFunc(req.Context(), func() { c.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() {
			err = errors.Join(err, req.Context().Err())
		}
		if err != nil {
			c.Close()
		}
	}()
	// An error before the answer's first byte may be a kept connection
	// the service has closed.
	if err := req.Write(c.w); err != nil {
		return nil, fmt.Errorf("%w: %w", errStaleConn, err)
	}
	if err := c.w.Flush(); err != nil {
		return nil, fmt.Errorf("%w: %w", errStaleConn, err)
	}
	m := meterFrom(req.Context())
	m.endStep()
	_, err = c.r.Peek(1)
	m.start()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errStaleConn, err)
	}
	resp, err = http.ReadResponse(c.r, req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if len(body) > maxAnswer {
		return nil, fmt.Errorf("answer longer than %d bytes", maxAnswer)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, nil
}

// conn returns a kept connection to host if there is one and reuse
// allows, else a new one.
func (t *syncTransport) conn(ctx context.Context, host string, reuse bool) (*syncConn, bool, error) {
	if reuse {
		t.mu.Lock()
		if free := t.idle[host]; len(free) > 0 {
			c := free[len(free)-1]
			t.idle[host] = free[:len(free)-1]
			t.mu.Unlock()
			return c, true, nil
		}
		t.mu.Unlock()
	}
	nc, err := t.dialer.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, false, err
	}
	return &syncConn{Conn: nc, host: host, r: bufio.NewReader(nc), w: bufio.NewWriter(nc)}, false, nil
}

func (t *syncTransport) put(host string, c *syncConn) {
	t.mu.Lock()
	t.idle[host] = append(t.idle[host], c)
	t.mu.Unlock()
}

// CloseIdleConnections closes the kept connections.
func (t *syncTransport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = map[string][]*syncConn{}
	t.mu.Unlock()
	for _, free := range idle {
		for _, c := range free {
			c.Close()
		}
	}
	if ci, ok := t.fallback.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}
