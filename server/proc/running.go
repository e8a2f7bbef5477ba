package proc

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
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

// InDirectory lists the running processes whose working directory is
// dir (PostgreSQL puts every process of a cluster in its data
// directory). Where there is no /proc, none.
func InDirectory(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err == nil && cwd == dir && Running(pid) {
			out = append(out, pid)
		}
	}
	return out
}
