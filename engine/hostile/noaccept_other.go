//go:build !unix

package hostile

import "net"

// NoAccept listens on loopback and never accepts. Without a way to set
// the backlog here, connections queue up to the system's default before
// later ones hang.
func NoAccept() (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	return "http://" + ln.Addr().String() + "/", func() { ln.Close() }, nil
}
