package server

import (
	"sync/atomic"
	"time"
)

// The django profile's costs. Each stands for CPU work the study's Python
// stack did on its small instance and Go does not: the twin spends it for
// real on the thread that serves the request (burn), never as a sleep, so
// it queues and contends for the instance's cores the way the real work
// did. Change them here only; README "The twin" keeps the calibration
// against the study's tables (SEED.md).
const (
	// RequestCost is Django + DRF around one API view: middleware chain,
	// request parsing, authentication and permission classes, content
	// negotiation and JSON rendering. A trivial DRF view costs a few ms of
	// CPython on a burstable vCPU.
	RequestCost = 3 * time.Millisecond

	// QueryCost is one ORM query as the study's instance paid for it:
	// the ORM's Python side (queryset clone, SQL compilation, the
	// driver, model instantiation) and the database server's own parse,
	// plan and execute, which ran on the same small instance (the twin's
	// embedded SQLite costs it only tens of µs). The N+1 view's 42
	// queries then put one likes request at about 20 ms of CPU, the
	// study's 19 ms minimum latency.
	QueryCost = 400 * time.Microsecond

	// ORMQueryCost is QueryCost's Python share alone: queryset clone,
	// SQL compilation, the driver's parameter quoting and reading of
	// rows, model instantiation. With --db postgres the database
	// server's share (the rest of QueryCost, about 150 µs of parse, plan
	// and execute on the small instance) is real work by a real server,
	// on the same cores, with a real round trip per query.
	ORMQueryCost = 250 * time.Microsecond

	// AsyncHopCost is one sync_to_async(thread_sensitive=True) hand-off
	// as a busy one-vCPU instance pays it: Future creation, executor
	// submission, contextvars copy and call_soon_threadsafe back to the
	// loop, and above all the GIL passing between the event loop's thread
	// and the DB thread, each a forced switch with its cache misses. The
	// async likes view pays it for the user lookup, once for its whole
	// N+1 block (as the study's view wrapped it) and once per cache call.
	// Calibrated: at 500 µs async with 4 workers lands near the study's
	// 1.55x of sync (README, "The twin"); the rest of async's cost is
	// real, its views interleaving on the worker's one thread.
	AsyncHopCost = 500 * time.Microsecond

	// StaticCost is nginx on the instance serving one SPA file: request
	// parsing, open/stat, TLS record encryption and the kernel's send path
	// on the same vCPU the API uses. The edge does not pay it: a CDN runs
	// on other machines.
	StaticCost = 1 * time.Millisecond

	// TaskCost is Celery's own work per task: message decode, task lookup,
	// acknowledgement and result handling, on the instance's CPU.
	TaskCost = 2 * time.Millisecond

	// PasswordIterations is PBKDF2-SHA256's iteration count for stored
	// passwords: Django 4.2 LTS's default. Signing in pays it for real in
	// every profile (it is work, not framework overhead): about 100 ms on
	// one core of a 2-core AMD EPYC VM (go test -run TestPasswordCost -v
	// ./server prints it on yours).
	PasswordIterations = 600_000
)

// Costs are the declared per-operation costs a profile spends.
type Costs struct {
	Request, Query, AsyncHop, Static, Task time.Duration
	// OneThread runs each worker with GOMAXPROCS=1, as one CPython
	// interpreter thread.
	OneThread bool
}

// ProfileCosts returns the costs of profile "django" or "go" (none).
func ProfileCosts(profile string) Costs {
	if profile != ProfileDjango {
		return Costs{}
	}
	return Costs{
		Request:   RequestCost,
		Query:     QueryCost,
		AsyncHop:  AsyncHopCost,
		Static:    StaticCost,
		Task:      TaskCost,
		OneThread: true,
	}
}

func (k knobs) costs() Costs {
	if k.goProfile {
		return ProfileCosts(ProfileGo)
	}
	c := ProfileCosts(ProfileDjango)
	if k.postgres {
		c.Query = ORMQueryCost
	}
	return c
}

// burnSink keeps the spin loop's result alive so the compiler cannot
// drop the work.
var burnSink atomic.Uint64

// spin does a few microseconds of integer work.
func spin(x uint64) uint64 {
	for i := 0; i < 2000; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

// burnWall spins for d of wall time, where no CPU clock is available.
func burnWall(d time.Duration) {
	end := time.Now().Add(d)
	x := uint64(1)
	for time.Now().Before(end) {
		x = spin(x)
	}
	burnSink.Store(x)
}
