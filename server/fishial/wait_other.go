//go:build !linux

package fishial

import "time"

// finishWait sleeps d with Go's timer: no finer sleep is used here.
func finishWait(d time.Duration) {
	if d > 0 {
		time.Sleep(d)
	}
}
