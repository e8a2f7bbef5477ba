package engine

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// evloop drives its share of the workers' connections from one thread:
// it sleeps in epoll until a socket is ready or the open model's next
// start is due, and moves each connection along connect, write and read
// without a goroutine per request. A request costs its write and its read
// and a share of one epoll_wait: no readiness registration per request
// (sockets are edge-triggered, registered once), no read that finds
// nothing.
type evloop struct {
	g      *Generator
	epfd   int
	wakefd int
	buf    []byte
	events []unix.EpollEvent
	byFD   []*lconn
	addrs  map[endpoint]unix.Sockaddr

	mu    sync.Mutex
	inbox []*worker

	workers []*lworker
	// pend is the open model's next slot, claimed for one of this loop's
	// free workers and due at pend.at.
	pend struct {
		slot  int64
		at    time.Time
		valid bool
	}
	open  bool // the run follows the open model's schedule
	ended bool // the open model's schedule ran past the run's end
	// margin is how early the pacer asks to wake before a start, to cover
	// the wake-up's own lateness; it spins the rest. wakeLate is the
	// lateness it follows (see learn).
	margin, wakeLate time.Duration
	pwait2           bool
	busy             bool // the last wait returned events
	// batching is set while a batch of events is handled; the requests
	// it starts wait in writeq until the batch is done (see flush).
	batching bool
	writeq   []*lconn
	// ring, where the kernel gives one, takes a batch's reads (readq)
	// and its held-back writes in one system call each; ops and slab
	// (a slot of it per read) serve those batches.
	ring  *ring
	readq []*lconn
	ops   []ringOp
	slab  []byte
	// ringSends and ringRecvs count the writes and reads the ring took
	// (read by tests once the loop has ended).
	ringSends, ringRecvs int64
	// spun is how long the pacer has spun, in nanoseconds: its own CPU,
	// apart from the sockets' work.
	spun     atomic.Int64
	nextScan time.Time
	done     chan struct{}
	// index is the loop's place among the run's loops; idle, how many of
	// its workers were free to take a start when it last looked (plus
	// any handed to it since), for the open model's growth.
	index int
	idle  atomic.Int32
	// prio is what asking for real-time priority came to, ringErr why
	// the loop has no ring (nil: it has one), once the loop has asked.
	prio, ringErr loopSetting
}

// lworker is a worker as an event loop drives it.
type lworker struct {
	w     *worker
	conns []*lconn // one per endpoint the worker has used
	// busy is set during an iteration; step is the next step to send and
	// to the end of the iteration's steps.
	busy      bool
	step, to  int
	scheduled time.Time
	notBefore time.Time // a failed connect's backoff
	cur       *lconn    // the connection with a request in flight
}

type lstate uint8

const (
	lclosed lstate = iota
	lconnecting
	lwriting
	lreading
	lidle
)

// lconn is one non-blocking socket of a worker.
type lconn struct {
	lw       *lworker
	ep       endpoint
	fd       int
	state    lstate
	reused   bool
	retried  bool
	r        *route
	req      []byte
	off      int
	stepIdx  int
	sent     time.Time
	deadline time.Time
	f        framer
	// readable says the socket signalled input while the request was
	// still going out.
	readable bool
}

// affinityCPUs is how many cores the calling thread may run on now
// (runtime.NumCPU is read once, at start-up), or runtime.NumCPU when the
// kernel will not say.
func affinityCPUs() int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil || set.Count() == 0 {
		return runtime.NumCPU()
	}
	return set.Count()
}

func newLoops(g *Generator, n int) []*evloop {
	loops := make([]*evloop, n)
	for i := range loops {
		_, open := g.model.(Open)
		loops[i] = &evloop{g: g, open: open, index: i, epfd: -1, wakefd: -1, addrs: map[endpoint]unix.Sockaddr{},
			margin: 50 * time.Microsecond, pwait2: true, done: make(chan struct{})}
	}
	return loops
}

// start opens the loop's epoll and wake-up descriptors, makes its
// buffers (a generator that never runs needs none) and runs it.
func (l *evloop) start() error {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	wfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(wfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wfd)
		return err
	}
	l.buf, l.events = make([]byte, 64<<10), make([]unix.EpollEvent, 256)
	l.mu.Lock()
	l.epfd, l.wakefd = epfd, wfd
	l.mu.Unlock()
	go l.run()
	return nil
}

// add hands a worker to the loop.
func (l *evloop) add(w *worker) {
	w.ev = l
	l.mu.Lock()
	l.inbox = append(l.inbox, w)
	l.mu.Unlock()
	l.idle.Add(1)
	l.poke()
}

// poke wakes the loop to look at its workers: one was added or retired,
// or the run stopped or was cut off.
func (l *evloop) poke() {
	one := [8]byte{1}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.wakefd >= 0 {
		unix.Write(l.wakefd, one[:])
	}
}

func (l *evloop) run() {
	runtime.LockOSThread() // never unlocked: the thread ends with the loop
	// The pacer's sleeps end within a microsecond of when asked, not the
	// kernel's default 50 us later.
	unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	defer close(l.done)
	defer func() {
		l.mu.Lock()
		unix.Close(l.epfd)
		unix.Close(l.wakefd)
		l.epfd, l.wakefd = -1, -1
		l.mu.Unlock()
	}()
	if l.open && l.g.cfg.realtime {
		// Threads cloned from this one do not inherit the priority, and
		// the thread gives it up when the loop ends: the runtime keeps a
		// locked goroutine's thread when it is the process's main thread.
		err := unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: 1,
			Flags: unix.SCHED_FLAG_RESET_ON_FORK}, 0)
		l.prio.set(err)
		if err == nil {
			defer unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL}, 0)
		}
	}
	l.startRing()
	defer func() {
		if l.ring != nil {
			l.ring.close()
		}
	}()
	for {
		l.takeInbox()
		now := time.Now()
		wake := l.tend(now)
		if len(l.workers) == 0 && l.g.stopping.Load() && l.inboxEmpty() {
			if l.pend.valid {
				l.g.forgo(l.pend.at)
			}
			return
		}
		n := l.wait(now, wake)
		l.batching = true
		for i := range n {
			ev := &l.events[i]
			fd := int(ev.Fd)
			if fd == l.wakefd {
				var b [8]byte
				unix.Read(l.wakefd, b[:])
				continue
			}
			if fd < len(l.byFD) && l.byFD[fd] != nil {
				l.ready(l.byFD[fd], ev.Events)
			}
		}
		l.readBatch()
		l.batching = false
		l.flush()
	}
}

func (l *evloop) inboxEmpty() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.inbox) == 0
}

func (l *evloop) takeInbox() {
	l.mu.Lock()
	in := l.inbox
	l.inbox = nil
	l.mu.Unlock()
	for _, w := range in {
		l.workers = append(l.workers, &lworker{w: w})
	}
}

// idleCap bounds a sleep with nothing due, so a pause's end, a retired
// worker or a cut-off run is seen within it even without a poke.
const idleCap = 5 * time.Millisecond

// wait sleeps in epoll until a socket is ready or wake (less the pacer's
// margin), then spins to a pacer start that is still a little ahead. It
// returns the number of events.
func (l *evloop) wait(now, wake time.Time) int {
	d := idleCap
	if !wake.IsZero() {
		d = min(d, wake.Sub(now))
	}
	// pacing: this sleep ends at the open model's next start.
	pacing := l.pend.valid && wake.Equal(l.pend.at) && d == wake.Sub(now)
	if pacing {
		d -= l.margin
	}
	asked := now.Add(d)
	n, slept := l.epollWait(max(d, 0))
	if pacing && n == 0 && slept {
		// Timed out: learn how late the kernel woke us (when it slept),
		// and spin to the start.
		t0 := time.Now()
		if d > 0 {
			l.learn(t0.Sub(asked))
		}
		for time.Now().Before(l.pend.at) {
		}
		l.spun.Add(int64(time.Since(t0)))
	}
	return n
}

// learn follows the 80th percentile of how late timed wake-ups come (a
// quantile estimate that steps up 1.6 us when a wake-up is later than
// it, down 0.4 us when not), and asks to wake that much early, plus a
// little: the pacer then spins a few microseconds before most starts
// instead of waking after them. The margin stays under 150 us, so a
// machine whose wake-ups are later still costs at most that much spin a
// start.
func (l *evloop) learn(late time.Duration) {
	if late > l.wakeLate {
		l.wakeLate += 1600 * time.Nanosecond
	} else {
		l.wakeLate = max(l.wakeLate-400*time.Nanosecond, 0)
	}
	l.margin = min(l.wakeLate+5*time.Microsecond, 150*time.Microsecond)
}

// epollWait waits up to d for events, to the microsecond where the kernel
// has epoll_pwait2 (5.11), else to the millisecond. While events keep
// coming it first polls without blocking. slept is false when a signal
// cut a wait short (EINTR), so that a pacer does not take it for its
// start's time.
//
// Every wait is a raw system call, outside the runtime's syscall
// bookkeeping (see rawIO), even one that sleeps: the loop keeps its
// processor while it sleeps, so a wake-up never waits for the runtime to
// hand one back, and the runtime never wakes another thread to take it
// over. The runtime's other goroutines run on the spare processor
// (spareProcessor). To the runtime the loop looks busy all the time, so
// it preempts it now and then, and the collector stops it to stop the
// world: both signal the thread, which cuts the sleep short, and the loop
// looks again. Measured against the runtime's way (engine/bench/pacer.sh
// at 10,000/s with --realtime-pacer, 4 alternating rounds): send lag p99
// 69 to 80 us against 80 to 920 us, and 0.1 of a core less CPU.
func (l *evloop) epollWait(d time.Duration) (n int, slept bool) {
	if l.busy || d <= 0 {
		r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_WAIT, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])),
			uintptr(len(l.events)), 0, 0, 0)
		if e == 0 && (r > 0 || d <= 0) {
			l.busy = r > 0
			return int(r), true
		}
	}
	n, slept = l.epollBlock(d)
	l.busy = n > 0
	return n, slept
}

// epollBlock is a wait that may sleep.
func (l *evloop) epollBlock(d time.Duration) (int, bool) {
	for {
		var r uintptr
		var e unix.Errno
		if l.pwait2 {
			ts := unix.NsecToTimespec(int64(d))
			r, _, e = unix.RawSyscall6(unix.SYS_EPOLL_PWAIT2, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])),
				uintptr(len(l.events)), uintptr(unsafe.Pointer(&ts)), 0, 0)
			if e == unix.ENOSYS {
				l.pwait2 = false
				continue
			}
		} else {
			r, _, e = unix.RawSyscall6(unix.SYS_EPOLL_WAIT, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])),
				uintptr(len(l.events)), uintptr(d/time.Millisecond), 0, 0)
		}
		if e != 0 {
			return 0, false // EINTR: the caller looks again
		}
		return int(r), true
	}
}

// rawIO reads or writes a non-blocking socket without the runtime's
// syscall bookkeeping: such a call never blocks, so there is nothing to
// hand the processor over for, and entering and leaving a syscall the
// ordinary way costs more than a loopback read (the scheduler's monitor
// would keep taking the processor away and handing it back). Errors come
// back as unix.Errno values.
func rawIO(trap uintptr, fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// tend looks at every worker not waiting on a socket: it retires, starts
// or continues it, and cuts off requests past their deadline. It returns
// when the loop must next wake without an event (zero: only on events).
func (l *evloop) tend(now time.Time) (wake time.Time) {
	g := l.g
	aborted := g.abortCtx.Err() != nil
	scan := !now.Before(l.nextScan)
	if scan {
		l.nextScan = now.Add(deadlineScan)
	}
	earliest := func(t time.Time) {
		if wake.IsZero() || t.Before(wake) {
			wake = t
		}
	}
	kept := l.workers[:0]
	free := 0
	for _, lw := range l.workers {
		w := lw.w
		if lw.cur != nil {
			c := lw.cur
			switch {
			case aborted || w.aborted.Load():
				l.fail(c, OutcomeUnfinished, now)
			case scan && now.After(c.deadline):
				l.fail(c, OutcomeTimeout, now)
			default:
				kept = append(kept, lw)
				continue
			}
		}
		if lw.busy && !w.stopped() && !aborted {
			if now.Before(lw.notBefore) {
				earliest(lw.notBefore)
			} else {
				l.next(lw, now)
			}
			if lw.cur != nil || lw.busy {
				kept = append(kept, lw)
				continue
			}
		}
		if lw.busy {
			l.endIteration(lw)
		}
		if w.stopped() || aborted || l.ended {
			l.finish(lw)
			continue
		}
		kept = append(kept, lw)
		if g.paused.Load() {
			continue
		}
		if !l.open {
			if now.Before(lw.notBefore) {
				earliest(lw.notBefore)
				continue
			}
			l.begin(lw, w.flow, time.Time{}, now)
			continue
		}
		free++
	}
	clear(l.workers[len(kept):])
	l.workers = kept
	if l.open && !g.paused.Load() && !g.stopping.Load() && !aborted {
		at, started := l.pace(now)
		if !at.IsZero() {
			earliest(at)
		}
		free -= started
	}
	l.idle.Store(int32(free))
	return wake
}

// deadlineScan is how often requests are checked against their timeout.
const deadlineScan = 10 * time.Millisecond

// pace starts the open model's due slots on this loop's free workers. It
// returns when the next one is due, or zero when no worker is free or
// the loop does not pace (see Generator.repace), and how many it started.
func (l *evloop) pace(now time.Time) (next time.Time, started int) {
	g := l.g
	for {
		lw := l.freeWorker()
		if lw == nil || l.ended {
			return time.Time{}, started
		}
		sched := g.sched.Load()
		if sched == nil {
			return time.Time{}, started // the run has not set its schedule yet
		}
		if !l.pend.valid {
			if p := g.pacers.Load(); p > 0 && int32(l.index) >= p {
				return time.Time{}, started
			}
			slot := g.slot.Add(1) - 1
			at := sched.start(slot)
			if g.pastEnd(at) {
				l.ended = true // scheduled past the end of the run
				return now, started
			}
			l.pend.slot, l.pend.at, l.pend.valid = slot, at, true
		}
		if l.pend.at.Sub(now) > time.Microsecond {
			return l.pend.at, started
		}
		l.pend.valid = false
		l.begin(lw, g.slotFlow(l.pend.slot), l.pend.at, now)
		started++
		now = time.Now()
	}
}

// freeWorker is a worker of this loop outside an iteration, if any.
func (l *evloop) freeWorker() *lworker {
	for _, lw := range l.workers {
		if !lw.busy && !lw.w.stopped() && !lw.w.aborted.Load() {
			return lw
		}
	}
	return nil
}

// begin starts one iteration of flow f; scheduled, when set, is when it
// should have started.
func (l *evloop) begin(lw *lworker, f int, scheduled, now time.Time) {
	g := l.g
	lw.busy, lw.step, lw.to, lw.scheduled = true, g.flows[f].from, g.flows[f].to, scheduled
	if l.open {
		g.openBusy.Add(1)
	}
	l.next(lw, now)
}

func (l *evloop) endIteration(lw *lworker) {
	lw.busy = false
	if l.open {
		l.g.openBusy.Add(-1)
	}
}

// next sends the iteration's next step, or ends the iteration.
func (l *evloop) next(lw *lworker, now time.Time) {
	for lw.busy && lw.cur == nil {
		if lw.step >= lw.to {
			l.endIteration(lw)
			return
		}
		if now.Before(lw.notBefore) || lw.w.stopped() || l.g.paused.Load() {
			return
		}
		i := lw.step
		lw.step++
		r := l.g.routes[i].Load()
		c := lw.conn(r.ep)
		c.r, c.stepIdx, c.retried = r, i, false
		c.req = r.static
		lw.w.onRoute.Store(r)
		l.send(c, now)
		if lw.cur != nil {
			return
		}
		now = time.Now() // it failed at once; the next step starts now
	}
}

// startRing sets up the loop's ring, if the kernel gives one.
func (l *evloop) startRing() {
	err := errRingOff
	if ringIO {
		var r *ring
		if r, err = newRing(ringEntries); err == nil {
			l.ring, l.ops, l.slab = r, make([]ringOp, 0, r.entries), make([]byte, int(r.entries)*ringSlot)
		}
	}
	l.ringErr.set(err)
}
