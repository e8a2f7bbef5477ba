package engine

import (
	"fmt"
	"math"
)

// Every connection a worker opens holds a file descriptor, so the
// process's open-file limit bounds the workers a run may start: past it,
// connects fail with "too many open files", and long before it a huge
// count spends gigabytes on workers that can never connect. The limit is
// read once per generator; Go raises the soft limit to the hard one at
// start-up, so what it reads is the most this process can have.

// openFileLimit is the process's open-file limit, or 0 where there is
// none or it cannot be read (see limits_unix.go).
var openFileLimit = readOpenFileLimit

// fileHeadroom is what a limit of n keeps for everything that is not a
// load connection: the terminal, the record file, the twin's listeners,
// Redis and database connections, child processes' pipes.
func fileHeadroom(n int) int { return max(128, n/10) }

// connLimit is how many load connections the open-file limit leaves room
// for.
func connLimit() int {
	n := openFileLimit()
	if n <= 0 || n > math.MaxInt32 {
		return math.MaxInt32
	}
	return max(1, n-fileHeadroom(n))
}

// MaxConns is how many users, connections or requests in flight a run
// against one endpoint may have under the open-file limit.
func MaxConns() int { return connLimit() }

// LimitError is a load too large for the open-file limit.
type LimitError struct {
	Asked int // users, connections or requests in flight asked for
	Max   int // how many fit
	Files int // the open-file limit
}

// Reason says why Max is the most.
func (e *LimitError) Reason() string {
	return fmt.Sprintf("each connection holds an open file, and ulimit -n is %d, which leaves room for %d", e.Files, e.Max)
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("more than the open-file limit allows: %s; ask for at most %d, or raise the limit with `ulimit -n N` in the shell that starts perflab (past the hard limit, ulimit -Hn, that needs root)", e.Reason(), e.Max)
}

// CheckConns refuses a count of users, connections or requests in flight
// above MaxConns with a *LimitError.
func CheckConns(n int) error {
	if max := MaxConns(); n > max {
		return &LimitError{Asked: n, Max: max, Files: openFileLimit()}
	}
	return nil
}

func (g *Generator) limitError(asked int) *LimitError {
	return &LimitError{Asked: asked, Max: g.maxWorkers, Files: openFileLimit()}
}
