package experiments

import (
	"runtime"
	"strconv"

	"perflab/server"
	"perflab/server/proc"
)

// Knobs is the knob table: every setting of the twin, once. Its order is
// the knob panel's and the run descriptions' order; the CSV keeps the
// contract's column order whatever this order is.
var Knobs = []*Knob{
	{
		Name: "offload", Key: "o", Values: []string{"off", "on"}, Default: "off", Column: "offload",
		Title:       "serve the SPA from a separate edge",
		Help:        "off: the instance serves the SPA; on: a separate edge does, the instance serves the API only",
		Experiments: []string{"static"},
		Apply:       func(c *server.Config, v string) { c.Offload = v == "on" },
	},
	{
		Name: "workers", Key: "w", Values: countValues(server.MaxWorkers), Default: "1", Column: "workers",
		Title:       "twin worker processes",
		Help:        "worker processes sharing the listening socket (pre-fork, as gunicorn)",
		Experiments: []string{"static", "likes"},
		Apply:       func(c *server.Config, v string) { c.Workers, _ = strconv.Atoi(v) },
	},
	{
		Name: "mode", Key: "m", Values: []string{server.ModeSync, server.ModeAsync}, Default: server.ModeSync, Column: "mode",
		Title:       "handler mode",
		Help:        "sync: one request at a time per worker; async: concurrent, DB and cache calls through one executor",
		Experiments: []string{"static", "likes"},
		Apply:       func(c *server.Config, v string) { c.Mode = v },
	},
	{
		Name: "cache", Key: "c", Values: []string{"off", "on"}, Default: "off", Column: "cache",
		Title:       "Redis cache of the likes list",
		Help:        "Redis cache of the likes list, 60 s, invalidated by the like/unlike tasks",
		Experiments: []string{"likes"},
		Apply:       func(c *server.Config, v string) { c.Cache = v == "on" },
	},
	{
		Name: "query", Key: "n", Values: []string{server.QueryNaive, server.QueryPrefetch}, Default: server.QueryNaive, Column: "query",
		Title:       "likes query",
		Help:        "naive: the N+1 pattern, query by query; prefetch: a fixed number of queries",
		Experiments: []string{"likes"},
		Apply:       func(c *server.Config, v string) { c.Query = v },
	},
	{
		Name: "profile", Key: "p", Values: []string{server.ProfileDjango, server.ProfileGo}, Default: server.ProfileDjango, Column: "profile",
		Title:       "cost profile",
		Help:        "django: the declared costs of the study's Python stack, one thread per worker; go: none",
		Experiments: []string{"static", "likes"},
		Apply:       func(c *server.Config, v string) { c.Profile = v },
	},
	{
		Name: "instance-cpus", Key: "i", Values: countValues(runtime.NumCPU()), Default: strconv.Itoa(proc.InstanceCPUs()),
		Title:       "cores the twin's processes are pinned to",
		Help:        "cores the twin's processes are pinned to; the generator and dashboard use the rest",
		Experiments: []string{"static", "likes"},
		Apply:       func(c *server.Config, v string) { c.InstanceCPUs, _ = strconv.Atoi(v) },
	},
	{
		Name: "redis", Default: server.RedisEmbedded, Placeholder: "embedded|redis://host:port",
		Title:       "Redis for the cache, the task queue and the race's queue",
		Help:        "the Redis the cache and the task queue use: embedded (in-process) or a real server",
		Experiments: []string{"static", "likes"},
		Check:       checkConfig(func(c *server.Config, v string) { c.Redis = v }),
		Apply:       func(c *server.Config, v string) { c.Redis = v },
	},
	{
		Name: "db", Key: "d", Values: []string{server.DBSQLite, server.DBPostgres}, Default: server.DBSQLite, Column: "db",
		Placeholder: "sqlite|postgres|postgres://user@host:port/db",
		Title:       "the twin's database",
		Help:        "sqlite: embedded; postgres: a private PostgreSQL cluster on the instance's cores; or an existing server by URL",
		Experiments: []string{"likes"},
		Check:       checkConfig(func(c *server.Config, v string) { c.DB = v }),
		Apply:       func(c *server.Config, v string) { c.DB = v },
	},
	{
		Name: "db-conn", Key: "e", Values: []string{server.DBConnPerRequest, server.DBConnPersistent}, Default: server.DBConnPerRequest, Column: "db_conn",
		Title:       "database connections (PostgreSQL)",
		Help:        "per-request: a new connection each request, as Django's CONN_MAX_AGE=0; persistent: one kept per worker",
		Experiments: []string{"likes"},
		Apply:       func(c *server.Config, v string) { c.DBConn = v },
	},
}

// checkConfig validates a knob's value as the twin's configuration does.
func checkConfig(set func(c *server.Config, v string)) func(string) error {
	return func(v string) error {
		c := server.DefaultConfig()
		set(&c, v)
		return c.Validate()
	}
}

func countValues(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i + 1)
	}
	return out
}
