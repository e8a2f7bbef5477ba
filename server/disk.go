package server

import (
	"errors"
	"fmt"
	"syscall"
)

// noSpace rewords err, a failed write of the twin's files in its data
// directory, when the reason is a lack of room: a full disk or quota, or
// a file-size limit (ulimit -f), which the kernel reports alike to the
// writer. Any other error comes back as it is.
func (t *Twin) noSpace(err error) error {
	dir := t.dir
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		elsewhere := "point --data-dir at another disk"
		if t.started.DataDir == "" {
			elsewhere = "set TMPDIR to a directory on another disk"
		}
		return fmt.Errorf("no space left on %s (%w); free some space there, or %s", dir, err, elsewhere)
	case errors.Is(err, syscall.EFBIG):
		return fmt.Errorf("no space left on %s for the twin's files: a file-size limit (ulimit -f) is smaller than they are (%w); raise it and start again", dir, err)
	}
	return err
}
