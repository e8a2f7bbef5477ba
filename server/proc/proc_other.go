//go:build !linux

package proc

import (
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

func setDeathSignal(cmd *exec.Cmd) {}

func armParentDeath() {}

// Start starts cmd. Pinning to CPUs is not supported here; callers warn.
func Start(cmd *exec.Cmd, cpus []int) error { return cmd.Start() }

// Pin is not supported here; callers warn.
func Pin(pid int, cpus []int) error { return nil }

// PinSelf is not supported here; callers warn.
func PinSelf(cpus []int) error { return nil }

// SelfCPUs is not known here.
func SelfCPUs() ([]int, error) { return nil, nil }

// PinningSupported reports whether Start can pin children to CPUs.
const PinningSupported = false

// SetDeathSignal is not supported here.
func SetDeathSignal(cmd *exec.Cmd, sig syscall.Signal) {}

// StartTime is not known here: 0 for a running process.
func StartTime(pid int) (uint64, error) {
	if !Running(pid) {
		return 0, fmt.Errorf("process %d is not running", pid)
	}
	return 0, nil
}

// TreeCPU is not measured here.
func TreeCPU(pid int) time.Duration { return 0 }

// PinTree is not supported here; callers warn.
func PinTree(pid int, cpus []int) error { return nil }
