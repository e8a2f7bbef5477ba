package proc

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
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
		if pid, err := strconv.Atoi(e.Name()); err == nil && RunsIn(pid, dir) {
			out = append(out, pid)
		}
	}
	return out
}

// RunsIn reports whether process pid is running with dir as its working
// directory.
func RunsIn(pid int, dir string) bool {
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	return err == nil && filepath.Clean(cwd) == filepath.Clean(dir) && Running(pid)
}
