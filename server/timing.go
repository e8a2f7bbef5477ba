package server

import (
	"strconv"
	"time"
)

// serverTiming is where one API request's time went, measured on the
// worker's own clock around the real work, and sent back as the W3C
// Server-Timing header (https://www.w3.org/TR/server-timing/):
//
//	queue  the request read whole, until a view slot took it (sync mode
//	       waits here for the worker's one interpreter thread; async
//	       admits at once)
//	db     every ORM query, its declared cost included; desc counts them
//	cache  the Redis calls for the cached likes list; desc says hit, miss
//	       or error (the database answered)
//	broker the Redis call that queues a like or unlike for the task worker
//	hop    async mode's hand-overs to the executor thread and back, its
//	       declared cost and the wait for that thread included
//	view   the rest: the framework's declared cost, authentication,
//	       encoding, the password check of a sign-in
//
// The parts are disjoint and add up to the time from the request read to
// its answer's header; hop nests around db and cache work in async mode
// and counts only the hand-over itself. Only one goroutine touches a
// request's timing at a time (the executor runs while the view waits).
type serverTiming struct {
	start, admitted        time.Time
	db, cache, broker, hop time.Duration
	queries, hops          int
	// cacheResult is "hit", "miss" or "error" (the database answered);
	// brokerResult "queued" or "error" (the view applied the change). ""
	// when not used.
	cacheResult, brokerResult string
}

func newServerTiming() *serverTiming { return &serverTiming{start: time.Now()} }

// restart moves the start to now: the request's body has been read.
func (t *serverTiming) restart() { t.start = time.Now() }

// admit marks the view slot taking the request.
func (t *serverTiming) admit() { t.admitted = time.Now() }

// header renders the timing at the moment the answer's header goes out.
func (t *serverTiming) header() string {
	total := time.Since(t.start)
	b := make([]byte, 0, 160)
	queue := time.Duration(0)
	if !t.admitted.IsZero() {
		queue = t.admitted.Sub(t.start)
		b = appendMetric(b, "queue", queue, "")
	}
	if t.queries > 0 {
		b = appendMetric(b, "db", t.db, plural(t.queries, "query", "queries"))
	}
	if t.cacheResult != "" {
		b = appendMetric(b, "cache", t.cache, t.cacheResult)
	}
	if t.brokerResult != "" {
		b = appendMetric(b, "broker", t.broker, t.brokerResult)
	}
	if t.hops > 0 {
		b = appendMetric(b, "hop", t.hop, plural(t.hops, "hand-off", "hand-offs"))
	}
	view := total - queue - t.db - t.cache - t.broker - t.hop
	return string(appendMetric(b, "view", max(view, 0), ""))
}

// appendMetric appends one metric, its duration in milliseconds to the
// microsecond.
func appendMetric(b []byte, name string, d time.Duration, desc string) []byte {
	if len(b) > 0 {
		b = append(b, ", "...)
	}
	b = append(b, name...)
	b = append(b, ";dur="...)
	b = strconv.AppendFloat(b, float64(d.Microseconds())/1000, 'f', 3, 64)
	if desc != "" {
		b = append(b, `;desc="`...)
		b = append(b, desc...)
		b = append(b, '"')
	}
	return b
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// measure adds the wall time fn takes to *into.
func measure(into *time.Duration, fn func()) {
	start := time.Now()
	defer func() { *into += time.Since(start) }()
	fn()
}
