//go:build !linux

package fishial

import "time"

// threadCPU cannot read a thread's CPU here: no step is measured.
func threadCPU() (tid int, cpu time.Duration, ok bool) { return 0, 0, false }
