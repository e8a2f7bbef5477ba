package proc

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// setDeathSignal has the kernel kill the child when the thread that
// started it ends. Start runs the fork on a locked thread that lives as
// long as the process, so in effect the child dies with the parent, even
// when the parent is killed with SIGKILL.
func setDeathSignal(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}

// SetDeathSignal makes a child started by Command get sig instead of
// SIGKILL when its parent dies, for a child that must clean up after
// itself. The signal is set on every thread that arms it: the kernel
// sends each thread's, so one thread's SIGKILL would beat the others'.
func SetDeathSignal(cmd *exec.Cmd, sig syscall.Signal) {
	setDeathSignal(cmd)
	cmd.SysProcAttr.Pdeathsig = sig
	cmd.Env = append(cmd.Env, deathSignalEnv+"="+strconv.Itoa(int(sig)))
}

// armParentDeath covers children started by other means than Command.
func armParentDeath() {
	sig := syscall.SIGKILL
	if n, err := strconv.Atoi(os.Getenv(deathSignalEnv)); err == nil && n > 0 {
		sig = syscall.Signal(n)
	}
	unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(sig), 0, 0, 0)
}

// spawner is one OS thread, locked for the life of the process, that
// forks every child: the parent-death signal fires when the forking
// thread exits, and Go may otherwise retire a thread that forked.
var spawner = make(chan func())

func init() {
	go func() {
		runtime.LockOSThread() // never unlocked: the thread lives on
		for fn := range spawner {
			fn()
		}
	}()
}

// Start starts cmd; with cpus non-empty the child is confined to those
// cores from its first instruction (it inherits the forking thread's
// affinity, which is set around the fork only).
func Start(cmd *exec.Cmd, cpus []int) error {
	done := make(chan error, 1)
	spawner <- func() { done <- startPinned(cmd, cpus) }
	return <-done
}

func startPinned(cmd *exec.Cmd, cpus []int) error {
	if len(cpus) == 0 {
		return cmd.Start()
	}
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return fmt.Errorf("read CPU affinity: %w", err)
	}
	for _, c := range cpus {
		set.Set(c)
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("pin to CPUs %v: %w", cpus, err)
	}
	err := cmd.Start()
	if rerr := unix.SchedSetaffinity(0, &old); rerr != nil && err == nil {
		err = fmt.Errorf("restore CPU affinity: %w", rerr)
	}
	return err
}

// PinSelf moves every thread of this process to cpus (all cores when
// cpus is empty), as Pin does. It runs on the thread that starts
// children, so that no start is under way with that thread's mask
// changed for the child.
func PinSelf(cpus []int) error {
	done := make(chan error, 1)
	spawner <- func() { done <- Pin(os.Getpid(), cpus) }
	return <-done
}

// SelfCPUs lists the cores this process's calling thread may run on.
func SelfCPUs() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, fmt.Errorf("read CPU affinity: %w", err)
	}
	var out []int
	for c := 0; len(out) < set.Count(); c++ {
		if set.IsSet(c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// Pin moves every thread of a running process to cpus (all cores when
// cpus is empty). Threads it starts later inherit the mask. A thread
// that one not yet moved starts while Pin goes through the list inherits
// the old mask, so Pin lists the threads again until a listing shows
// none it has not moved.
func Pin(pid int, cpus []int) error {
	var set unix.CPUSet
	if len(cpus) == 0 {
		for c := 0; c < runtime.NumCPU(); c++ {
			set.Set(c)
		}
	}
	for _, c := range cpus {
		set.Set(c)
	}
	moved := map[int]bool{}
	for range pinPasses {
		tids, err := threadsOf(pid)
		if err != nil {
			return err
		}
		fresh := 0
		for _, tid := range tids {
			if moved[tid] {
				continue
			}
			moved[tid] = true
			fresh++
			// A thread may exit between the listing and this call.
			if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
				return fmt.Errorf("pin thread %d of %d to %v: %w", tid, pid, cpus, err)
			}
		}
		if fresh == 0 {
			return nil
		}
	}
	return fmt.Errorf("pin %d to %v: it was still starting threads after %d listings", pid, cpus, pinPasses)
}

// pinPasses bounds Pin's listings of a process that keeps starting
// threads.
const pinPasses = 50

// threadsOf lists the ids of a process's threads. (A variable: a test
// leaves one out of the first listing, as if it had started after it.)
var threadsOf = listThreads

func listThreads(pid int) ([]int, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, fmt.Errorf("list threads of %d: %w", pid, err)
	}
	tids := make([]int, 0, len(tasks))
	for _, t := range tasks {
		if tid, err := strconv.Atoi(t.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}

// PinningSupported reports whether Start can pin children to CPUs.
const PinningSupported = true
