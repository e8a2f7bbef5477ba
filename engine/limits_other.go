//go:build !unix

package engine

// readOpenFileLimit knows no limit on this platform.
func readOpenFileLimit() int { return 0 }
