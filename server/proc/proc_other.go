//go:build !linux

package proc

import "os/exec"

func setDeathSignal(cmd *exec.Cmd) {}

func armParentDeath() {}

// Start starts cmd. Pinning to CPUs is not supported here; callers warn.
func Start(cmd *exec.Cmd, cpus []int) error { return cmd.Start() }

// Pin is not supported here; callers warn.
func Pin(pid int, cpus []int) error { return nil }

// PinningSupported reports whether Start can pin children to CPUs.
const PinningSupported = false
