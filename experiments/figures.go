package experiments

import "perflab/server"

// ServerFigures are the twin's side of the story over the last second:
// the figures that explain the latency the generator sees.
type ServerFigures struct {
	QueriesPerRequest float64   // DB queries per API request served
	CacheHitPct       float64   // cache hits over lookups, 0..100
	CacheLookups      int64     // lookups in the last second (0: no cache in use)
	RedisErrors       int64     // over the run
	QueueDepth        int64     // like/unlike tasks waiting
	TasksApplied      int64     // over the run
	BusyWorkers       int       // workers with a request in flight now
	Workers           int       // workers up
	CPUPerWorker      []float64 // each worker's CPU over the last second, in cores
	Restarts          int64     // worker restarts over the run
	Profile           string    // cost profile in force
	InstanceCPUs      int       // cores the instance is pinned to
	// The database's own figures, on PostgreSQL (DB "postgres"): its
	// transactions and new connections per second, the client
	// connections open now, and the time its backends spent running
	// statements per API request, in ms.
	DB               string
	DBTransactionsPS float64
	DBConnectionsPS  float64
	DBConnections    int64
	DBTimePerRequest float64
}

// HasDBServer reports whether the database is a server with figures of
// its own (PostgreSQL).
func (f ServerFigures) HasDBServer() bool { return f.DB == server.DBPostgres }
