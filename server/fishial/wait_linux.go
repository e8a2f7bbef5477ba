//go:build linux

package fishial

import (
	"time"

	"golang.org/x/sys/unix"
)

// finishWait sleeps d in the kernel, on this goroutine's thread: a
// blocking call, so the runtime lets other goroutines run meanwhile.
func finishWait(d time.Duration) {
	if d <= 0 {
		return
	}
	ts := unix.NsecToTimespec(d.Nanoseconds())
	for unix.Nanosleep(&ts, &ts) == unix.EINTR {
	}
}
