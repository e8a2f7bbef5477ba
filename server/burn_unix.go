//go:build unix

package server

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// burn spends d of CPU time on the calling goroutine. The goroutine is
// locked to its thread so the thread's CPU clock counts its work and
// nothing else's; time the thread spends descheduled (other workers on the
// same pinned core) does not count, so contention stretches the wall time
// exactly as it would for real work.
func burn(d time.Duration) {
	if d <= 0 {
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start, ok := threadCPU()
	if !ok {
		burnWall(d)
		return
	}
	x := uint64(start) | 1
	for {
		x = spin(x)
		now, _ := threadCPU()
		if now-start >= d {
			break
		}
	}
	burnSink.Store(x)
}

func threadCPU() (time.Duration, bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
