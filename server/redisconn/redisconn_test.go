package redisconn

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9/maintnotifications"
)

// shape is what Options decide in a client's options.
type shape struct {
	Addr                      string
	DB, Protocol, PoolSize    int
	MaxRetries, DialerRetries int
	Timeout                   time.Duration
}

func TestParseURL(t *testing.T) {
	twin := Options{PoolSize: 4, Timeout: 250 * time.Millisecond, NoRetries: true, RESP2: true}
	cases := []struct {
		name    string
		url     string
		o       Options
		want    shape
		wantErr string // "" = valid
	}{
		{"go-redis defaults", "redis://127.0.0.1:6379/2", Options{}, shape{Addr: "127.0.0.1:6379", DB: 2}, ""},
		{"the twin's", "redis://127.0.0.1:6379", twin, shape{Addr: "127.0.0.1:6379", Protocol: 2, PoolSize: 4, MaxRetries: -1, DialerRetries: 1, Timeout: 250 * time.Millisecond}, ""},
		{"TLS", "rediss://example.com:6380", Options{}, shape{Addr: "example.com:6380"}, ""},
		{"no scheme", "localhost:6379", Options{}, shape{}, "not a redis:// URL"},
		{"unix socket", "unix:///tmp/redis.sock", Options{}, shape{}, "not a redis:// URL"},
		{"bad database", "redis://127.0.0.1:6379/x", Options{}, shape{}, "invalid database"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opt, err := ParseURL(c.url, c.o)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want one saying %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !opt.DisableIdentity || opt.MaintNotificationsConfig == nil || opt.MaintNotificationsConfig.Mode != maintnotifications.ModeDisabled {
				t.Errorf("identity disabled %v, maintenance notifications %+v: want both off", opt.DisableIdentity, opt.MaintNotificationsConfig)
			}
			if opt.ReadTimeout != opt.DialTimeout || opt.WriteTimeout != opt.DialTimeout || opt.PoolTimeout != opt.DialTimeout {
				t.Errorf("timeouts dial %v read %v write %v pool %v: want one value", opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout)
			}
			got := shape{opt.Addr, opt.DB, opt.Protocol, opt.PoolSize, opt.MaxRetries, opt.DialerRetries, opt.DialTimeout}
			if got != c.want {
				t.Errorf("options %+v, want %+v", got, c.want)
			}
		})
	}
}

// An embedded Redis, on its own port or on a listener it is given,
// expires keys as the wall clock passes, as a real one does, its clients
// speak to it with either protocol, and Close stops it.
func TestEmbeddedExpiresOnTheWallClock(t *testing.T) {
	for _, start := range []struct {
		name string
		run  func() (*Embedded, error)
	}{
		{"own port", StartEmbedded},
		{"given listener", func() (*Embedded, error) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return nil, err
			}
			return ServeEmbedded(ln)
		}},
	} {
		t.Run(start.name, func(t *testing.T) {
			e, err := start.run()
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range []Options{{}, {RESP2: true, NoRetries: true, Timeout: time.Second}} {
				rdb, err := NewClient(e.URL(), o)
				if err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				if err := rdb.Set(ctx, "k", "v", 100*time.Millisecond).Err(); err != nil {
					t.Fatalf("options %+v: %v", o, err)
				}
				deadline := time.Now().Add(3 * time.Second)
				for rdb.Exists(ctx, "k").Val() == 1 {
					if time.Now().After(deadline) {
						t.Fatalf("options %+v: key with a 100 ms TTL still there after 3 s", o)
					}
					time.Sleep(20 * time.Millisecond)
				}
				rdb.Close()
			}
			addr := strings.TrimPrefix(e.URL(), "redis://")
			e.Close()
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Errorf("%s still accepts connections after Close", addr)
			}
		})
	}
}
