// Package hostile runs loopback HTTP servers that misbehave on purpose:
// they drop requests, never answer, stream a body that never ends, reset
// connections or never accept them. Tests use them to prove that the
// generator counts every fault, and engine/bench/faultserver serves them
// for measuring perflab beside other tools.
//
// Each server speaks just enough HTTP/1.1 (it reads requests with
// net/http's parser and writes answers by hand) and counts what it did,
// so a test can hold the generator's figures against the server's.
package hostile

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Server is one misbehaving server on loopback.
type Server struct {
	// URL is where it listens, e.g. http://127.0.0.1:40123/.
	URL string
	// Conns counts connections accepted; Read requests read whole;
	// Answered those answered in full; Dropped those read and then left
	// without an answer by closing the connection.
	Conns, Read, Answered, Dropped atomic.Int64

	ln    net.Listener
	mu    sync.Mutex
	open  map[net.Conn]struct{}
	wg    sync.WaitGroup
	serve func(s *Server, c net.Conn, br *bufio.Reader)
}

// T is the part of testing.TB that Must uses.
type T interface {
	Helper()
	Fatal(args ...any)
	Cleanup(func())
}

// Must starts a server for a test, fails the test if it cannot, and
// closes the server when the test ends.
func Must(t T, start func() (*Server, error)) *Server {
	t.Helper()
	s, err := start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// okAnswer is the whole answer of servers that answer at all.
const okAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"

func start(serve func(s *Server, c net.Conn, br *bufio.Reader)) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + ln.Addr().String() + "/", ln: ln, open: map[net.Conn]struct{}{}, serve: serve}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.Conns.Add(1)
		s.mu.Lock()
		s.open[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.forget(c)
			s.serve(s, c, bufio.NewReader(c))
		}()
	}
}

func (s *Server) forget(c net.Conn) {
	s.mu.Lock()
	delete(s.open, c)
	s.mu.Unlock()
	c.Close()
}

// Close stops listening, closes every connection and waits for the
// server's goroutines.
func (s *Server) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.open {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// String sums up what the server did.
func (s *Server) String() string {
	return fmt.Sprintf("%d connections, %d requests read, %d answered, %d dropped",
		s.Conns.Load(), s.Read.Load(), s.Answered.Load(), s.Dropped.Load())
}

// read reads one whole request, body included, and counts it.
func (s *Server) read(br *bufio.Reader) bool {
	req, err := http.ReadRequest(br)
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, req.Body)
	if err != nil {
		return false
	}
	s.Read.Add(1)
	return true
}

func (s *Server) answer(c net.Conn) bool {
	if _, err := io.WriteString(c, okAnswer); err != nil {
		return false
	}
	s.Answered.Add(1)
	return true
}

// DropEverySecond answers the first request on each connection, reads
// the second and closes the connection without answering it, and so on
// on every new connection: a server that loses every other request.
func DropEverySecond() (*Server, error) {
	return start(func(s *Server, c net.Conn, br *bufio.Reader) {
		for n := 1; s.read(br); n++ {
			if n%2 == 0 {
				s.Dropped.Add(1)
				return
			}
			if !s.answer(c) {
				return
			}
		}
	})
}

// DropAfter reads each connection's first request, waits d and closes the
// connection without answering: a server that fails slowly.
func DropAfter(d time.Duration) func() (*Server, error) {
	return func() (*Server, error) {
		return start(func(s *Server, c net.Conn, br *bufio.Reader) {
			if s.read(br) {
				time.Sleep(d)
				s.Dropped.Add(1)
			}
		})
	}
}

// ResetAfterAnswer answers each connection's first request, then resets
// the connection (RST, not FIN): the next request on it finds the
// connection gone, usually before it could be sent.
func ResetAfterAnswer() (*Server, error) {
	return start(func(s *Server, c net.Conn, br *bufio.Reader) {
		if s.read(br) && s.answer(c) {
			resetConn(c)
		}
	})
}

// CloseIdle answers every request and closes a connection that stays idle
// for longer than idle after an answer, as a keep-alive timeout does; with
// rst it resets the connection instead of closing it cleanly.
func CloseIdle(idle time.Duration, rst bool) (*Server, error) {
	return start(func(s *Server, c net.Conn, br *bufio.Reader) {
		for s.read(br) {
			if !s.answer(c) {
				return
			}
			c.SetReadDeadline(time.Now().Add(idle))
		}
		if rst {
			resetConn(c)
		}
	})
}

// NeverAnswer takes whatever arrives on a connection and never writes a
// byte: no HTTP answer, and no TLS handshake either.
func NeverAnswer() (*Server, error) {
	return start(func(s *Server, c net.Conn, br *bufio.Reader) {
		io.Copy(io.Discard, br) // until the client gives up
	})
}

// EndlessBody answers every request with a chunked body that never ends.
func EndlessBody() (*Server, error) {
	chunk := fmt.Appendf(nil, "%x\r\n%s\r\n", 16<<10, make([]byte, 16<<10))
	return start(func(s *Server, c net.Conn, br *bufio.Reader) {
		if !s.read(br) {
			return
		}
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"); err != nil {
			return
		}
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
}

// Body answers every request with a body of n bytes.
func Body(n int) (*Server, error) {
	answer := append(fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", n), make([]byte, n)...)
	return start(func(s *Server, c net.Conn, br *bufio.Reader) {
		for s.read(br) {
			if _, err := c.Write(answer); err != nil {
				return
			}
			s.Answered.Add(1)
		}
	})
}

// resetConn closes c with a reset (RST) instead of a clean close.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}
