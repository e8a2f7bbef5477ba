package server

import (
	"sync/atomic"
	"unsafe"
)

// board is a page of memory shared by the twin's processes: the parent
// writes the knobs and its own figures there, every worker reads the knobs
// at each request and counts what it does in its slot. Reading it costs a
// few atomic loads, so Stats stays cheap, and figures are live, not polled.
type board struct {
	mem []byte
	// unmap releases mem; set by the platform's map function.
	unmap func() error
}

// Header words.
const (
	hKnobs = iota
	hWorkers
	hQueueDepth
	hRedisUp
	hEdgeRequests
	hEdgeBytes
	hEdgeNotModified
	hStartedUnixNano
	// hInstanceCPUs is the cores the instance is pinned to now.
	hInstanceCPUs
	// hRebalance counts worker-count changes; workers watch it and drop
	// their keep-alive connections, so clients reconnect and the kernel
	// spreads them over the new set of workers.
	hRebalance
	// The database server's own figures (PostgreSQL), polled by the
	// parent: cumulative since the twin started but hDBConnections, a
	// gauge; hDBUp is 1 while the last poll answered.
	hDBTransactions
	hDBSessions
	hDBActiveMicros
	hDBConnections
	hDBUp
	headerWords = 16
)

// Slot words: one slot per worker process position, then one each for
// the task worker, the embedded Redis and the edge. Counters are
// cumulative over every process that held the slot.
const (
	sPID = iota
	sState
	sRequests
	sInFlight // signed; decremented by adding ^0
	sActive   // signed
	sPeakActive
	sDBQueries
	sCacheHits
	sCacheMisses
	sRedisErrors
	sErrors5xx
	sPanics
	sCPUNow  // CPU ns of the process in the slot now, written by it
	sCPUBase // CPU ns of the slot's earlier processes, written by the parent
	sRestarts
	sTasksApplied
	sTaskFailures
	sAPIRequests
	// sChildPID is a process the slot's process runs: the postmaster of
	// the private PostgreSQL cluster.
	sChildPID
	slotWords = 24
)

// Slot states.
const (
	stateOff = iota
	stateStarting
	stateUp
	stateDraining
)

var stateNames = [...]string{"off", "starting", "up", "draining"}

// The slots of the processes beside the workers, which use
// 0..MaxWorkers-1.
const (
	taskSlot  = MaxWorkers + iota // the task worker
	redisSlot                     // the embedded Redis
	edgeSlot                      // the static edge
	dbSlot                        // the private PostgreSQL cluster's watchdog
	slots
)

const boardSize = (headerWords + slots*slotWords) * 8

func (b *board) word(i int) *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&b.mem[i*8]))
}

func (b *board) hdr(i int) *atomic.Uint64 { return b.word(i) }

func (b *board) slot(s, f int) *atomic.Uint64 { return b.word(headerWords + s*slotWords + f) }

func (b *board) add(s, f int, n uint64) { b.slot(s, f).Add(n) }

func (b *board) inc(s, f int) { b.slot(s, f).Add(1) }

func (b *board) dec(s, f int) { b.slot(s, f).Add(^uint64(0)) }

func (b *board) signed(s, f int) int64 { return int64(b.slot(s, f).Load()) }

// raise lifts slot word f to at least v.
func (b *board) raise(s, f int, v uint64) {
	w := b.slot(s, f)
	for {
		old := w.Load()
		if v <= old || w.CompareAndSwap(old, v) {
			return
		}
	}
}

func (b *board) knobs() knobs { return knobsFromWord(b.hdr(hKnobs).Load()) }

func (b *board) close() error {
	if b.unmap == nil {
		return nil
	}
	err := b.unmap()
	b.unmap = nil
	return err
}
