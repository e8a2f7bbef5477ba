package engine

import (
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// worker is one virtual user (closed), one connection (max) or one
// in-flight slot (open). It owns its connections, request buffers and
// sample log, so its loop shares nothing that needs a lock.
type worker struct {
	g     *Generator
	rec   *recorder
	conns []*conn
	resp  fasthttp.Response
	// vars holds the worker's variables: setup captures plus its own.
	vars map[string]string
	// reqs caches request bytes for steps that use variables; built is
	// the vars version each was built from.
	reqs    [][]byte
	built   []uint64
	version uint64

	quit    atomic.Bool
	wake    chan struct{} // closed when the worker is retired
	done    chan struct{}
	timer   *time.Timer
	aborted atomic.Bool
}

func (g *Generator) newWorker() *worker {
	w := &worker{
		g:     g,
		rec:   &recorder{},
		conns: make([]*conn, len(g.eps)),
		vars:  make(map[string]string, len(g.shared)),
		reqs:  make([][]byte, len(g.steps)),
		built: make([]uint64, len(g.steps)),
		wake:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	for k, v := range g.shared {
		w.vars[k] = v
	}
	w.version = 1
	for i, ep := range g.eps {
		w.conns[i] = newConn(ep, g.cfg.tls, g.cfg.timeout, &w.aborted)
	}
	return w
}

func (w *worker) run() {
	defer close(w.done)
	defer w.closeConns()
	if w.g.load.Model == "open" {
		w.runOpen()
		return
	}
	w.runClosed()
}

// connectBackoff is how long a user or connection waits after failing to
// connect before it tries again.
const connectBackoff = 50 * time.Millisecond

func (w *worker) stopped() bool { return w.quit.Load() || w.g.stopping.Load() }

func (w *worker) runClosed() {
	g := w.g
	think := time.Duration(0)
	if m, ok := g.model.(Closed); ok {
		think = m.Think
	}
	for {
		for i := g.nSetup; i < len(g.steps); i++ {
			if w.stopped() || !g.waitIfPaused(w) {
				return
			}
			// A target that refuses connections would otherwise be
			// hammered as fast as the loopback can say no.
			if s := w.do(i, time.Time{}); s.outcome == OutcomeConnect && !w.sleep(connectBackoff) {
				return
			}
		}
		if think > 0 && (!w.sleep(think) || w.stopped()) {
			return
		}
	}
}

// runOpen claims the next slot of the schedule, waits for its start time
// and runs one iteration; the first step's latency counts from the slot's
// start, so time spent waiting for a free worker is not hidden.
func (w *worker) runOpen() {
	g := w.g
	for {
		if w.stopped() || !g.waitIfPaused(w) {
			return
		}
		slot := g.slot.Add(1) - 1
		at := g.sched.Load().start(slot)
		if g.cfg.duration > 0 && !at.Before(g.start.Add(g.cfg.duration)) {
			return // scheduled past the end of the run
		}
		// Waits under 20 us are not worth a timer; sending that early
		// cannot flatter the figures, which count from the later of the
		// schedule and the send.
		if wait := time.Until(at); wait > 20*time.Microsecond && (!w.sleep(wait) || w.stopped()) {
			return
		}
		g.openBusy.Add(1)
		for i := g.nSetup; i < len(g.steps) && !w.stopped(); i++ {
			w.do(i, at)
			at = time.Time{}
		}
		g.openBusy.Add(-1)
	}
}

// sleep waits d; it reports false if the run ended or the worker was
// retired meanwhile.
func (w *worker) sleep(d time.Duration) bool {
	if w.timer == nil {
		w.timer = time.NewTimer(d)
	} else {
		w.timer.Reset(d)
	}
	select {
	case <-w.timer.C:
		return true
	case <-w.wake:
	case <-w.g.stopCh:
	}
	w.timer.Stop()
	return false
}

// do performs step i once and records it. scheduled, when set, is when
// the request should have started.
func (w *worker) do(i int, scheduled time.Time) sample {
	g := w.g
	st := &g.steps[i]
	req := w.request(i)
	if req == nil {
		s := sample{step: uint8(i), outcome: OutcomeIO}
		w.rec.record(s)
		return s
	}
	sent, out := w.conns[g.stepEp[i]].roundTrip(req, &w.resp)
	end := time.Now()
	if out != OutcomeOK && g.stopping.Load() {
		// Cut off by the end of the run, not failed by the target.
		return sample{step: uint8(i), outcome: out}
	}
	s := sample{step: uint8(i), outcome: out}
	if out == OutcomeOK {
		status := w.resp.StatusCode()
		s.status = uint16(status)
		s.outcome = statusOutcome(status, st.Expect)
		from := sent
		if !scheduled.IsZero() && scheduled.Before(sent) {
			from = scheduled
		}
		s.latency = micros(end.Sub(from))
		s.service = micros(end.Sub(sent))
		if len(st.Capture) > 0 && s.outcome == OutcomeOK {
			w.capture(st)
		}
	}
	w.rec.record(s)
	return s
}

// request returns the bytes of step i, rebuilding them only when a
// variable they use has changed.
func (w *worker) request(i int) []byte {
	if b := w.g.static[i]; b != nil {
		return b
	}
	if w.built[i] != w.version {
		b, err := buildRequest(w.g.steps[i], w.vars)
		if err != nil {
			// The scenario was validated, so a captured value broke the
			// request; do() counts that as an error without sending.
			b = nil
		}
		w.reqs[i] = b
		w.built[i] = w.version
	}
	return w.reqs[i]
}

func (w *worker) capture(st *Step) {
	body := w.resp.Body()
	for _, c := range st.Capture {
		v, ok := captureField(body, c.Field)
		if ok && w.vars[c.Var] != v {
			w.vars[c.Var] = v
			w.version++
		}
	}
}

// abort closes the worker's sockets so a request stuck on a slow target
// returns now. Safe from any goroutine.
func (w *worker) abort() {
	w.aborted.Store(true)
	for _, c := range w.conns {
		c.abort()
	}
}

func (w *worker) closeConns() {
	for _, c := range w.conns {
		c.close()
	}
}
