package engine

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// Outcome classifies one request. Anything but OutcomeOK is an error; the
// order is the order of precedence when several apply.
type Outcome uint8

const (
	OutcomeOK      Outcome = iota
	OutcomeConnect         // could not connect (refused, unreachable, TLS handshake)
	OutcomeTimeout         // no complete answer within the timeout
	OutcomeIO              // connection broke or the answer was not HTTP
	OutcomeStatus          // HTTP status 400 or above
	OutcomeCheck           // answered, but the step's expected status did not match
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"ok", "connect", "timeout", "io", "status", "check"}

func (o Outcome) String() string { return outcomeNames[o] }

// maxBody bounds how much of one response a connection buffers.
const maxBody = 64 << 20

// conn is one keep-alive connection owned by one worker. Nothing in it is
// shared, so a round trip takes no lock.
type conn struct {
	ep       endpoint
	tlsConf  *tls.Config
	timeout  time.Duration
	nc       net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	deadline time.Time
	reused   bool
	// live mirrors nc for abort, the one method called from another
	// goroutine; aborted is the owning worker's flag.
	live    atomic.Pointer[net.Conn]
	aborted *atomic.Bool
}

func newConn(ep endpoint, tlsConf *tls.Config, timeout time.Duration, aborted *atomic.Bool) *conn {
	return &conn{ep: ep, tlsConf: tlsConf, timeout: timeout, aborted: aborted}
}

func (c *conn) dial() error {
	d := net.Dialer{Timeout: c.timeout}
	nc, err := d.Dial("tcp", c.ep.addr)
	if err != nil {
		return err
	}
	if c.ep.tls {
		conf := c.tlsConf.Clone()
		if conf.ServerName == "" {
			conf.ServerName = c.ep.host
		}
		tc := tls.Client(nc, conf)
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		err = tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			nc.Close()
			return err
		}
		nc = tc
	}
	c.nc = nc
	c.live.Store(&nc)
	// An abort that ran before the store above did not see this socket.
	if c.aborted.Load() {
		nc.Close()
	}
	c.deadline = time.Time{}
	c.reused = false
	if c.br == nil {
		c.br = bufio.NewReaderSize(nc, 16<<10)
		c.bw = bufio.NewWriterSize(nc, 16<<10)
	} else {
		c.br.Reset(nc)
		c.bw.Reset(nc)
	}
	return nil
}

func (c *conn) close() {
	if c.nc != nil {
		c.live.Store(nil)
		c.nc.Close()
		c.nc = nil
	}
}

// abort closes the socket under a request in progress.
func (c *conn) abort() {
	if p := c.live.Load(); p != nil {
		(*p).Close()
	}
}

// roundTrip sends req and reads the answer into resp. It reports when the
// request went out (after any connect), so connection set-up is not counted
// as the target's service time.
func (c *conn) roundTrip(req []byte, resp *fasthttp.Response) (sent time.Time, out Outcome) {
	for attempt := 0; ; attempt++ {
		if c.nc == nil {
			if err := c.dial(); err != nil {
				return time.Now(), classifyDial(err)
			}
		}
		sent = time.Now()
		c.extendDeadline(sent)
		reused := c.reused
		_, err := c.bw.Write(req)
		if err == nil {
			err = c.bw.Flush()
		}
		if err == nil {
			err = resp.ReadLimitBody(c.br, maxBody)
		}
		if err == nil {
			c.reused = true
			if resp.ConnectionClose() {
				c.close()
			}
			return sent, OutcomeOK
		}
		c.close()
		// A kept-alive connection the server closed while idle fails before
		// a byte of the answer arrives; that is not the target failing this
		// request, so try once more on a fresh connection.
		if reused && attempt == 0 && isStale(err) {
			continue
		}
		return sent, classifyIO(err)
	}
}

// extendDeadline keeps every request's deadline at least c.timeout away
// while touching the socket's deadline only once per timeout/8: setting a
// deadline costs a runtime timer update, which at tens of thousands of
// requests per second is measurable. A request thus times out after
// between timeout and 9/8 timeout.
func (c *conn) extendDeadline(now time.Time) {
	if c.deadline.Sub(now) >= c.timeout {
		return
	}
	c.deadline = now.Add(c.timeout + c.timeout/8)
	c.nc.SetDeadline(c.deadline)
}

func isStale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func classifyDial(err error) Outcome {
	if isTimeout(err) {
		return OutcomeTimeout
	}
	return OutcomeConnect
}

func classifyIO(err error) Outcome {
	if isTimeout(err) {
		return OutcomeTimeout
	}
	return OutcomeIO
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, fasthttp.ErrTimeout) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// statusOutcome classifies an answer by its status and the step's expectation.
func statusOutcome(status, expect int) Outcome {
	if expect != 0 && status != expect {
		if status >= 400 {
			return OutcomeStatus
		}
		return OutcomeCheck
	}
	if expect == 0 && status >= 400 {
		return OutcomeStatus
	}
	return OutcomeOK
}
