package engine

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// worker is one virtual user (closed), one connection (max) or one
// in-flight slot (open). It owns its connections, request buffers and
// sample log, so its loop shares nothing that needs a lock.
type worker struct {
	g    *Generator
	rec  *recorder
	resp fasthttp.Response
	// vars holds the worker's variables: setup captures plus its own;
	// version counts their changes.
	vars    map[string]string
	version uint64
	steps   []stepState
	// flow is the user's flow (closed and max models); ready is set once
	// its own setup steps passed; rowless that unique rows ran out
	// before it took one, so it does not run.
	flow    int
	ready   bool
	rowless bool
	// why says which check the last request failed (see failure).
	why int
	rng rand.PCG
	// timing is room for one answer's Server-Timing metrics.
	timing timingScratch
	// trace, when set, sees every request and its answer (dry runs).
	trace func(step int, req []byte, s sample)

	connMu sync.Mutex // guards conns against abort, which may run elsewhere
	conns  map[endpoint]*conn

	quit    atomic.Bool
	wake    chan struct{} // closed when the worker is retired
	done    chan struct{}
	timer   *time.Timer
	aborted atomic.Bool
	// onRoute is the route of the request in flight, for SetStepURL to
	// wait on; nil between requests.
	onRoute atomic.Pointer[route]
	// ev is the event loop that drives the worker on the loop path.
	ev *evloop
}

// stepState is a worker's cache for one step: the route it last used,
// that route's connection, and request bytes built from the worker's
// variables (version built) when the step uses any.
type stepState struct {
	r     *route
	c     *conn
	req   []byte
	built uint64
	// contains is the body check's text with the variables expanded, when
	// it uses any, as of version containsBuilt.
	contains      []byte
	containsBuilt uint64
}

func (g *Generator) newWorker() *worker {
	w := &worker{
		g:       g,
		rec:     &recorder{},
		vars:    make(map[string]string, len(g.shared)),
		version: 1,
		steps:   make([]stepState, len(g.steps)),
		conns:   map[endpoint]*conn{},
		wake:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	for k, v := range g.shared {
		w.vars[k] = v
	}
	w.rng.Seed(uint64(time.Now().UnixNano()), uint64(len(g.workers)))
	// Answers are read for status, framing and captures only: leave their
	// header names as sent instead of normalizing each one.
	w.resp.Header.DisableNormalizing()
	return w
}

// newUser makes the worker that takes part in the load in position pos:
// its flow is dealt by position, and it takes the next data row.
func (g *Generator) newUser(pos int) *worker {
	w := g.newWorker()
	w.flow = int(g.cycle[pos%len(g.cycle)])
	if g.rows != nil {
		n := g.rowsTaken.Add(1) - 1
		if g.rows.Unique && n >= int64(len(g.rows.Rows)) {
			g.rowless.Add(1)
			w.rowless = true
			return w
		}
		row := g.rows.Rows[n%int64(len(g.rows.Rows))]
		for i, col := range g.rows.Columns {
			w.vars[RowVar(col)] = row[i]
		}
	}
	return w
}

func (w *worker) run() {
	defer close(w.done)
	defer w.closeConns()
	if w.rowless {
		return
	}
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
		if !w.iterate(w.flow, time.Time{}) {
			return
		}
		if think > 0 && (!w.sleep(think) || w.stopped()) {
			return
		}
	}
}

// runOpen claims the next slot of the schedule, waits for its start time
// and runs one iteration of the slot's flow; the first request's latency
// counts from the slot's start, so time spent waiting for a free worker
// is not hidden.
func (w *worker) runOpen() {
	g := w.g
	for {
		if w.stopped() || !g.waitIfPaused(w) {
			return
		}
		slot := g.slot.Add(1) - 1
		at := g.sched.Load().start(slot)
		if g.pastEnd(at) {
			return // scheduled past the end of the run
		}
		// Waits under 20 us are not worth a timer; sending that early
		// cannot flatter the figures, which count from the later of the
		// schedule and the send.
		if wait := time.Until(at); wait > 20*time.Microsecond && (!w.sleep(wait) || w.stopped()) {
			g.forgo(at)
			return
		}
		g.openBusy.Add(1)
		alive := w.iterate(g.slotFlow(slot), at)
		g.openBusy.Add(-1)
		if !alive {
			return
		}
	}
}

// iterate runs one iteration of flow f: the user's own setup steps first
// until they have passed, then the flow's steps. scheduled, when set, is
// when the iteration should have started; the first request counts from
// it. It reports false when the worker must stop.
func (w *worker) iterate(f int, scheduled time.Time) bool {
	g := w.g
	if !w.ready {
		done, alive := w.runSteps(g.nSetup, g.nSetup+g.nUser, &scheduled)
		if !done {
			return alive // a failed capture: try again next iteration
		}
		w.ready = true
	}
	_, alive := w.runSteps(g.flows[f].from, g.flows[f].to, &scheduled)
	return alive
}

// runSteps performs steps from up to to, each followed by its think time.
// done is false when a failed capture cut the steps short (later steps
// would use what it did not capture), alive false when the worker must
// stop.
func (w *worker) runSteps(from, to int, scheduled *time.Time) (done, alive bool) {
	g := w.g
	for i := from; i < to; i++ {
		if w.stopped() || !g.waitIfPaused(w) {
			return false, false
		}
		s, ok := w.do(i, *scheduled)
		*scheduled = time.Time{}
		// A target that refuses connections would otherwise be hammered
		// as fast as the loopback can say no; the open model keeps to
		// its schedule.
		if s.outcome == OutcomeConnect && g.load.Model != "open" && !w.sleep(connectBackoff) {
			return false, false
		}
		if !ok {
			return false, true
		}
		if th := g.steps[i].Think; th.Max > 0 && !g.dry && !w.sleep(w.draw(th)) {
			return false, false
		}
	}
	return true, true
}

// draw picks a think time uniformly from th's range.
func (w *worker) draw(th Think) time.Duration {
	if th.Max == th.Min {
		return th.Min
	}
	return th.Min + time.Duration(w.rng.Uint64()%uint64(th.Max-th.Min+1))
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
// the request should have started. ok is false when the step captures
// variables and did not get them all: its answer failed, or a value to
// capture was missing (then a failed check).
func (w *worker) do(i int, scheduled time.Time) (s sample, ok bool) {
	ss := w.stepState(i)
	st := &ss.r.step
	w.why = passed
	req := w.request(ss)
	if req == nil {
		s = sample{step: uint8(i), outcome: OutcomeIO}
		w.rec.record(s)
		return s, len(st.Capture) == 0
	}
	w.onRoute.Store(ss.r)
	sent, end, out, retried := ss.c.roundTrip(req, ss.r.replayable, &w.resp)
	w.onRoute.Store(nil)
	if retried {
		w.rec.record(sample{step: uint8(i), outcome: retryMark})
	}
	s = sample{step: uint8(i), outcome: w.cutOff(out)}
	ok = len(st.Capture) == 0
	if out == OutcomeOK {
		status := w.resp.StatusCode()
		s.status = uint16(status)
		s.outcome = st.statusOutcome(status)
		if s.outcome != OutcomeOK {
			w.why = failedStatus
		} else if !w.checkBody(ss) {
			s.outcome = OutcomeCheck
		}
		s.timed(scheduled, sent, end)
		if !ok && s.outcome == OutcomeOK {
			if ok = w.capture(ss); !ok {
				s.outcome = OutcomeCheck
			}
		}
		if ts := w.readTiming(s.step, s.service); len(ts) > 0 {
			w.rec.recordTimed(s, ts)
		} else {
			w.rec.record(s)
		}
	} else {
		w.rec.record(s)
	}
	if w.trace != nil {
		w.trace(i, req, s)
	}
	return s, ok
}

// cutOff turns a failure the end of the run caused (the worker aborted,
// or the run giving up on requests in flight) into OutcomeUnfinished: cut
// off, not failed by the target. One that failed on its own during the
// stop grace keeps its outcome.
func (w *worker) cutOff(out Outcome) Outcome {
	if out != OutcomeOK && (w.aborted.Load() || w.g.abortCtx.Err() != nil) {
		return OutcomeUnfinished
	}
	return out
}

// timed sets a sample's latency, from scheduled when that is set and
// earlier than the send, and its service time, from the send, both to
// end.
func (s *sample) timed(scheduled, sent, end time.Time) {
	from := sent
	if !scheduled.IsZero() && scheduled.Before(sent) {
		from = scheduled
	}
	s.latency = micros(end.Sub(from))
	s.service = micros(end.Sub(sent))
}

// stepState returns step i's cache, brought up to date with its route.
func (w *worker) stepState(i int) *stepState {
	ss := &w.steps[i]
	if r := w.g.routes[i].Load(); ss.r != r {
		*ss = stepState{r: r, c: w.conn(r.ep)}
	}
	return ss
}

func (w *worker) conn(ep endpoint) *conn {
	w.connMu.Lock()
	defer w.connMu.Unlock()
	c, ok := w.conns[ep]
	if !ok {
		c = newConn(w.g.abortCtx, ep, w.g.cfg.tls, w.g.cfg.timeout, w.g.cfg.maxBody, &w.aborted)
		w.conns[ep] = c
	}
	return c
}

// request returns the step's bytes, rebuilding them only when a variable
// they use has changed.
func (w *worker) request(ss *stepState) []byte {
	if ss.r.static != nil {
		return ss.r.static
	}
	if ss.built != w.version {
		b, err := buildRequest(ss.r.step, w.vars)
		if err != nil {
			// The scenario was validated, so a captured value broke the
			// request; do() counts that as an error without sending.
			b = nil
		}
		ss.req = b
		ss.built = w.version
	}
	return ss.req
}

// abort closes the worker's sockets so a request stuck on a slow target
// returns now. Safe from any goroutine.
func (w *worker) abort() {
	w.aborted.Store(true)
	w.connMu.Lock()
	defer w.connMu.Unlock()
	for _, c := range w.conns {
		c.abort()
	}
}

func (w *worker) closeConns() {
	w.connMu.Lock()
	defer w.connMu.Unlock()
	for _, c := range w.conns {
		c.close()
	}
}
