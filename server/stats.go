package server

import (
	"net/url"
	"time"
)

// StatsPath is where the workers serve Stats as JSON.
const StatsPath = "/_perflab/stats"

// Stats is the twin at one moment: the configuration in force, cumulative
// counters (a consumer computes rates from two snapshots) and gauges.
type Stats struct {
	Time          time.Time `json:"time"`
	UptimeSeconds float64   `json:"uptime_s"`
	Config        Config    `json:"config"`
	// WorkersUp counts worker processes serving now (state "up").
	WorkersUp int           `json:"workers_up"`
	Workers   []WorkerStats `json:"workers"`
	// Total sums every worker slot ever used, so it never goes backwards
	// when workers are removed or restarted. PeakActive is the highest of
	// any one worker.
	Total          Counters  `json:"total"`
	Tasks          TaskStats `json:"tasks"`
	Edge           EdgeStats `json:"edge"`
	RedisReachable bool      `json:"redis_reachable"`
	// Redis is the embedded Redis's process; nil with --redis redis://.
	Redis *ProcessStats `json:"redis,omitempty"`
	// DB is the database's own side.
	DB DBStats `json:"db"`
}

// DBStats is the database as the server sees it. On SQLite, embedded in
// every process, only Kind is set; on PostgreSQL the figures come from
// pg_stat_database and pg_stat_activity, polled 4x/s (the poll's own
// connection and transactions left out), and the counters add up over
// every database the twin used.
type DBStats struct {
	Kind string `json:"kind"` // "sqlite" or "postgres"
	// Reachable: the last poll of the server answered.
	Reachable bool `json:"reachable"`
	// Transactions committed or rolled back: one per query, as the
	// twin's queries run in autocommit.
	Transactions uint64 `json:"transactions"`
	// Sessions are connections the server accepted.
	Sessions uint64 `json:"sessions"`
	// ActiveSeconds is the time the server's backends spent running
	// statements.
	ActiveSeconds float64 `json:"active_s"`
	// Connections is a gauge of the client connections open now.
	Connections int64 `json:"connections"`
	// Server is the private cluster (its watchdog's pid; the CPU of the
	// watchdog, the postmaster and every backend); nil otherwise.
	Server *ProcessStats `json:"server,omitempty"`
}

// Counters are what worker processes count; cumulative unless marked as
// a gauge.
type Counters struct {
	Requests uint64 `json:"requests"` // answered, API and SPA (not the stats endpoint)
	// APIRequests are the answers under /api/: divide DB queries by them.
	APIRequests uint64 `json:"api_requests"`
	InFlight    int64  `json:"in_flight"`
	// Active is the gauge of API views running now: never above 1 per
	// worker in sync mode. PeakActive is its highest value so far.
	Active      int64   `json:"active"`
	PeakActive  uint64  `json:"peak_active"`
	DBQueries   uint64  `json:"db_queries"`
	CacheHits   uint64  `json:"cache_hits"`
	CacheMisses uint64  `json:"cache_misses"`
	RedisErrors uint64  `json:"redis_errors"` // failed or skipped Redis calls (the request fell back)
	Errors5xx   uint64  `json:"errors_5xx"`   // answers with status 500 or above
	Panics      uint64  `json:"panics"`       // handler panics turned into 500s
	CPUSeconds  float64 `json:"cpu_seconds"`  // user+system, every process of the slot
	Restarts    uint64  `json:"restarts"`     // unexpected exits the parent restarted
}

// WorkerStats is one worker slot; State is "starting", "up" or
// "draining".
type WorkerStats struct {
	Slot  int    `json:"slot"`
	PID   int    `json:"pid"`
	State string `json:"state"`
	Counters
}

// TaskStats is the queue and the task worker.
type TaskStats struct {
	QueueDepth int64 `json:"queue_depth"` // tasks waiting on the Redis list (polled 4x/s)
	// Applied counts tasks committed with the cached list invalidated; a
	// task replayed because its task worker died before letting go of it
	// counts again.
	Applied     uint64  `json:"applied"`
	Failed      uint64  `json:"failed"`
	PID         int     `json:"pid"`
	CPUSeconds  float64 `json:"cpu_seconds"`
	DBQueries   uint64  `json:"db_queries"`
	RedisErrors uint64  `json:"redis_errors"`
	Restarts    uint64  `json:"restarts"`
}

// EdgeStats is the static edge: requests, body bytes sent, requests
// answered 304 Not Modified, and its process.
type EdgeStats struct {
	Requests    uint64 `json:"requests"`
	Bytes       uint64 `json:"bytes"`
	NotModified uint64 `json:"not_modified"`
	ProcessStats
}

// ProcessStats is one of the processes that serve the workers (the
// embedded Redis) or stand beside them (the edge).
type ProcessStats struct {
	PID        int     `json:"pid"`
	CPUSeconds float64 `json:"cpu_seconds"` // user+system, every process of the slot
	Restarts   uint64  `json:"restarts"`    // unexpected exits the parent restarted
}

func processStats(b *board, slot int) ProcessStats {
	c := slotCounters(b, slot)
	return ProcessStats{PID: int(b.slot(slot, sPID).Load()), CPUSeconds: c.CPUSeconds, Restarts: c.Restarts}
}

// readDBStats reads the database's figures the poller left on the board.
func readDBStats(b *board, started Config) DBStats {
	d := DBStats{Kind: dialectOf(started.DB).String()}
	if d.Kind == DBPostgres {
		d.Reachable = b.hdr(hDBUp).Load() == 1
		d.Transactions = b.hdr(hDBTransactions).Load()
		d.Sessions = b.hdr(hDBSessions).Load()
		d.ActiveSeconds = time.Duration(b.hdr(hDBActiveMicros).Load() * uint64(time.Microsecond)).Seconds()
		d.Connections = int64(b.hdr(hDBConnections).Load())
	}
	if started.DB == DBPostgres {
		p := processStats(b, dbSlot)
		d.Server = &p
	}
	return d
}

// readStats reads the board; started is the configuration as started,
// whose live knobs the board overrides.
func readStats(b *board, started Config) Stats {
	now := time.Now()
	k := b.knobs()
	c := started
	c.Workers = int(b.hdr(hWorkers).Load())
	c.Mode = ModeSync
	if k.async {
		c.Mode = ModeAsync
	}
	c.Query = QueryNaive
	if k.prefetch {
		c.Query = QueryPrefetch
	}
	c.Profile = ProfileDjango
	if k.goProfile {
		c.Profile = ProfileGo
	}
	c.Cache, c.Offload = k.cache, k.offload
	c.Redis, c.DB = redactURL(c.Redis), redactURL(c.DB)
	c.InstanceCPUs = started.instanceCPUs()
	if n := b.hdr(hInstanceCPUs).Load(); n > 0 {
		c.InstanceCPUs = int(n)
	}
	s := Stats{
		Time:           now,
		Config:         c,
		Workers:        []WorkerStats{},
		RedisReachable: b.hdr(hRedisUp).Load() == 1,
		Edge: EdgeStats{
			Requests:     b.hdr(hEdgeRequests).Load(),
			Bytes:        b.hdr(hEdgeBytes).Load(),
			NotModified:  b.hdr(hEdgeNotModified).Load(),
			ProcessStats: processStats(b, edgeSlot),
		},
	}
	if started.Redis == RedisEmbedded {
		r := processStats(b, redisSlot)
		s.Redis = &r
	}
	s.DB = readDBStats(b, started)
	if t := int64(b.hdr(hStartedUnixNano).Load()); t > 0 {
		s.UptimeSeconds = now.Sub(time.Unix(0, t)).Seconds()
	}
	for slot := range MaxWorkers {
		cs := slotCounters(b, slot)
		t := &s.Total
		t.Requests += cs.Requests
		t.APIRequests += cs.APIRequests
		t.InFlight += cs.InFlight
		t.Active += cs.Active
		t.PeakActive = max(t.PeakActive, cs.PeakActive)
		t.DBQueries += cs.DBQueries
		t.CacheHits += cs.CacheHits
		t.CacheMisses += cs.CacheMisses
		t.RedisErrors += cs.RedisErrors
		t.Errors5xx += cs.Errors5xx
		t.Panics += cs.Panics
		t.CPUSeconds += cs.CPUSeconds
		t.Restarts += cs.Restarts
		state := b.slot(slot, sState).Load()
		if state == stateOff || state >= uint64(len(stateNames)) {
			continue
		}
		if state == stateUp {
			s.WorkersUp++
		}
		s.Workers = append(s.Workers, WorkerStats{Slot: slot, PID: int(b.slot(slot, sPID).Load()), State: stateNames[state], Counters: cs})
	}
	s.Tasks = readTaskStats(b)
	return s
}

// readTaskStats reads the task worker's slot and the queue's depth.
func readTaskStats(b *board) TaskStats {
	tc := slotCounters(b, taskSlot)
	return TaskStats{
		QueueDepth:  int64(b.hdr(hQueueDepth).Load()),
		Applied:     b.slot(taskSlot, sTasksApplied).Load(),
		Failed:      b.slot(taskSlot, sTaskFailures).Load(),
		PID:         int(b.slot(taskSlot, sPID).Load()),
		CPUSeconds:  tc.CPUSeconds,
		DBQueries:   tc.DBQueries,
		RedisErrors: tc.RedisErrors,
		Restarts:    tc.Restarts,
	}
}

func slotCounters(b *board, slot int) Counters {
	return Counters{
		Requests:    b.slot(slot, sRequests).Load(),
		APIRequests: b.slot(slot, sAPIRequests).Load(),
		InFlight:    b.signed(slot, sInFlight),
		Active:      b.signed(slot, sActive),
		PeakActive:  b.slot(slot, sPeakActive).Load(),
		DBQueries:   b.slot(slot, sDBQueries).Load(),
		CacheHits:   b.slot(slot, sCacheHits).Load(),
		CacheMisses: b.slot(slot, sCacheMisses).Load(),
		RedisErrors: b.slot(slot, sRedisErrors).Load(),
		Errors5xx:   b.slot(slot, sErrors5xx).Load(),
		Panics:      b.slot(slot, sPanics).Load(),
		CPUSeconds:  time.Duration(b.slot(slot, sCPUBase).Load() + b.slot(slot, sCPUNow).Load()).Seconds(),
		Restarts:    b.slot(slot, sRestarts).Load(),
	}
}

// redactURL hides a password in a redis:// URL.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}
