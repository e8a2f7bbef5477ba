package server

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"strings"

	"perflab/server/proc"
)

// Knob values.
const (
	ModeSync  = "sync"
	ModeAsync = "async"

	QueryNaive    = "naive"
	QueryPrefetch = "prefetch"

	ProfileDjango = "django"
	ProfileGo     = "go"

	RedisEmbedded = "embedded"

	// DBSQLite is the embedded database, a file in the data directory;
	// DBPostgres a private PostgreSQL cluster the twin starts. A
	// postgres:// URL names an existing server instead.
	DBSQLite   = "sqlite"
	DBPostgres = "postgres"

	// DBConnPerRequest opens a database connection for each request
	// and closes it at the end, as Django does by default
	// (CONN_MAX_AGE=0); DBConnPersistent keeps one per worker.
	DBConnPerRequest = "per-request"
	DBConnPersistent = "persistent"

	// MaxWorkers bounds the worker processes, as the --workers flag does.
	MaxWorkers = 16
)

// Config is everything the twin runs with. Workers, Mode, Cache, Query,
// Offload, Profile, InstanceCPUs, DB and DBConn change live (Apply); the
// rest is fixed at Start.
type Config struct {
	Addr     string `json:"addr"`      // API listener (and the SPA while offload is off)
	EdgeAddr string `json:"edge_addr"` // the edge listener that serves the SPA when offloaded
	Workers  int    `json:"workers"`   // worker processes, 1..16
	Mode     string `json:"mode"`      // "sync" or "async"
	Cache    bool   `json:"cache"`     // Redis cache of the likes list
	Query    string `json:"query"`     // "naive" (N+1) or "prefetch"
	Offload  bool   `json:"offload"`   // the SPA comes from the edge, the workers serve the API only
	Profile  string `json:"profile"`   // "django" (declared framework costs) or "go" (none)
	// InstanceCPUs pins the twin's processes to that many cores; 0 means
	// proc.InstanceCPUs().
	InstanceCPUs int `json:"instance_cpus"`
	// Redis is "embedded" (miniredis in this process) or redis://host:port.
	Redis string `json:"redis"`
	// DB is "sqlite" (embedded), "postgres" (a private cluster of the
	// installed PostgreSQL) or a postgres:// URL of an existing server.
	DB string `json:"db"`
	// DBConn is "per-request" (Django's CONN_MAX_AGE=0) or "persistent";
	// it applies to PostgreSQL.
	DBConn string `json:"db_conn"`
	// DataDir holds the database, the SPA files and the log; "" is a
	// temporary directory. What the twin created there is removed on
	// Close unless KeepData is set.
	DataDir  string `json:"data_dir"`
	KeepData bool   `json:"keep_data"`
}

// DefaultConfig is the study's starting point: one sync worker, no cache,
// the N+1 query, the SPA on the instance, Django's costs.
func DefaultConfig() Config {
	return Config{
		Addr:     "127.0.0.1:0",
		EdgeAddr: "127.0.0.1:0",
		Workers:  1,
		Mode:     ModeSync,
		Query:    QueryNaive,
		Profile:  ProfileDjango,
		Redis:    RedisEmbedded,
		DB:       DBSQLite,
		DBConn:   DBConnPerRequest,
	}
}

// Validate reports the first setting that cannot run, naming its flag.
func (c Config) Validate() error {
	if err := checkAddr("--addr", c.Addr); err != nil {
		return err
	}
	if err := checkAddr("--edge-addr", c.EdgeAddr); err != nil {
		return err
	}
	if c.Workers < 1 || c.Workers > MaxWorkers {
		return fmt.Errorf("--workers must be in 1..%d, got %d", MaxWorkers, c.Workers)
	}
	if c.Mode != ModeSync && c.Mode != ModeAsync {
		return fmt.Errorf("--mode must be sync or async, got %q", c.Mode)
	}
	if c.Query != QueryNaive && c.Query != QueryPrefetch {
		return fmt.Errorf("--query must be naive or prefetch, got %q", c.Query)
	}
	if c.Profile != ProfileDjango && c.Profile != ProfileGo {
		return fmt.Errorf("--profile must be django or go, got %q", c.Profile)
	}
	if n := runtime.NumCPU(); c.InstanceCPUs < 0 || c.InstanceCPUs > n {
		return fmt.Errorf("--instance-cpus must be in 1..%d (the cores of this machine), got %d", n, c.InstanceCPUs)
	}
	if c.Redis != RedisEmbedded {
		if _, err := redisAddr(c.Redis); err != nil {
			return err
		}
	}
	if err := checkDB(c.DB); err != nil {
		return err
	}
	if c.DBConn != DBConnPerRequest && c.DBConn != DBConnPersistent {
		return fmt.Errorf("--db-conn must be per-request or persistent, got %q", c.DBConn)
	}
	return nil
}

func checkAddr(flag, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil {
		return fmt.Errorf("%s %q is not host:port (e.g. 127.0.0.1:8000, port 0 picks a free one)", flag, addr)
	}
	return nil
}

// redisAddr checks a redis:// URL and returns its host:port.
func redisAddr(raw string) (string, error) {
	bad := fmt.Errorf("--redis must be embedded or redis://host:port, got %q", raw)
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "redis" || u.Host == "" {
		return "", bad
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" {
		return "", bad
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", bad
	}
	return u.Host, nil
}

// Warnings lists what is allowed but worth telling the person running the
// twin: a listener reachable from other machines, or CPU pinning this
// system cannot do.
func (c Config) Warnings() []string {
	var out []string
	for _, a := range []struct{ flag, addr string }{{"--addr", c.Addr}, {"--edge-addr", c.EdgeAddr}} {
		if host, _, err := net.SplitHostPort(a.addr); err == nil && !isLoopback(host) {
			out = append(out, fmt.Sprintf("%s %s is reachable from other machines; the twin has a known password and no TLS, so prefer 127.0.0.1", a.flag, a.addr))
		}
	}
	if !proc.PinningSupported {
		out = append(out, fmt.Sprintf("--instance-cpus: this system (%s) cannot pin processes to cores; the twin shares every core with the load generator", runtime.GOOS))
	}
	return out
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// instanceCPUs is the number of cores the twin's processes get.
func (c Config) instanceCPUs() int {
	if c.InstanceCPUs > 0 {
		return c.InstanceCPUs
	}
	return proc.InstanceCPUs()
}

// checkLive reports a change Apply cannot make to a running twin.
func (c Config) checkLive(running Config) error {
	fixed := []struct {
		flag       string
		now, asked any
	}{
		{"--addr", running.Addr, c.Addr},
		{"--edge-addr", running.EdgeAddr, c.EdgeAddr},
		{"--redis", running.Redis, c.Redis},
		{"--data-dir", running.DataDir, c.DataDir},
		{"--keep-data", running.KeepData, c.KeepData},
	}
	for _, f := range fixed {
		if f.now != f.asked {
			return fmt.Errorf("%s cannot change while the twin runs (it is %v, asked %v); stop it and start again with the new value", f.flag, f.now, f.asked)
		}
	}
	return nil
}

// knobs are the live settings every worker reads at each request, packed
// in one word of the shared board so a change is one atomic store.
type knobs struct {
	async, cache, prefetch, offload, goProfile bool
	// postgres is set while the database is a PostgreSQL server, whose
	// own work is real; persistent keeps database connections open
	// between requests.
	postgres, persistent bool
}

func knobsOf(c Config) knobs {
	return knobs{
		async:      c.Mode == ModeAsync,
		cache:      c.Cache,
		prefetch:   c.Query == QueryPrefetch,
		offload:    c.Offload,
		goProfile:  c.Profile == ProfileGo,
		postgres:   c.DB != DBSQLite,
		persistent: c.DBConn == DBConnPersistent,
	}
}

func (k *knobs) bits() []*bool {
	return []*bool{&k.async, &k.cache, &k.prefetch, &k.offload, &k.goProfile, &k.postgres, &k.persistent}
}

func (k knobs) word() uint64 {
	var w uint64
	for i, b := range k.bits() {
		if *b {
			w |= 1 << i
		}
	}
	return w
}

func knobsFromWord(w uint64) knobs {
	var k knobs
	for i, b := range k.bits() {
		*b = w&(1<<i) != 0
	}
	return k
}

// errNotUnix is returned where the twin needs what only Unix systems offer.
var errNotUnix = errors.New("the twin needs a Unix system (shared memory, signals); run it on Linux or macOS")
