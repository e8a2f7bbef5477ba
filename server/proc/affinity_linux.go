package proc

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// AllowedCPUs is how many cores this process may run on now, and its
// children with it: the machine's, or fewer once it is pinned.
func AllowedCPUs() int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil || set.Count() == 0 {
		return runtime.NumCPU()
	}
	return set.Count()
}
