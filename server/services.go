package server

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"perflab/server/redisconn"
)

// The embedded Redis and the static edge run in child processes of their
// own, as the study's Redis ran beside its API on the small instance and
// its CDN ran elsewhere: each is pinned where it belongs (Redis on the
// instance's cores, the edge on the others), its CPU is counted as its
// own, and none of it is in the load generator's process. The parent
// holds their listening sockets, so one restarted after a crash answers
// at the same address.

// edgeDrain is how long a stopping edge lets its answers finish; the
// parent kills it after stopGrace.
const edgeDrain = stopGrace - 200*time.Millisecond

// inheritedFiles maps the board and opens the listening socket a worker,
// the Redis or the edge is handed (descriptors fdListener and fdBoard).
func inheritedFiles() (*board, net.Listener, error) {
	b, err := mapBoard(os.NewFile(fdBoard, "board"))
	if err != nil {
		return nil, nil, err
	}
	lf := os.NewFile(fdListener, "listener")
	ln, err := net.FileListener(lf)
	lf.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("listen on the inherited socket: %w", err)
	}
	return b, ln, nil
}

// runService is the life of the Redis's or the edge's process: take
// what the parent hands down, serve, say so, and stop on SIGTERM.
func runService(name string, slot int, serve func(*board, net.Listener, *log.Logger) (stop func(), err error)) int {
	logger := log.New(os.Stderr, fmt.Sprintf("%s pid %d: ", name, os.Getpid()), log.LstdFlags|log.Lmicroseconds)
	sigs := childSignals()
	if _, err := readSpec(); err != nil {
		logger.Print(err)
		return 1
	}
	b, ln, err := inheritedFiles()
	if err != nil {
		logger.Print(err)
		return 1
	}
	stop, err := serve(b, ln, logger)
	if err != nil {
		logger.Print(err)
		return 1
	}
	stopCPU := trackCPU(b, slot)
	fmt.Println(readyLine)
	<-sigs
	stop()
	stopCPU()
	return 0
}

// redisMain is the embedded Redis's process.
func redisMain([]string) int {
	return runService("redis", redisSlot, func(_ *board, ln net.Listener, _ *log.Logger) (func(), error) {
		e, err := redisconn.ServeEmbedded(ln)
		if err != nil {
			return nil, fmt.Errorf("start embedded redis: %w", err)
		}
		return e.Close, nil
	})
}

// edgeMain is the static edge's process: the CDN of the offload
// experiment.
func edgeMain([]string) int {
	return runService("edge", edgeSlot, func(b *board, ln net.Listener, logger *log.Logger) (func(), error) {
		srv := &http.Server{
			Handler:           &edge{bundle: spaBundle(), count: b.countEdge},
			ReadHeaderTimeout: requestReadTimeout,
			ReadTimeout:       requestReadTimeout,
			IdleTimeout:       idleTimeout,
			ErrorLog:          logger,
		}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Printf("serve: %v", err)
				os.Exit(1)
			}
		}()
		return func() {
			ctx, cancel := context.WithTimeout(context.Background(), edgeDrain)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				srv.Close()
			}
		}, nil
	})
}

// countEdge books one edge answer.
func (b *board) countEdge(s served) {
	b.hdr(hEdgeRequests).Add(1)
	b.hdr(hEdgeBytes).Add(uint64(s.bytes))
	if s.notModified {
		b.hdr(hEdgeNotModified).Add(1)
	}
}
