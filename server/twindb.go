package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// twinDB is the database the twin's processes use: the SQLite file, the
// private PostgreSQL cluster, or a server named by URL.
type twinDB struct {
	setting string // Config.DB
	dialect dialect
	source  string // the SQLite file or the connection string
	cluster *clusterSpec
	runner  *runner // the cluster's watchdog
	// created is set when this start made the tables of a server given
	// by URL, which Close then drops (unless KeepData).
	created bool
}

// openDB makes the database of setting ready: the SQLite file with its
// fixtures, a private cluster started and loaded, or the given server's
// schema checked or created.
func (t *Twin) openDB(ctx context.Context, setting string) (*twinDB, error) {
	switch setting {
	case DBSQLite:
		path := filepath.Join(t.dir, "twin.db")
		if _, err := os.Stat(path); os.IsNotExist(err) {
			t.noteCreated(path, path+"-wal", path+"-shm")
		}
		if err := loadFixtures(ctx, path); err != nil {
			return nil, err
		}
		return &twinDB{setting: setting, dialect: sqlite, source: path}, nil
	case DBPostgres:
		return t.startCluster(ctx)
	}
	created, err := preparePostgres(ctx, setting)
	if err != nil {
		return nil, fmt.Errorf("--db %s: %w", redactURL(setting), err)
	}
	return &twinDB{setting: setting, dialect: postgres, source: setting, created: created}, nil
}

// startCluster starts a private cluster under its watchdog and loads the
// fixtures into it.
func (t *Twin) startCluster(ctx context.Context) (*twinDB, error) {
	c, err := newCluster(t.log)
	if err != nil {
		return nil, err
	}
	d := &twinDB{setting: DBPostgres, dialect: postgres, source: c.dsn(), cluster: c}
	t.dbMu.Lock()
	t.starting = c
	t.dbMu.Unlock()
	defer func() {
		t.dbMu.Lock()
		t.starting = nil
		t.dbMu.Unlock()
	}()
	rs, err := t.startSlots(ctx, []int{dbSlot})
	if err != nil {
		removeCluster(c.Dir)
		return nil, fmt.Errorf("--db postgres: start the private cluster: %w", err)
	}
	d.runner = rs[0]
	t.log.Printf("postgres cluster up in %s (%s)", c.Dir, c.Bin)
	if _, err := preparePostgres(ctx, d.source); err != nil {
		t.closeDB(d)
		return nil, fmt.Errorf("--db postgres: %w", err)
	}
	return d, nil
}

// closeDB lets go of a database the twin no longer uses: a private
// cluster is stopped and removed, the tables made in a given server
// dropped unless the data is kept.
func (t *Twin) closeDB(d *twinDB) error {
	if d == nil {
		return nil
	}
	if d.runner != nil {
		stopRunners([]*runner{d.runner}, stopGrace)
		t.board.slot(dbSlot, sChildPID).Store(0)
	}
	if d.cluster != nil {
		// The watchdog removes it; this covers a watchdog killed first.
		if err := removeCluster(d.cluster.Dir); err != nil {
			return fmt.Errorf("remove the private cluster: %w", err)
		}
	}
	if d.created && !t.started.KeepData {
		ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
		defer cancel()
		return dropTwinTables(ctx, d.source)
	}
	return nil
}

// currentDB is the database in force.
func (t *Twin) currentDB() *twinDB {
	t.dbMu.Lock()
	defer t.dbMu.Unlock()
	return t.db
}

// switchDB moves the twin to another database: the new one is made
// ready, then the workers and the task worker are restarted against it
// (the ones running finish their requests first, as in a resize; new
// connections wait in the listening socket's queue meanwhile), then the
// old one is let go.
func (t *Twin) switchDB(ctx context.Context, c Config) error {
	next, err := t.openDB(ctx, c.DB)
	if err != nil {
		return err
	}
	t.dbMu.Lock()
	old := t.db
	t.db = next
	t.dbMu.Unlock()
	restart := append(append([]*runner{}, t.workers...), t.tasks)
	stopRunners(restart, resizeGrace)
	slots := make([]int, 0, len(restart))
	for _, r := range restart {
		slots = append(slots, r.slot)
	}
	started, err := t.startSlots(ctx, slots)
	if err != nil {
		t.workers, t.tasks = nil, nil
		return fmt.Errorf("restart the workers on the new database: %w", err)
	}
	t.workers, t.tasks = started[:len(started)-1], started[len(started)-1]
	if err := t.closeDB(old); err != nil {
		t.log.Printf("let go of the previous database: %v", err)
	}
	t.log.Printf("database now %s", redactURL(c.DB))
	return nil
}
