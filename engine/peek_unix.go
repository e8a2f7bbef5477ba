//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package engine

import "syscall"

// peekSocket looks at what the socket holds without taking it or waiting:
// n > 0 means bytes are waiting, n == 0 with no error that the peer closed
// its side, EAGAIN that nothing has arrived.
func peekSocket(fd uintptr, buf []byte) (int, error) {
	n, _, err := syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return n, err
}
