//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package engine

// peekSocket cannot look at a socket without blocking on this platform: an
// idle connection the server closed then fails its next request as
// dropped.
func peekSocket(fd uintptr, buf []byte) (int, error) { return 0, errNoPeek }
