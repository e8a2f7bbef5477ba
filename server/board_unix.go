//go:build unix

package server

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// newBoard creates the shared page in dir and unlinks its name at once:
// the children get the open file, and nothing is left on disk even if
// every process is killed.
func newBoard(dir string) (*board, *os.File, error) {
	f, err := os.CreateTemp(dir, "board-*")
	if err != nil {
		return nil, nil, fmt.Errorf("create shared stats page: %w", err)
	}
	os.Remove(f.Name())
	// The page gets its blocks now. A sparse file would get them when a
	// process first writes through its mapping, and on a full disk that
	// write is a SIGBUS: a crash with a stack dump instead of an error.
	if err := allocate(f, boardSize); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("allocate shared stats page: %w", err)
	}
	b, err := mapBoard(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return b, f, nil
}

// writeZeros allocates f's first size bytes the portable way: by writing
// them.
func writeZeros(f *os.File, size int64) error {
	_, err := f.WriteAt(make([]byte, size), 0)
	return err
}

// mapBoard maps a board file handed down by the parent.
func mapBoard(f *os.File) (*board, error) {
	mem, err := unix.Mmap(int(f.Fd()), 0, boardSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map shared stats page: %w", err)
	}
	return &board{mem: mem, unmap: func() error { return unix.Munmap(mem) }}, nil
}
