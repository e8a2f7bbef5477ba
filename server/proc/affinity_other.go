//go:build !linux

package proc

import "runtime"

// AllowedCPUs is how many cores this process may run on: the machine's,
// as pinning is not supported here.
func AllowedCPUs() int { return runtime.NumCPU() }
