//go:build !linux

package proc

import "os/exec"

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
