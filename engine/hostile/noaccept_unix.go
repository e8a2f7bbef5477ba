//go:build unix

package hostile

import (
	"fmt"
	"syscall"
)

// NoAccept listens on loopback with a backlog of one and never accepts:
// the first connection or two complete in the kernel's queue, every later
// one hangs in its handshake until the client gives up. It returns the
// URL and a function that stops listening.
func NoAccept() (url string, stop func(), err error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		return "", nil, err
	}
	syscall.CloseOnExec(fd)
	fail := func(err error) (string, func(), error) {
		syscall.Close(fd)
		return "", nil, err
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return fail(err)
	}
	if err := syscall.Listen(fd, 1); err != nil {
		return fail(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return fail(err)
	}
	port := sa.(*syscall.SockaddrInet4).Port
	return fmt.Sprintf("http://127.0.0.1:%d/", port), func() { syscall.Close(fd) }, nil
}
