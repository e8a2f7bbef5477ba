package server

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"perflab/server/proc"
)

// needPostgres skips a test, loudly, without PostgreSQL's server
// programs, unless PERFLAB_REQUIRE_EXTERNAL=1 makes that a failure.
func needPostgres(t *testing.T) {
	t.Helper()
	if _, err := postgresBin(); err != nil {
		msg := "PostgreSQL's server programs are not installed, so this test cannot run; install them (apt-get install postgresql) to run it"
		if os.Getenv("PERFLAB_REQUIRE_EXTERNAL") == "1" {
			t.Fatal(msg + " (PERFLAB_REQUIRE_EXTERNAL=1)")
		}
		t.Skip("SKIPPED: " + msg)
	}
}

// TestPostgres starts one private cluster and runs the twin's paths on
// it, on its own database and, by URL, on fresh databases of the same
// server; then it stops the twin and checks that nothing of the cluster
// is left.
func TestPostgres(t *testing.T) {
	needPostgres(t)
	c := fastConfig()
	c.DB = DBPostgres
	ctx, cancel := context.WithTimeout(context.Background(), 2*clusterStart)
	defer cancel()
	tw, err := Start(ctx, c)
	if err != nil {
		t.Fatalf("start a twin on a private cluster: %v", err)
	}
	cl := tw.currentDB().cluster
	data := cl.dataDir()
	closed := false
	defer func() {
		if !closed {
			tw.Close()
		}
	}()
	if pids := proc.InDirectory(data); len(pids) < 2 {
		t.Fatalf("the cluster runs %d processes in %s, want a postmaster and its helpers", len(pids), data)
	}
	if s := tw.Stats().DB; s.Kind != DBPostgres || s.Server == nil || s.Server.PID == 0 {
		t.Fatalf("stats say db %+v: want postgres with its server process", s)
	}

	t.Run("pinned to the instance's cores", func(t *testing.T) { testPostgresPinned(t, tw, data) })
	t.Run("queries per request, counted by the server too", func(t *testing.T) { testPostgresQueries(t, tw) })
	t.Run("persistent connections", func(t *testing.T) { testPostgresConnections(t, tw) })
	t.Run("cache and tasks by URL", func(t *testing.T) { testPostgresByURL(t, cl) })
	t.Run("a database that is not the twin's", func(t *testing.T) { testPostgresForeignDB(t, cl) })

	closed = true
	if err := tw.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if pids := proc.InDirectory(data); len(pids) > 0 {
		t.Errorf("cluster processes %v still run after Close", pids)
	}
	if _, err := os.Stat(cl.Dir); !os.IsNotExist(err) {
		t.Errorf("the cluster's directory %s is left after Close", cl.Dir)
	}
}

// testPostgresPinned checks that every process of the cluster runs on
// the instance's cores only, as the workers do, and moves with them when
// they change live.
func testPostgresPinned(t *testing.T, tw *Twin, data string) {
	needPinning(t)
	check := func(when string) {
		t.Helper()
		want := cpuRange(0, tw.Stats().Config.InstanceCPUs-1)
		checked := 0
		for _, pid := range proc.InDirectory(data) {
			got, err := readAllowedCPUs(pid)
			if err != nil {
				continue // a backend that ended meanwhile
			}
			checked++
			if got != want {
				t.Errorf("%s: postgres process %d may run on CPUs %s, want %s", when, pid, got, want)
			}
		}
		if checked < 2 {
			t.Fatalf("%s: found %d postgres processes to check", when, checked)
		}
	}
	check("started")
	c := tw.Config()
	for _, cpus := range []int{runtime.NumCPU(), 1} {
		c.InstanceCPUs = cpus
		if err := tw.Apply(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("moved live to %d CPUs", cpus))
	}
}

// testPostgresQueries checks the likes list and its queries per request
// against SQLite, and the server's own count of them.
func testPostgresQueries(t *testing.T, tw *Twin) {
	cl := tw.currentDB().cluster
	naive := checkQueryCounts(t, tw)
	sq := startTwin(t, fastConfig())
	if want := checkQueryCounts(t, sq); fmt.Sprint(naive) != fmt.Sprint(want) {
		t.Errorf("PostgreSQL's likes list differs from SQLite's:\n%v\n%v", naive, want)
	}
	// The server's own count: each query is one transaction
	// (autocommit), and each connection one more, setting it up. The
	// stats poll losing its connection midway loses nothing.
	c := tw.Config()
	c.Query = QueryNaive
	if err := tw.Apply(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	a := newAPI(t, tw.AppURL())
	a.signin()
	waitFor(t, 15*time.Second, "the sign-in's connection to end", func() bool { return tw.Stats().DB.Connections == 0 })
	time.Sleep(2 * dbPollEvery)
	before, queries := tw.Stats().DB, tw.Stats().Total.DBQueries
	a.likes()
	admin := cl.dsnAs(clusterAdmin, cl.AdminPassword, "postgres")
	if n := count(t, admin, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '`+dbWatchName+`'`); n != 1 {
		t.Errorf("stopped %d stats connections, want 1", n)
	}
	a.likes()
	a.likes()
	made := tw.Stats().Total.DBQueries - queries
	if made != 3*42 {
		t.Errorf("3 naive likes requests made %d queries, want %d", made, 3*42)
	}
	counted := func() uint64 { return tw.Stats().DB.Transactions - before.Transactions }
	for deadline := time.Now().Add(15 * time.Second); counted() < made; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 15s the server counted %d transactions for %d queries (sessions %d -> %d)",
				counted(), made, before.Sessions, tw.Stats().DB.Sessions)
		}
	}
	time.Sleep(4 * dbPollEvery)
	after := tw.Stats().DB
	if n := after.Transactions - before.Transactions; n > made+3+6 {
		t.Errorf("the server counted %d transactions for %d queries", n, made)
	}
	if n := after.Sessions - before.Sessions; n != 3 {
		t.Errorf("3 requests opened %d connections, want 3 (one each, CONN_MAX_AGE=0)", n)
	}
	if after.ActiveSeconds <= before.ActiveSeconds {
		t.Errorf("time in the database did not grow: %v -> %v", before.ActiveSeconds, after.ActiveSeconds)
	}
}

// testPostgresConnections checks that --db-conn persistent keeps the
// worker's connection open and per-request closes it.
func testPostgresConnections(t *testing.T, tw *Twin) {
	c := tw.Config()
	c.DBConn = DBConnPersistent
	if err := tw.Apply(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	a := newAPI(t, tw.AppURL())
	a.signin()
	a.likes()
	waitFor(t, 15*time.Second, "the worker's connection to stay open", func() bool { return tw.Stats().DB.Connections == 1 })
	c.DBConn = DBConnPerRequest
	if err := tw.Apply(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	a.likes()
	waitFor(t, 15*time.Second, "the connection to close after the request", func() bool { return tw.Stats().DB.Connections == 0 })
}

// testPostgresByURL runs the cache and task paths on a database given by
// URL.
func testPostgresByURL(t *testing.T, cl *clusterSpec) {
	c := fastConfig()
	c.DB, c.Cache = newDatabase(t, cl), true
	checkCacheAndTasks(t, startTwin(t, c))
}

// testPostgresForeignDB checks that a twin refuses a database with tables
// it did not create, reuses tables it kept and drops those it created.
func testPostgresForeignDB(t *testing.T, cl *clusterSpec) {
	url := newDatabase(t, cl)
	execSQL(t, url, `CREATE TABLE orders (id int)`)
	c := fastConfig()
	c.DB = url
	_, err := Start(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "tables perflab did not create (orders)") {
		t.Fatalf("start on a database with a table of its own: %v, want a refusal naming orders", err)
	}
	// One the twin set up and kept is used again; what it did not
	// create it leaves.
	url = newDatabase(t, cl)
	c.DB, c.KeepData = url, true
	startTwin(t, c).Close()
	c.KeepData = false
	startTwin(t, c).Close()
	if n := count(t, url, `SELECT count(*) FROM users_user`); n == 0 {
		t.Error("the kept tables were dropped by a twin that did not create them")
	}
	// Without KeepData, what a twin created goes with it.
	url = newDatabase(t, cl)
	c.DB = url
	startTwin(t, c).Close()
	if n := count(t, url, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'`); n != 0 {
		t.Errorf("%d tables left after the twin that created them stopped", n)
	}
}

// newDatabase creates an empty database in the cluster, owned by the
// twin's role, and returns its URL; it is dropped when the test ends.
func newDatabase(t *testing.T, cl *clusterSpec) string {
	t.Helper()
	name := fmt.Sprintf("t_%d", time.Now().UnixNano())
	admin := cl.dsnAs(clusterAdmin, cl.AdminPassword, "postgres")
	execSQL(t, admin, fmt.Sprintf(`CREATE DATABASE %s OWNER %s`, name, clusterRole))
	t.Cleanup(func() { execSQL(t, admin, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name)) })
	return cl.dsnAs(clusterRole, cl.Password, name)
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	cfg, err := postgresConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func execSQL(t *testing.T, dsn, q string) {
	t.Helper()
	conn := connect(t, dsn)
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func count(t *testing.T, dsn, q string) int {
	t.Helper()
	conn := connect(t, dsn)
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// TestStaleClusterRemoved: a cluster directory whose owner is gone is
// removed by the next start, a running server in it stopped first; one
// whose owner lives is left alone.
func TestStaleClusterRemoved(t *testing.T) {
	gone := filepath.Join(os.TempDir(), clusterPrefix+"999999999-1-test")
	mine, err := ownerTag(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(os.TempDir(), clusterPrefix+mine+"-test")
	for _, d := range []string{gone, live} {
		if err := os.MkdirAll(filepath.Join(d, "data"), 0o700); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
	}
	removeStaleClusters(log.New(io.Discard, "", 0))
	if _, err := os.Stat(gone); !os.IsNotExist(err) {
		t.Errorf("the stale cluster %s is still there", gone)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("the cluster of a live owner was removed: %v", err)
	}
}
