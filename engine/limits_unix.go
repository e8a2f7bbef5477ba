//go:build unix

package engine

import (
	"math"
	"syscall"
)

func readOpenFileLimit() int {
	var rl syscall.Rlimit
	// Unlimited reads as the largest value, above MaxInt32.
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > math.MaxInt32 {
		return 0
	}
	return int(rl.Cur)
}
