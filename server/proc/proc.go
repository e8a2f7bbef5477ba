// Package proc runs parts of perflab as child processes of the same
// binary: the twin's workers and task worker, the Fishial race's processes
// and nodes. A child is the binary re-executed with a hidden first
// argument naming its role; every child dies with its parent.
package proc

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
)

// roleArg is the hidden first argument that marks a child process.
const roleArg = "__perflab-role"

// parentEnv carries the parent's pid, so a child whose parent died before
// the death signal was armed notices and leaves.
const parentEnv = "PERFLAB_PARENT_PID"

// deathSignalEnv carries the signal a child gets when its parent dies,
// when it is not SIGKILL (see SetDeathSignal).
const deathSignalEnv = "PERFLAB_PARENT_DEATH_SIGNAL"

var (
	mu    sync.Mutex
	roles = map[string]func(args []string) int{}
)

// Register makes fn runnable as a child role. Packages call it from init;
// fn receives the arguments after the role name and returns the exit code.
func Register(role string, fn func(args []string) int) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := roles[role]; dup {
		panic("proc: role registered twice: " + role)
	}
	roles[role] = fn
}

// Main runs the child role named on the command line, if any, and exits;
// otherwise it returns at once. Call it first in main and in TestMain of
// any package whose tests start children.
func Main() {
	if len(os.Args) < 3 || os.Args[1] != roleArg {
		return
	}
	role := os.Args[2]
	mu.Lock()
	fn, ok := roles[role]
	mu.Unlock()
	if !ok {
		fmt.Fprintf(os.Stderr, "perflab: unknown child role %q\n", role)
		os.Exit(2)
	}
	if want := os.Getenv(parentEnv); want != "" && want != strconv.Itoa(os.Getppid()) {
		os.Exit(1) // the parent is already gone
	}
	armParentDeath()
	if want := os.Getenv(parentEnv); want != "" && want != strconv.Itoa(os.Getppid()) {
		os.Exit(1) // it died while the signal was being armed
	}
	os.Exit(fn(os.Args[3:]))
}

// Command prepares this binary to run role with args as a child that
// dies with the calling process. Start it with Start to pin it to CPUs.
func Command(role string, args ...string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable to start %s: %w", role, err)
	}
	cmd := exec.Command(exe, append([]string{roleArg, role}, args...)...)
	cmd.Env = append(os.Environ(), parentEnv+"="+strconv.Itoa(os.Getpid()))
	setDeathSignal(cmd)
	return cmd, nil
}
