package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"net/url"
	"os"
	osuser "os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"perflab/server/proc"
)

// The private cluster behind --db postgres: initdb into a directory of
// its own under the system's temporary directory, a postgres server that
// listens on a unix socket in that directory only (no TCP), password
// (SCRAM) authentication for the twin's role, and nothing left when the
// twin stops.
//
// A watchdog process (this binary, role twin-postgres) owns the server:
// it runs initdb on first start, starts postgres, and stops it and
// removes the directory when told to stop (SIGTERM) or when its parent
// dies (its parent-death signal is SIGTERM, so a perflab killed with
// SIGKILL still has its database stopped and removed within a second or
// two). The server itself gets SIGKILL if the watchdog dies, and then
// its processes leave as soon as they see their postmaster gone. A
// directory that outlives all that is removed by the next start: its
// name holds its owner's pid and start time, and an owner that is gone
// leaves it stale.
//
// initdb and postgres refuse to run as root, so under root they run as
// nobody, in a directory nobody owns.

const rolePostgres = "twin-postgres"

func init() { proc.Register(rolePostgres, postgresMain) }

// clusterPrefix starts the name of every private cluster's directory.
const clusterPrefix = "perflab-pg-"

// Names in the private cluster.
const (
	clusterPort  = 5432 // in the socket's file name only: no TCP
	clusterAdmin = "postgres"
	clusterRole  = "perflab"
	clusterDB    = "perflab"
)

// clusterStart bounds initdb plus the server's start on a busy machine.
const clusterStart = 3 * time.Minute

// clusterSpec is what the watchdog is handed.
type clusterSpec struct {
	Dir           string `json:"dir"` // data/ and the socket live here
	Bin           string `json:"bin"`
	AdminPassword string `json:"admin_password"`
	Password      string `json:"password"` // the twin's role's
	UID           int    `json:"uid"`      // -1: run as this process's user
	GID           int    `json:"gid"`
}

func (c *clusterSpec) dataDir() string { return filepath.Join(c.Dir, "data") }

// dsn is the twin's connection string: its role, over the socket.
func (c *clusterSpec) dsn() string { return c.dsnAs(clusterRole, c.Password, clusterDB) }

func (c *clusterSpec) dsnAs(role, password, db string) string {
	q := url.Values{"host": {c.Dir}, "port": {strconv.Itoa(clusterPort)}, "sslmode": {"disable"}}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(role, password), Path: "/" + db, RawQuery: q.Encode()}
	return u.String()
}

// newCluster makes a fresh cluster directory (after removing the stale
// ones) for the watchdog to initialise.
func newCluster(logger *log.Logger) (*clusterSpec, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	removeStaleClusters(logger)
	me, err := ownerTag(os.Getpid())
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", clusterPrefix+me+"-")
	if err != nil {
		return nil, fmt.Errorf("--db postgres: create the cluster's directory: %w", err)
	}
	c := &clusterSpec{Dir: dir, Bin: bin, AdminPassword: randomSecret(), Password: randomSecret(), UID: -1, GID: -1}
	if sock := filepath.Join(dir, fmt.Sprintf(".s.PGSQL.%d", clusterPort)); len(sock) > 100 {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("--db postgres: the socket path %s is too long for a unix socket; set TMPDIR to a shorter directory", sock)
	}
	if os.Geteuid() == 0 {
		// initdb refuses root: the cluster runs as nobody.
		u, err := osuser.Lookup("nobody")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("--db postgres: PostgreSQL will not run as root and there is no user nobody to run it as: %w", err)
		}
		c.UID, _ = strconv.Atoi(u.Uid)
		c.GID, _ = strconv.Atoi(u.Gid)
		if err := os.Chown(dir, c.UID, c.GID); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("--db postgres: give the cluster's directory to nobody: %w", err)
		}
	}
	return c, nil
}

func randomSecret() string {
	b := make([]byte, 18)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ownerTag names a process for the life of that process: its pid and
// its start time, so a later process with the same pid is another owner.
func ownerTag(pid int) (string, error) {
	start, err := proc.StartTime(pid)
	if err != nil {
		return "", fmt.Errorf("--db postgres: %w", err)
	}
	return fmt.Sprintf("%d-%d", pid, start), nil
}

// removeStaleClusters removes the cluster directories whose owner is
// gone, stopping a server still running in one first.
func removeStaleClusters(logger *log.Logger) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), clusterPrefix+"*"))
	for _, dir := range dirs {
		if !staleCluster(dir) {
			continue
		}
		stopStaleServer(filepath.Join(dir, "data"))
		if err := removeCluster(dir); err != nil {
			logger.Printf("remove stale cluster %s: %v", dir, err)
			continue
		}
		logger.Printf("removed stale cluster %s: its owner is gone", dir)
	}
}

// staleCluster reports whether dir's owner (perflab-pg-PID-START-*) is
// gone.
func staleCluster(dir string) bool {
	parts := strings.SplitN(strings.TrimPrefix(filepath.Base(dir), clusterPrefix), "-", 3)
	if len(parts) < 3 {
		return false // not one of ours
	}
	pid, err := strconv.Atoi(parts[0])
	if err != nil || pid <= 0 {
		return false
	}
	tag, err := ownerTag(pid)
	return err != nil || tag != parts[0]+"-"+parts[1]
}

// stopStaleServer stops a postmaster still running on data, found by its
// lock file and checked by its working directory, which postgres sets to
// its data directory.
func stopStaleServer(data string) {
	b, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		return
	}
	if !proc.RunsIn(pid, data) {
		return
	}
	syscall.Kill(pid, syscall.SIGQUIT) // immediate shutdown
	for deadline := time.Now().Add(2 * time.Second); proc.Running(pid) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

// removeCluster removes a cluster's directory, trying again for a
// moment while the server's last processes may still write in it.
func removeCluster(dir string) error {
	var err error
	for range 20 {
		if err = os.RemoveAll(dir); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

// postgresMain is the watchdog's process.
func postgresMain([]string) int {
	logger := log.New(os.Stderr, fmt.Sprintf("postgres watchdog pid %d: ", os.Getpid()), log.LstdFlags|log.Lmicroseconds)
	// Its parent's death is a SIGTERM (see launch), so the cluster is
	// stopped and removed whatever happened to perflab.
	sigs := childSignals()
	spec, err := readSpec()
	if err != nil || spec.Cluster == nil {
		logger.Printf("no cluster to run: %v", err)
		return 1
	}
	b, err := mapBoard(os.NewFile(fdTaskBord, "board"))
	if err != nil {
		logger.Print(err)
		return 1
	}
	w := &watchdog{spec: spec.Cluster, log: logger}
	go func() {
		<-sigs
		w.teardown()
		os.Exit(0)
	}()
	pm, err := w.start()
	if err != nil {
		logger.Print(err)
		w.stopServer()
		return 1
	}
	b.slot(dbSlot, sChildPID).Store(uint64(pm.cmd.Process.Pid))
	stopCPU := trackCPUOf(b, dbSlot, func() time.Duration { return proc.CPUTime() + proc.TreeCPU(pm.cmd.Process.Pid) })
	fmt.Println(readyLine)
	<-pm.exited
	stopCPU()
	if w.stopping() {
		select {} // teardown exits the process
	}
	logger.Printf("postgres exited unasked (%v)", pm.cmd.ProcessState)
	return 1
}

// watchdog runs one cluster's programs, one at a time.
type watchdog struct {
	spec *clusterSpec
	log  *log.Logger

	mu       sync.Mutex
	cur      *process // initdb or the postmaster
	server   bool     // cur is the postmaster
	quitting bool
}

func (w *watchdog) stopping() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.quitting
}

// start initialises the cluster if it is new, starts the server, and
// creates the twin's role and database if they are not there yet (a
// watchdog started again after a crash finds them).
func (w *watchdog) start() (*process, error) {
	c := w.spec
	ctx, cancel := context.WithTimeout(context.Background(), clusterStart)
	defer cancel()
	if _, err := os.Stat(filepath.Join(c.dataDir(), "PG_VERSION")); err != nil {
		if err := w.initdb(ctx); err != nil {
			return nil, err
		}
	}
	pm, err := w.run(filepath.Join(c.Bin, "postgres"), true,
		"-D", c.dataDir(),
		"-c", "listen_addresses=",
		"-c", "unix_socket_directories="+c.Dir,
		"-c", "port="+strconv.Itoa(clusterPort),
		"-c", "logging_collector=off",
		"-c", "huge_pages=off",
	)
	if err != nil {
		return nil, err
	}
	admin, err := w.connect(ctx, pm, c.dsnAs(clusterAdmin, c.AdminPassword, "postgres"))
	if err != nil {
		return nil, err
	}
	defer admin.Close(context.Background())
	var n int
	if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_roles WHERE rolname = $1`, clusterRole).Scan(&n); err != nil {
		return nil, fmt.Errorf("postgres: look for role %s: %w", clusterRole, err)
	}
	if n == 0 {
		for _, q := range []string{
			fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s'`, clusterRole, c.Password),
			fmt.Sprintf(`CREATE DATABASE %s OWNER %s`, clusterDB, clusterRole),
		} {
			if _, err := admin.Exec(ctx, q); err != nil {
				return nil, fmt.Errorf("postgres: create the twin's role and database: %w", err)
			}
		}
	}
	return pm, nil
}

// initdb creates the cluster: the admin's password from a file only
// the cluster's user reads, SCRAM for every connection, no fsync of the
// new files (the cluster is thrown away with the twin).
func (w *watchdog) initdb(ctx context.Context) error {
	c := w.spec
	pwfile := filepath.Join(c.Dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(c.AdminPassword+"\n"), 0o600); err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	defer os.Remove(pwfile)
	if c.UID >= 0 {
		if err := os.Chown(pwfile, c.UID, c.GID); err != nil {
			return fmt.Errorf("initdb: %w", err)
		}
	}
	// initdb is set-up, not the instance's work: it may use every core.
	p, err := w.run(filepath.Join(c.Bin, "initdb"), false,
		"-D", c.dataDir(), "-U", clusterAdmin, "--pwfile="+pwfile, "--auth=scram-sha-256",
		"--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	if err != nil {
		return err
	}
	select {
	case <-p.exited:
	case <-ctx.Done():
		return fmt.Errorf("initdb did not finish within %s", clusterStart)
	}
	if !p.cmd.ProcessState.Success() {
		return fmt.Errorf("initdb failed (%v); see the twin's log", p.cmd.ProcessState)
	}
	return nil
}

// run starts one of the cluster's programs as the cluster's user, dying
// with this process, in a process group of its own (the terminal's
// Ctrl-C is perflab's to handle, and a stop reaches every process the
// program started): the server pinned where this process is, initdb on
// every core.
func (w *watchdog) run(path string, server bool, args ...string) (*process, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.quitting {
		return nil, errors.New("stopping")
	}
	cmd := proc.External(path, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.Dir = w.spec.Dir
	cmd.SysProcAttr.Setpgid = true
	if w.spec.UID >= 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(w.spec.UID), Gid: uint32(w.spec.GID)}
	}
	var cpus []int
	if !server {
		cpus = proc.AllCPUs()
	}
	if err := proc.Start(cmd, cpus); err != nil {
		return nil, fmt.Errorf("start %s: %w", filepath.Base(path), err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{}), began: time.Now()}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	w.cur, w.server = p, server
	return p, nil
}

// connect waits for the server to accept connections.
func (w *watchdog) connect(ctx context.Context, pm *process, dsn string) (*pgx.Conn, error) {
	cfg, err := postgresConfig(dsn)
	if err != nil {
		return nil, err
	}
	for {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			return conn, nil
		}
		select {
		case <-pm.exited:
			return nil, fmt.Errorf("postgres exited while starting (%v); see the twin's log", pm.cmd.ProcessState)
		case <-ctx.Done():
			return nil, fmt.Errorf("postgres did not accept connections within %s: %w", clusterStart, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stopServer stops whatever runs: the server by immediate shutdown (no
// checkpoint: the data is about to go), initdb by SIGKILL.
func (w *watchdog) stopServer() {
	w.mu.Lock()
	w.quitting = true
	p, server := w.cur, w.server
	w.mu.Unlock()
	if p == nil {
		return
	}
	if server {
		p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.exited:
		case <-time.After(time.Second):
		}
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) // the group: what is left
	<-p.exited
}

// teardown stops the server and removes the cluster.
func (w *watchdog) teardown() {
	w.stopServer()
	if err := removeCluster(w.spec.Dir); err != nil {
		w.log.Printf("remove the cluster: %v", err)
	}
}
