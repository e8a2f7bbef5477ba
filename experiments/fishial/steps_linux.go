package fishial

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU reads the calling thread's id and CPU clock.
func threadCPU() (tid int, cpu time.Duration, ok bool) {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0, 0, false
	}
	return unix.Gettid(), time.Duration(ts.Nano()), true
}
