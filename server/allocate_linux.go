package server

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// allocate gives f real blocks for its first size bytes (and that size),
// failing now if the disk has no room for them.
func allocate(f *os.File, size int64) error {
	err := unix.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, unix.EOPNOTSUPP) { // a file system without fallocate
		return writeZeros(f, size)
	}
	return err
}
