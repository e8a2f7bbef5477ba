package engine

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// Outcome classifies one request. OutcomeOK and OutcomeUnfinished are not
// errors; every other outcome is, and the order is the order of precedence
// when several apply.
type Outcome uint8

const (
	OutcomeOK       Outcome = iota
	OutcomeConnect          // could not connect (refused, unreachable, TLS handshake)
	OutcomeTimeout          // no complete answer within the timeout
	OutcomeDropped          // the server closed or reset the connection before a complete answer
	OutcomeTooLarge         // the answer's body was larger than MaxBody
	OutcomeIO               // the answer was not HTTP, or the connection failed otherwise
	OutcomeStatus           // HTTP status 400 or above
	OutcomeCheck            // answered, but the step's expected status did not match
	// OutcomeUnfinished is a request the end of the run cut off: it was
	// neither answered nor failed, and is counted apart from both.
	OutcomeUnfinished
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"ok", "connect", "timeout", "dropped", "body too large", "io", "status", "check", "unfinished"}

// retryMark is not a request's outcome: a worker logs it as a sample of
// its own when it had to send a request a second time, so retries reach
// the aggregator the way everything else does.
const retryMark = numOutcomes

func (o Outcome) String() string {
	if o == retryMark {
		return "retry"
	}
	return outcomeNames[o]
}

// DefaultMaxBody is how much of one answer's body is kept unless MaxBody
// says otherwise.
const DefaultMaxBody = 4 << 20

// staleAfter is how long a kept-alive connection may sit idle before it
// is checked for a close by the server ahead of its next request. A
// connection sending again as soon as it is answered skips the check (one
// system call); an idle one is where servers close: keep-alive timeouts.
const staleAfter = time.Millisecond

// conn is one keep-alive connection owned by one worker. Nothing in it is
// shared, so a round trip takes no lock.
type conn struct {
	ep       endpoint
	tlsConf  *tls.Config
	timeout  time.Duration
	maxBody  int
	nc       net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	deadline time.Time
	reused   bool
	// idleSince is when the previous answer ended (or the connection
	// broke), to tell an idle connection from one in constant use.
	idleSince time.Time
	// raw is the socket under nc, for the idle check; peek is the check's
	// function, built once so that calling it allocates nothing.
	raw     syscall.RawConn
	peek    func(fd uintptr) bool
	peekBuf [1]byte
	peekN   int
	peekErr error
	// live mirrors nc for abort, the one method called from another
	// goroutine; aborted is the owning worker's flag, and ctx ends when
	// the generator gives up on requests in flight (cutting dials short).
	live    atomic.Pointer[net.Conn]
	aborted *atomic.Bool
	ctx     context.Context
}

func newConn(ctx context.Context, ep endpoint, tlsConf *tls.Config, timeout time.Duration, maxBody int, aborted *atomic.Bool) *conn {
	c := &conn{ctx: ctx, ep: ep, tlsConf: tlsConf, timeout: timeout, maxBody: maxBody, aborted: aborted}
	c.peek = func(fd uintptr) bool {
		c.peekN, c.peekErr = peekSocket(fd, c.peekBuf[:])
		return true
	}
	return c
}

func (c *conn) dial() error {
	d := net.Dialer{Timeout: c.timeout}
	nc, err := d.DialContext(c.ctx, "tcp", c.ep.addr)
	if err != nil {
		return err
	}
	c.raw = nil
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
		}
	}
	if c.ep.tls {
		conf := c.tlsConf.Clone()
		if conf.ServerName == "" {
			conf.ServerName = c.ep.host
		}
		tc := tls.Client(nc, conf)
		ctx, cancel := context.WithTimeout(c.ctx, c.timeout)
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
// as the target's service time, and when it ended.
//
// Nothing is sent twice behind the caller's back. A kept-alive connection
// the server closed while it sat idle is found before the request goes out
// (closedByPeer) and replaced; nothing was sent, so nothing is retried. A
// connection that breaks after the request was written fails the request
// as dropped: the server may have read it and acted on it. The one retry
// left is for a replayable request (GET, HEAD, OPTIONS, TRACE) on a reused
// connection whose write failed, so no byte of an answer can have arrived
// and the server never had the request whole; it is sent once more on a
// new connection and reported (retried), so the caller counts it.
func (c *conn) roundTrip(req []byte, replayable bool, resp *fasthttp.Response) (sent, end time.Time, out Outcome, retried bool) {
	defer func() { c.idleSince = end }()
	for attempt := 0; ; attempt++ {
		now := time.Now()
		if c.nc != nil && now.Sub(c.idleSince) >= staleAfter {
			c.extendDeadline(now) // a passed deadline would hide the socket's state
			if c.closedByPeer() {
				c.close()
			}
			now = time.Now() // the check is not the target's time
		}
		if c.nc == nil {
			if err := c.dial(); err != nil {
				now = time.Now()
				return now, now, classifyDial(err), retried
			}
			now = time.Now()
		}
		sent = now
		c.extendDeadline(sent)
		reused := c.reused
		_, err := c.bw.Write(req)
		if err == nil {
			err = c.bw.Flush()
		}
		if err != nil {
			c.close()
			if replayable && reused && attempt == 0 && isDropped(err) && !c.aborted.Load() {
				retried = true
				continue
			}
			return sent, time.Now(), classifyIO(err), retried
		}
		err = resp.ReadLimitBody(c.br, c.maxBody)
		if err != nil && c.headersTooLong(err) {
			// Nothing was consumed: the header was only peeked at.
			c.br = bufio.NewReaderSize(c.br, maxHeaderBytes)
			err = resp.ReadLimitBody(c.br, c.maxBody)
		}
		end = time.Now()
		if err != nil {
			c.close()
			return sent, end, classifyIO(err), retried
		}
		c.reused = true
		if resp.ConnectionClose() {
			c.close()
		}
		return sent, end, OutcomeOK, retried
	}
}

// maxHeaderBytes is how long an answer's header may be: a connection
// reads through 16 KiB until an answer's header needs more (a long
// Server-Timing, many cookies), then through this much.
const maxHeaderBytes = 128 << 10

// headersTooLong reports an answer whose header did not fit the
// connection's read buffer while the buffer may still grow. The error
// path alone formats the message, which tells the header from a trailer.
func (c *conn) headersTooLong(err error) bool {
	var small *fasthttp.ErrSmallBuffer
	return c.br.Size() < maxHeaderBytes && errors.As(err, &small) &&
		strings.Contains(err.Error(), "response headers")
}

// closedByPeer reports whether the server has closed (or reset) the idle
// connection, or sent something unasked on it, which leaves it unusable:
// a non-blocking peek at the socket.
func (c *conn) closedByPeer() bool {
	if !c.ep.tls && c.br.Buffered() > 0 {
		return true // bytes after the last answer: the next would be misread
	}
	if c.raw == nil {
		return false
	}
	c.peekN, c.peekErr = 0, nil
	if err := c.raw.Read(c.peek); err != nil {
		return true
	}
	switch {
	case c.peekErr == errNoPeek, c.peekErr == syscall.EAGAIN, c.peekErr == syscall.EWOULDBLOCK, c.peekErr == syscall.EINTR:
		return false // nothing to read: open and quiet
	case c.peekErr != nil:
		return true // reset
	case c.peekN == 0:
		return true // end of stream: closed
	}
	// Bytes waiting. On plain HTTP nothing may arrive unasked (a server
	// about to close may send a 408 first); under TLS they may be a
	// session ticket, so the connection is kept.
	return !c.ep.tls
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

// errNoPeek says the platform has no non-blocking peek (peekSocket).
var errNoPeek = errors.New("no socket peek on this platform")

// isDropped reports an error that means the server closed or reset the
// connection.
func isDropped(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func classifyDial(err error) Outcome {
	if isTimeout(err) {
		return OutcomeTimeout
	}
	return OutcomeConnect
}

func classifyIO(err error) Outcome {
	switch {
	case isTimeout(err):
		return OutcomeTimeout
	case errors.Is(err, fasthttp.ErrBodyTooLarge), errors.Is(err, errBodyTooLarge):
		return OutcomeTooLarge
	case isDropped(err):
		return OutcomeDropped
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
