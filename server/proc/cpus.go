package proc

import "runtime"

// InstanceCPUs is the default number of cores for the twin's processes:
// half the machine, at least one, so the generator and dashboard keep the
// rest (one on a two-core box, like the small instance of the study).
func InstanceCPUs() int { return max(1, runtime.NumCPU()/2) }

// CPUList returns the first n cores, or nil when n covers the machine
// (nothing to pin).
func CPUList(n int) []int {
	if n <= 0 || n >= runtime.NumCPU() {
		return nil
	}
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// OtherCPUs returns the cores left when the first n are the instance's:
// where the rest of perflab (the load generator, the dashboard, the
// static edge) runs. It is nil when the instance has every core, and
// they share them.
func OtherCPUs(n int) []int {
	if CPUList(n) == nil {
		return nil
	}
	out := make([]int, 0, runtime.NumCPU()-n)
	for c := n; c < runtime.NumCPU(); c++ {
		out = append(out, c)
	}
	return out
}

// CanPin reports whether pinning processes to cores takes effect here,
// and if not, why: it needs Linux and at least two cores.
func CanPin() (bool, string) {
	switch {
	case runtime.GOOS != "linux":
		return false, "processes are pinned to cores on Linux only, and this is " + runtime.GOOS
	case runtime.NumCPU() < 2:
		return false, "this machine has one core, so the twin and the generator share it"
	}
	return true, ""
}

// AllCPUs lists every core of the machine.
func AllCPUs() []int {
	out := make([]int, runtime.NumCPU())
	for i := range out {
		out[i] = i
	}
	return out
}
