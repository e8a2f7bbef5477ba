package proc

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// statFields are the fields of /proc/PID/stat after the command name:
// fields[0] is the state (field 3 of proc(5)).
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("read /proc/%d/stat: no command name", pid)
	}
	return strings.Fields(string(b[i+1:])), nil
}

// StartTime is when process pid started, in clock ticks since boot: with
// the pid it names one process for good, since pids are reused.
func StartTime(pid int) (uint64, error) {
	f, err := statFields(pid)
	if err != nil || len(f) < 20 {
		return 0, fmt.Errorf("read the start time of process %d: %v", pid, err)
	}
	return strconv.ParseUint(f[19], 10, 64) // field 22
}

// clockTick is the kernel's USER_HZ, 100 on every Linux port Go runs on.
const clockTick = 10 * time.Millisecond

// children lists the processes pid started that still run.
func children(pid int) []int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if c, err := strconv.Atoi(f); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// TreeCPU is the CPU time, user plus system, of process pid, of the
// children it has reaped, and of its children running now: a server
// that forks a process per connection (postgres) with all its
// connections, ended or not.
func TreeCPU(pid int) time.Duration {
	var ticks uint64
	add := func(p int, reaped bool) {
		f, err := statFields(p)
		if err != nil || len(f) < 15 {
			return
		}
		last := 12 // utime, stime: fields 14, 15
		if reaped {
			last = 14 // and cutime, cstime: 16, 17
		}
		for _, s := range f[11 : last+1] {
			n, _ := strconv.ParseUint(s, 10, 64)
			ticks += n
		}
	}
	add(pid, true)
	for _, c := range children(pid) {
		add(c, false)
	}
	return time.Duration(ticks) * clockTick
}

// PinTree pins process pid and every process below it, as Pin does;
// processes they start later inherit the mask.
func PinTree(pid int, cpus []int) error {
	if err := Pin(pid, cpus); err != nil {
		return err
	}
	for _, c := range children(pid) {
		if err := PinTree(c, cpus); err != nil && Running(c) {
			return err
		}
	}
	return nil
}
