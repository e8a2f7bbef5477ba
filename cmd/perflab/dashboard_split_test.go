package main

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// legendValue reads a part's value from the split panel's legend
// ("▓ db 21.0"); -1 when the part is not on screen.
func legendValue(screen, glyph, part string) float64 {
	m := regexp.MustCompile(regexp.QuoteMeta(glyph+" "+part) + ` ([0-9.]+)`).FindStringSubmatch(screen)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// The split panel on the likes screen in a real terminal: the twin's
// Server-Timing splits the likes step into queue, db, view and network,
// the naive list's 42 queries showing as the db part; after c the cache
// part appears and the db part shrinks to the few misses.
func TestDashboardSplitInTerminal(t *testing.T) {
	tm := startTerminal(t, 120, 40, nil, "--experiment", "likes")
	tm.waitFor("the charts", 60*time.Second, chartsDrawn)
	s := tm.waitFor("the split panel with the db part", 30*time.Second, func(s string) bool {
		return strings.Contains(s, "split p50 ms") && legendValue(s, "▓", "db") > 0 && legendValue(s, "█", "queue") >= 0
	})
	for _, want := range []string{"░ view", "┊ network"} {
		if !strings.Contains(s, want) {
			t.Fatalf("the split panel lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "▒ cache") {
		t.Fatalf("a cache part with the cache off:\n%s", s)
	}
	db := legendValue(s, "▓", "db")

	tm.keys("c")
	tm.waitText("cache on", 30*time.Second)
	s = tm.waitFor("the cache part, and the db part shrunk", 60*time.Second, func(s string) bool {
		v := legendValue(s, "▓", "db")
		return legendValue(s, "▒", "cache") >= 0 && v >= 0 && v < db/2
	})
	if !strings.Contains(s, "▲") {
		t.Fatalf("no mark of the change on screen:\n%s", s)
	}
	tm.quit("q")
}

// Against --url the same panel splits a service's own Server-Timing, and
// says so when the service sends none. (This service declares more time
// than its answers take, so it leaves no network part: the rest is never
// below zero.)
func TestDashboardSplitOfAServiceInTerminal(t *testing.T) {
	t.Run("header", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Server-Timing", `db;dur=2;desc="1 query", app;dur=3`)
			w.Write([]byte("ok"))
		}))
		defer srv.Close()
		tm := startTerminal(t, 120, 40, nil, "--url", srv.URL+"/", "--vus", "2", "--think", "50ms")
		tm.waitFor("the service's split", 30*time.Second, func(s string) bool {
			return legendValue(s, "▓", "db") >= 1.9 && legendValue(s, "▚", "other") >= 2.9
		})
		tm.quit("q")
	})
	t.Run("none", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
		defer srv.Close()
		tm := startTerminal(t, 120, 40, nil, "--url", srv.URL+"/", "--vus", "2", "--think", "50ms")
		tm.waitFor("the charts", 15*time.Second, chartsDrawn)
		tm.waitText("the service sends no", 10*time.Second)
		tm.quit("q")
	})
}
