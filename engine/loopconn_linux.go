package engine

// The event loop's connections: connect, write, read, and what each
// request's end records.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// conn returns the worker's connection to ep, made on first use.
func (lw *lworker) conn(ep endpoint) *lconn {
	for _, c := range lw.conns {
		if c.ep == ep {
			return c
		}
	}
	c := &lconn{lw: lw, ep: ep, fd: -1}
	c.f.maxBody = lw.w.g.cfg.maxBody
	w := lw.w
	c.f.timing = func(v []byte) { w.timing.parse(v, &w.g.timingNames) }
	lw.conns = append(lw.conns, c)
	return c
}

// send starts c's request: on its kept-alive socket, or a new one.
func (l *evloop) send(c *lconn, now time.Time) {
	lw := c.lw
	lw.cur = c
	if c.state == lidle || c.state == lclosed {
		c.deadline = now.Add(l.g.cfg.timeout)
	}
	if c.state == lclosed {
		if out := l.dial(c); out != OutcomeOK {
			l.fail(c, out, time.Now())
			return
		}
		if c.state == lconnecting {
			return
		}
	}
	if l.batching {
		// Stamped again when it is written (flush).
		c.state, c.off, c.sent = lwriting, 0, now
		l.writeq = append(l.writeq, c)
		return
	}
	l.startWrite(c)
}

// startWrite begins sending c's request on its connected socket.
func (l *evloop) startWrite(c *lconn) {
	c.state, c.off, c.sent = lwriting, 0, time.Now()
	l.write(c)
}

// flush sends the requests held back while a batch of events was
// handled: a server sees them together and wakes once for them, instead
// of once per request.
func (l *evloop) flush() {
	q := l.writeq[:0]
	for _, c := range l.writeq {
		if c.state == lwriting && c.off == 0 && c.fd >= 0 {
			q = append(q, c)
		}
	}
	if l.ring != nil && len(q) >= ringMin {
		l.writeBatch(q)
	} else {
		for _, c := range q {
			l.startWrite(c)
		}
	}
	clear(l.writeq)
	l.writeq = l.writeq[:0]
}

// dial opens a non-blocking socket to c's endpoint and starts connecting.
func (l *evloop) dial(c *lconn) Outcome {
	sa, err := l.sockaddr(c.ep)
	if err != nil {
		return OutcomeConnect
	}
	family := unix.AF_INET
	if _, ok := sa.(*unix.SockaddrInet6); ok {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return OutcomeConnect
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	c.fd, c.reused, c.readable = fd, false, false
	for fd >= len(l.byFD) {
		l.byFD = append(l.byFD, make([]*lconn, len(l.byFD)+64)...)
	}
	l.byFD[fd] = c
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		l.close(c)
		return OutcomeConnect
	}
	switch err := unix.Connect(fd, sa); err {
	case nil:
		c.state = lwriting
	case unix.EINPROGRESS, unix.EINTR:
		c.state = lconnecting
	default:
		l.close(c)
		return OutcomeConnect
	}
	return OutcomeOK
}

// sockaddr resolves an endpoint once per loop.
func (l *evloop) sockaddr(ep endpoint) (unix.Sockaddr, error) {
	if sa, ok := l.addrs[ep]; ok {
		return sa, nil
	}
	host, portStr, err := net.SplitHostPort(ep.addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.g.cfg.timeout)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return nil, errors.Join(err, errors.New("no address"))
	}
	ip := pickAddr(ips)
	var sa unix.Sockaddr
	if ip.Is4() {
		sa = &unix.SockaddrInet4{Port: port, Addr: ip.As4()}
	} else {
		sa = &unix.SockaddrInet6{Port: port, Addr: ip.As16()}
	}
	l.addrs[ep] = sa
	return sa, nil
}

// pickAddr prefers an IPv4 address, as the goroutine path's dialer tries
// them first for localhost.
func pickAddr(ips []netip.Addr) netip.Addr {
	for _, ip := range ips {
		if ip.Unmap().Is4() {
			return ip.Unmap()
		}
	}
	return ips[0]
}

// ready handles epoll's news of c's socket.
func (l *evloop) ready(c *lconn, ev uint32) {
	if c.state == lconnecting || c.state == lwriting {
		// An answer (or a close) that comes before the request is
		// written raises its edge now: remember it for the read.
		c.readable = c.readable || ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLERR|unix.EPOLLHUP) != 0
	}
	switch c.state {
	case lconnecting:
		if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
			return
		}
		if errno, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || errno != 0 {
			l.fail(c, OutcomeConnect, time.Now())
			return
		}
		l.startWrite(c)
	case lwriting:
		if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
			l.write(c)
		}
	case lreading:
		if l.ring != nil {
			l.readq = append(l.readq, c)
			return
		}
		l.read(c)
	case lidle:
		// Nothing may arrive unasked: the server closed the connection,
		// or sent what would be misread as the next answer.
		if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
			l.close(c)
		}
	}
}

// write sends what is left of c's request.
func (l *evloop) write(c *lconn) {
	for c.off < len(c.req) {
		n, err := rawIO(unix.SYS_WRITE, c.fd, c.req[c.off:])
		if !l.wrote(c, n, err) {
			return
		}
	}
	l.written(c)
}

// wrote takes the result of one write of c's request: false when the
// request can go no further now (the socket is full, or it failed).
func (l *evloop) wrote(c *lconn, n int, err error) bool {
	switch err {
	case nil:
		c.off += n
		return true
	case unix.EINTR:
		return true
	case unix.EAGAIN:
		return false // the next EPOLLOUT continues
	}
	reused := c.reused
	l.close(c)
	if c.r.replayable && reused && !c.retried && isDropped(err) && !c.lw.w.aborted.Load() {
		c.retried = true
		c.lw.w.rec.record(sample{step: uint8(c.stepIdx), outcome: retryMark})
		l.resend(c)
		return false
	}
	l.fail(c, classifyIO(err), time.Now())
	return false
}

// written readies c, its request sent, for the answer.
func (l *evloop) written(c *lconn) {
	c.state = lreading
	c.lw.w.timing.begin()
	c.f.reset(c.r.head)
	if c.readable {
		c.readable = false
		l.read(c)
	}
}

// resend sends c's request once more on a new socket.
func (l *evloop) resend(c *lconn) {
	if out := l.dial(c); out != OutcomeOK {
		l.fail(c, out, time.Now())
		return
	}
	if c.state == lwriting {
		l.startWrite(c)
	}
}

// read takes what has arrived on c and frames the answer.
func (l *evloop) read(c *lconn) {
	for c.state == lreading {
		n, err := rawIO(unix.SYS_READ, c.fd, l.buf)
		if !l.got(c, l.buf, n, err) {
			return
		}
	}
}

// got frames one read's result, n bytes of buf or err, into c's answer.
// It returns true when more may be waiting on the socket.
func (l *evloop) got(c *lconn, buf []byte, n int, err error) bool {
	switch {
	case err == unix.EAGAIN:
		return false
	case err == unix.EINTR:
		return true
	case err != nil:
		l.fail(c, classifyIO(err), time.Now())
		return false
	case n == 0:
		done, ferr := c.f.eof()
		if done {
			c.f.close = true
			l.answered(c, time.Now(), false)
		} else {
			l.fail(c, classifyIO(ferr), time.Now())
		}
		return false
	}
	used, done, ferr := c.f.feed(buf[:n])
	if ferr != nil {
		l.fail(c, classifyIO(ferr), time.Now())
		return false
	}
	if done {
		l.answered(c, time.Now(), used < n)
		return false
	}
	return n == len(buf) // else drained: the next arrival raises a new edge
}

// readBatch reads every connection in readq through the ring, in one
// system call per ring's worth; a read that fills its slot goes on one
// call at a time. A batch shorter than ringMin is read one call at a
// time.
func (l *evloop) readBatch() {
	q := l.readq[:0]
	for _, c := range l.readq {
		if c.state == lreading && c.fd >= 0 {
			q = append(q, c)
		}
	}
	for len(q) > 0 {
		chunk := q[:min(len(q), cap(l.ops))]
		q = q[len(chunk):]
		if len(chunk) < ringMin || l.ring == nil {
			for _, c := range chunk {
				l.read(c)
			}
			continue
		}
		ops := l.ops[:len(chunk)]
		for i, c := range chunk {
			ops[i] = ringOp{fd: c.fd, buf: l.slab[i*ringSlot : (i+1)*ringSlot]}
		}
		if l.batch(chunk, ops) {
			l.ringRecvs += int64(len(ops))
			for i, c := range chunk {
				if n, err := ops[i].result(); l.got(c, ops[i].buf, n, err) {
					l.read(c)
				}
			}
		}
		clear(ops)
	}
	clear(l.readq)
	l.readq = l.readq[:0]
}

// writeBatch starts the requests of q through the ring; a request that
// does not go out whole goes on as write does.
func (l *evloop) writeBatch(q []*lconn) {
	for len(q) > 0 {
		chunk := q[:min(len(q), cap(l.ops))]
		q = q[len(chunk):]
		if l.ring == nil {
			for _, c := range chunk {
				l.startWrite(c)
			}
			continue
		}
		ops := l.ops[:len(chunk)]
		now := time.Now()
		for i, c := range chunk {
			c.state, c.off, c.sent = lwriting, 0, now
			ops[i] = ringOp{send: true, fd: c.fd, buf: c.req}
		}
		if l.batch(chunk, ops) {
			l.ringSends += int64(len(ops))
			for i, c := range chunk {
				if n, err := ops[i].result(); l.wrote(c, n, err) {
					l.write(c)
				}
			}
		}
		clear(ops)
	}
}

// batch runs ops, one per connection of chunk, through the ring. Should
// the ring fail (no kernel that set it up should), the chunk's requests
// fail with the error, as what became of their reads or writes is
// unknown, and the loop goes on one call at a time.
func (l *evloop) batch(chunk []*lconn, ops []ringOp) bool {
	if err := l.ring.do(ops); err != nil {
		l.ringFailed(chunk, err)
		return false
	}
	return true
}

func (l *evloop) ringFailed(chunk []*lconn, err error) {
	l.ring.close()
	l.ring = nil
	l.ringErr.set(fmt.Errorf("failed: %w", err))
	now := time.Now()
	for _, c := range chunk {
		l.fail(c, classifyIO(err), now)
	}
}

// answered records c's complete answer and readies c for the next
// request; extra says bytes came after the answer, which makes the
// connection unusable.
func (l *evloop) answered(c *lconn, end time.Time, extra bool) {
	lw, w := c.lw, c.lw.w
	st := &c.r.step
	s := sample{step: uint8(c.stepIdx), outcome: st.statusOutcome(c.f.status), status: uint16(c.f.status)}
	if s.outcome != OutcomeOK {
		w.why = failedStatus
	}
	s.timed(lw.scheduled, c.sent, end)
	lw.scheduled = time.Time{}
	if ts := w.timing.finish(s.step, s.service); len(ts) > 0 {
		w.rec.recordTimed(s, ts)
	} else {
		w.rec.record(s)
	}
	c.reused = true
	if c.f.close || extra {
		l.close(c)
	} else {
		c.state = lidle
	}
	l.settled(lw, end)
}

// fail records c's request as failed with out and closes its socket.
func (l *evloop) fail(c *lconn, out Outcome, now time.Time) {
	lw, w := c.lw, c.lw.w
	out = w.cutOff(out)
	lw.scheduled = time.Time{}
	w.rec.record(sample{step: uint8(c.stepIdx), outcome: out})
	l.close(c)
	if out == OutcomeConnect && !l.open {
		lw.notBefore = now.Add(connectBackoff)
	}
	l.settled(lw, now)
}

// settled ends the request in flight; the iteration goes on at the next
// tend or right away.
func (l *evloop) settled(lw *lworker, now time.Time) {
	lw.cur = nil
	lw.w.onRoute.Store(nil)
	if lw.busy && !lw.w.stopped() && !l.g.paused.Load() && !now.Before(lw.notBefore) {
		if lw.step < lw.to {
			l.next(lw, now)
			return
		}
		l.endIteration(lw)
		if !l.open && !l.g.stopping.Load() {
			l.begin(lw, lw.w.flow, time.Time{}, now)
		}
	}
}

func (l *evloop) close(c *lconn) {
	if c.fd >= 0 {
		l.byFD[c.fd] = nil
		unix.Close(c.fd)
		c.fd = -1
	}
	c.state = lclosed
}

// finish retires a worker: its sockets close and Generator sees it done.
func (l *evloop) finish(lw *lworker) {
	for _, c := range lw.conns {
		l.close(c)
	}
	close(lw.w.done)
}
