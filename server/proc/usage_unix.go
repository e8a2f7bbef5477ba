//go:build unix

package proc

import (
	"syscall"
	"time"
)

// CPUTime is the user plus system CPU time this process has used so far.
// A child measures the CPU of a stretch of its own work as the
// difference of two readings.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
