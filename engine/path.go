package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The generator's two ways of driving connections. Both log the same
// samples into the same recorders, so every figure means the same on
// either.
const (
	// PathAuto takes the event loop when the scenario fits it, else
	// goroutines.
	PathAuto = "auto"
	// PathLoop drives every connection from event loops, one per core
	// (one per two when every target is on the loopback; as few as the
	// rate needs in the open model; see loopCount and dealtLoops), each on
	// its own thread, through epoll, handing each batch of reads and of
	// writes to the kernel in one io_uring call where it allows: no
	// goroutine parks or wakes per request, and the open model's pacer
	// wakes to the microsecond. Linux only, for plain-HTTP steps with
	// fixed requests whose answers are judged by status alone.
	PathLoop = "loop"
	// PathGoroutine gives each user, connection or in-flight slot a
	// goroutine of its own: everything a scenario can say (TLS, captures,
	// body checks, think times, data rows).
	PathGoroutine = "goroutine"
)

// Paths lists the paths a run may ask for.
var Paths = []string{PathAuto, PathLoop, PathGoroutine}

// defaultPath is the path of a generator that names none.
var defaultPath = PathAuto

// Path picks how the generator drives its connections (PathAuto unless
// set). Asking for PathLoop where it cannot serve the scenario makes New
// fail with the reason.
func Path(p string) Option { return func(c *config) { c.path = p } }

// Path reports the path the generator drives its connections by:
// PathLoop or PathGoroutine.
func (g *Generator) Path() string {
	if g.loopPath {
		return PathLoop
	}
	return PathGoroutine
}

// choosePath settles the generator's path from the one asked for.
func (g *Generator) choosePath() error {
	asked := g.cfg.path
	if asked == "" {
		asked = defaultPath
	}
	switch asked {
	case PathGoroutine:
		return nil
	case PathAuto, PathLoop:
	default:
		return fmt.Errorf("unknown engine path %q: choose auto, loop or goroutine", asked)
	}
	err := g.loopFits()
	if err != nil && asked == PathLoop {
		return fmt.Errorf("the event loop cannot run this scenario: %w; use the goroutine path", err)
	}
	g.loopPath = err == nil
	if g.loopPath {
		g.loops = newLoops(g, loopCount(min(runtime.GOMAXPROCS(0), affinityCPUs()), g.sharesTargetsCores()))
	}
	return nil
}

// TargetApart says the targets run on cores this process is kept off (a
// twin pinned to its own), so that the event loops take every core the
// process may use even when the targets are on the loopback.
func TargetApart() Option { return func(c *config) { c.apart = true } }

// loopCount is how many event loops a run gets from the cores it may use
// (GOMAXPROCS and the process's CPU affinity as it is now, which a
// pinned twin may have narrowed since start-up): a loop each, or half as
// many when the targets serve from the same cores (sharesTargetsCores).
// The runtime gets one processor more when the loops start
// (spareProcessor). Measured on two cores against the
// loopback okserver, 64 connections, 8 alternating rounds of 5 s: one
// loop sent 1.07 times the requests of two (ahead in 7 of 8), at 8.3 us
// of CPU a request against 10.7, while the target had a core to itself.
func loopCount(cores int, shared bool) int {
	if shared {
		cores /= 2
	}
	return max(1, cores)
}

// sharesTargetsCores says whether the targets serve from the cores the
// loops would use: every step's target is on this machine's loopback
// (onLoopback), and TargetApart was not given.
func (g *Generator) sharesTargetsCores() bool {
	if g.cfg.apart {
		return false
	}
	seen := map[string]bool{}
	for i := range g.routes {
		r := g.routes[i].Load()
		if r == nil || seen[r.ep.host] {
			continue
		}
		seen[r.ep.host] = true
		if !onLoopback(r.ep.host, min(g.cfg.timeout, lookupLimit)) {
			return false
		}
	}
	return true
}

// lookupHost resolves a target's name for onLoopback.
var lookupHost = net.DefaultResolver.LookupNetIP

// lookupLimit bounds that look-up: a name that does not resolve by then
// counts as elsewhere.
const lookupLimit = 2 * time.Second

// onLoopback says whether host is on this machine's loopback: an address
// in 127.0.0.0/8 or ::1, the name localhost (or one under .localhost), or
// a name whose every address is one of those (a machine's own name often
// is, such as Debian's 127.0.1.1), looked up within limit.
func onLoopback(host string, limit time.Duration) bool {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap().IsLoopback()
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	ips, err := lookupHost(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return false
	}
	for _, ip := range ips {
		if !ip.Unmap().IsLoopback() {
			return false
		}
	}
	return true
}

// loopFits says why the event loop cannot serve the run, or nil if it can.
func (g *Generator) loopFits() error {
	if runtime.GOOS != "linux" {
		return errors.New("it runs on Linux only")
	}
	if m, ok := g.model.(Closed); ok && m.Think > 0 {
		return errors.New("users think between iterations")
	}
	if g.nUser > 0 {
		return errors.New("users have setup steps of their own")
	}
	if g.rows != nil {
		return errors.New("users take data rows")
	}
	for i := g.nSetup; i < len(g.steps); i++ {
		if err := loopServes(g.routes[i].Load()); err != nil {
			return fmt.Errorf("step %s %w", g.steps[i].Name, err)
		}
	}
	return nil
}

// loopServes says why the event loop cannot send a step's requests, or
// nil.
func loopServes(r *route) error {
	st := &r.step
	switch {
	case r.ep.tls:
		return errors.New("uses TLS")
	case r.static == nil:
		return errors.New("uses variables")
	case len(st.Capture) > 0:
		return errors.New("captures values")
	case st.Contains != "" || len(st.Fields) > 0:
		return errors.New("checks the answer's body")
	case st.Think.Max > 0:
		return errors.New("has a think time")
	}
	return nil
}

// startLoops starts the event loops, if the run has any.
func (g *Generator) startLoops() error {
	spareProcessor(len(g.loops))
	for i, l := range g.loops {
		if err := l.start(); err != nil {
			for _, later := range g.loops[i:] {
				close(later.done) // never ran
			}
			g.Stop()
			for _, l := range g.loops {
				<-l.done
			}
			return fmt.Errorf("start the event loop: %w", err)
		}
	}
	return nil
}

// spareMu serialises spareProcessor.
var spareMu sync.Mutex

// spareProcessor gives the runtime a processor besides the loops' own.
// A loop holds its processor while it works and spins; while it sleeps
// in epoll the runtime may lend that processor to another goroutine (the
// aggregator, the dashboard), and a loop that wakes before it is handed
// back waits for it, starting its requests late by as much. Measured at
// 10,000 requests a second on two cores (engine/bench/pacer.sh): send
// lag p99 0.6 to 1.4 ms with two loops on two processors, 0.16 to 0.2 ms
// with a third.
func spareProcessor(loops int) {
	spareMu.Lock()
	defer spareMu.Unlock()
	if runtime.GOMAXPROCS(0) <= loops {
		runtime.GOMAXPROCS(loops + 1)
	}
}

// launch sets a new worker going: on a goroutine of its own, or dealt to
// the next event loop. Called with g.mu held.
func (g *Generator) launch(w *worker) {
	if !g.loopPath {
		go w.run()
		return
	}
	i := g.nextLoop % g.repace()
	g.nextLoop++
	if int32(i) >= g.loopsUsed.Load() {
		g.loopsUsed.Store(int32(i) + 1)
	}
	g.loops[i].add(w)
}

// openPerLoop is the open-model rate one event loop paces alone. Each
// loop claims a start of its own and sleeps and spins towards it, so two
// loops pacing a slow rate keep two cores busy and compete with the
// target for them, while one leaves a core to the target and the
// runtime. Measured on two cores against the loopback okserver (8
// alternating rounds of 8 s at 10,000/s, as engine/bench/pacer.sh runs
// them): send lag p99 47 to 91 us with one loop, 82 to 552 us with two. At 15,000/s one loop
// starts to fall behind on this machine (lag p50 2 to 142 us).
const openPerLoop = 12000

// dealtLoops is how many of the loops take new workers: all of them,
// except in an open-model run, which keeps its workers on as few loops
// as its rate needs (the plan's peak, until a live change takes over
// from the plan). Called with g.mu held.
func (g *Generator) dealtLoops() int {
	if g.load.Model != "open" {
		return len(g.loops)
	}
	rate := g.load.Rate
	if len(g.plan.stages) > 0 && !g.planOff.Load() {
		rate = max(rate, g.plan.peak())
	}
	need := int(math.Ceil(rate / openPerLoop))
	return max(1, min(need, len(g.loops)))
}

// repace sets how many loops claim the open model's starts: as many as
// take new workers. A rate lowered live leaves workers on loops past
// that; those loops stop claiming starts (so they stop sleeping and
// spinning towards them), their workers finish what they are in and
// wait, and freeOpenWorkers leaves them out, so that the run grows
// workers on the pacing loops if those run short. It returns that
// count, which is also how many loops take new workers. Called with g.mu
// held.
func (g *Generator) repace() int {
	n := g.dealtLoops()
	g.pacers.Store(int32(n))
	return n
}

// freeOpenWorkers is how many of the open model's n workers are free to
// take a start: on the event loops, those of the loops that pace.
func (g *Generator) freeOpenWorkers(n int) int64 {
	if !g.loopPath {
		return int64(n) - g.openBusy.Load()
	}
	var free int64
	for _, l := range g.loops[:min(int(g.pacers.Load()), len(g.loops))] {
		free += int64(l.idle.Load())
	}
	return free
}

// RealtimePacer asks the event loops of an open-model run to run at
// real-time priority (SCHED_FIFO, the lowest real-time level), so that
// a busy machine's other threads cannot delay a start the pacer is due
// to make. The system must allow it (root, CAP_SYS_NICE or an
// RLIMIT_RTPRIO above 0); where it does not, the loops run as usual and
// Health.PacerPriority says why. Linux's real-time throttling leaves
// other threads at least 5% of each core, but a loop that is busy all the
// time (a rate near what the target can take) can still slow a target
// that shares its core: keep the target on other cores.
func RealtimePacer() Option { return func(c *config) { c.realtime = true } }

// Pacer priorities, as Health.PacerPriority reports them.
const (
	PacerRealtime = "realtime"
	PacerNormal   = "normal"
)

// loopSetting is what a loop's request made once as it starts (real-time
// priority, a ring) came to: the error, nil when granted, set by the loop
// and read by the aggregator.
type loopSetting struct{ p atomic.Pointer[error] }

func (s *loopSetting) set(err error) { s.p.Store(&err) }

// get says whether the loop has made its request yet, and what came of it.
func (s *loopSetting) get() (made bool, err error) {
	if p := s.p.Load(); p != nil {
		return true, *p
	}
	return false, nil
}

// pacerPriority says what became of a RealtimePacer request: "" when
// none was made (or the loops have not started), PacerRealtime when
// every loop got it, else PacerNormal and why.
func (g *Generator) pacerPriority() string {
	if !g.cfg.realtime {
		return ""
	}
	if !g.loopPath {
		return PacerNormal + " (real-time priority is the event loop's; this run uses goroutines)"
	}
	if _, open := g.model.(Open); !open {
		return PacerNormal + " (real-time priority is for the open model's pacer)"
	}
	for _, l := range g.loops {
		asked, refused := l.prio.get()
		switch {
		case !asked:
			return ""
		case errors.Is(refused, fs.ErrPermission):
			return PacerNormal + " (real-time priority refused: " + refused.Error() +
				"; run as root, give the binary CAP_SYS_NICE with setcap cap_sys_nice=ep, or raise ulimit -r)"
		case refused != nil:
			return PacerNormal + " (real-time priority refused: " + refused.Error() + ")"
		}
	}
	return PacerRealtime
}

// Ways the event loops read and write, as Health.LoopIO reports them.
const (
	// LoopIOBatched: each batch of reads or writes goes to the kernel in
	// one io_uring call.
	LoopIOBatched = "io_uring"
	// LoopIOCalls: a read or write call per request (the kernel gives
	// no io_uring; Health.LoopIO says why).
	LoopIOCalls = "read/write"
)

// LoopIOWay is Health.LoopIO without its reason: LoopIOBatched,
// LoopIOCalls or "".
func LoopIOWay(io string) string {
	if strings.HasPrefix(io, LoopIOCalls) {
		return LoopIOCalls
	}
	return io
}

// loopIO says how the event loops read and write: "" off the loop path
// (or before the loops start), LoopIOBatched when every loop batches,
// else LoopIOCalls and why.
func (g *Generator) loopIO() string {
	if !g.loopPath {
		return ""
	}
	for _, l := range g.loops {
		started, none := l.ringErr.get()
		switch {
		case !started:
			return ""
		case none != nil:
			return LoopIOCalls + ", io_uring " + none.Error()
		}
	}
	return LoopIOBatched
}

// pacerSpin is how long the event loops' pacers have spun so far.
func (g *Generator) pacerSpin() time.Duration {
	var d time.Duration
	for _, l := range g.loops {
		d += time.Duration(l.spun.Load())
	}
	return d
}

// pokeLoops wakes every event loop to look at its workers.
func (g *Generator) pokeLoops() {
	for _, l := range g.loops {
		l.poke()
	}
}
