// Package redisconn is how perflab reaches Redis: an embedded Redis
// (miniredis) for runs that are given none, and go-redis clients built
// from a redis:// URL. The twin (cache and task queue) and the Fishial
// race (the distributed strategy's queue) both use it.
//
// Every client skips what a plain Redis server, and the embedded one,
// cannot answer: the client-identity and maintenance-notification steps
// of go-redis's handshake. What else differs between callers (pool
// size, timeouts, retries, protocol) each caller states in Options.
package redisconn

import (
	"errors"
	"net"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Embedded is a Redis running inside this process on a loopback port.
// The miniredis it embeds answers the usual inspection calls (List,
// Members, HGet...) that tests use to look inside.
type Embedded struct {
	*miniredis.Miniredis
	ln net.Listener // the caller's, with ServeEmbedded
}

// StartEmbedded starts a Redis on a free loopback port. Its TTLs run on
// the wall clock, as a real Redis's do: left alone, miniredis expires a
// key only when told that time has passed. Close stops it.
func StartEmbedded() (*Embedded, error) {
	m := miniredis.NewMiniRedis()
	m.ClockTTL(true)
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, err
	}
	return &Embedded{Miniredis: m}, nil
}

// ServeEmbedded runs a Redis like StartEmbedded's on a listener the
// caller opened: one a parent process handed down, say, so that a Redis
// started again after a crash answers at the same address. Close stops
// it and closes ln.
func ServeEmbedded(ln net.Listener) (*Embedded, error) {
	m := miniredis.NewMiniRedis()
	m.ClockTTL(true)
	// Dialling a miniredis that has not started starts it without a
	// listener of its own; its server then takes the connections
	// accepted here.
	c, err := m.Dial()
	if err != nil {
		return nil, err
	}
	c.Close()
	srv := m.Server()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // closed
			}
			srv.ServeConn(conn)
		}
	}()
	return &Embedded{Miniredis: m, ln: ln}, nil
}

// URL is the redis:// URL clients reach it by.
func (e *Embedded) URL() string {
	if e.ln != nil {
		return "redis://" + e.ln.Addr().String()
	}
	return "redis://" + e.Addr()
}

// Close stops the Redis and the connections it serves.
func (e *Embedded) Close() {
	if e.ln != nil {
		e.ln.Close()
	}
	e.Miniredis.Close()
}

// Options are what a caller wants of its client beyond the URL. The zero
// value keeps go-redis's defaults.
type Options struct {
	PoolSize int // connections kept open; zero: go-redis's default
	// Timeout bounds each dial, read, write and wait for a free pooled
	// connection; zero: go-redis's defaults.
	Timeout time.Duration
	// NoRetries makes one attempt per command and per dial, so that a
	// failed call fails at once (go-redis retries commands three times
	// and dials five, 100 ms apart).
	NoRetries bool
	// RESP2 speaks the older protocol instead of go-redis's RESP3.
	RESP2 bool
}

// ParseURL reads a redis:// or rediss:// URL (host, port, database,
// credentials) into client options shaped by o.
func ParseURL(rawURL string, o Options) (*redis.Options, error) {
	if !strings.HasPrefix(rawURL, "redis://") && !strings.HasPrefix(rawURL, "rediss://") {
		return nil, errors.New("not a redis:// URL")
	}
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	if o.RESP2 {
		opt.Protocol = 2
	}
	if o.Timeout > 0 {
		opt.DialTimeout = o.Timeout
		opt.ReadTimeout = o.Timeout
		opt.WriteTimeout = o.Timeout
		opt.PoolTimeout = o.Timeout
	}
	if o.NoRetries {
		opt.MaxRetries = -1
		opt.DialerRetries = 1
	}
	if o.PoolSize > 0 {
		opt.PoolSize = o.PoolSize
	}
	return opt, nil
}

// NewClient returns a client for rawURL shaped by o. It does not dial:
// the first command does.
func NewClient(rawURL string, o Options) (*redis.Client, error) {
	opt, err := ParseURL(rawURL, o)
	if err != nil {
		return nil, err
	}
	return redis.NewClient(opt), nil
}
