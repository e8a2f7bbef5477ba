package proc

import (
	"bytes"
	"fmt"
	"os"
)

// Running reports whether process pid exists and is not a zombie: a
// zombie runs nothing and only waits for its parent to reap it, so for
// "did every child go?" it counts as gone.
func Running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err == nil {
		// The state letter follows the command name, which ends at the
		// last ')'.
		i := bytes.LastIndexByte(b, ')')
		return i > 0 && i+2 < len(b) && b[i+2] != 'Z'
	}
	if _, statErr := os.Stat("/proc/self/stat"); statErr == nil {
		return false // a /proc without the pid: it is gone
	}
	return exists(pid)
}
