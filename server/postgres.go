package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL as the twin's database: the same schema, fixtures and
// statements as SQLite, through pgx. Django's psycopg2 binds parameters
// on the client and sends each query whole, one round trip and one
// transaction (autocommit) per query; pgx's simple protocol does the
// same, so the server sees what the study's server saw.

// binDirEnv names a directory holding initdb and postgres, for installs
// outside Debian's /usr/lib/postgresql/VERSION/bin.
const binDirEnv = "PERFLAB_PG_BINDIR"

// errNoPostgres is the one line a missing PostgreSQL install gets.
var errNoPostgres = errors.New("--db postgres needs PostgreSQL's server programs (initdb, postgres), which are not installed; install them with `apt-get install postgresql` (the twin starts its own cluster; the system's is not used), or give --db postgres://user:password@host:port/database")

// postgresBin finds the directory of initdb and postgres: $PERFLAB_PG_BINDIR
// if set, else the newest /usr/lib/postgresql/*/bin, else PATH.
func postgresBin() (string, error) {
	has := func(dir string) bool {
		for _, p := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, p)); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
				return false
			}
		}
		return true
	}
	if dir, ok := os.LookupEnv(binDirEnv); ok {
		if has(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("%s=%s holds no initdb and postgres; %w", binDirEnv, dir, errNoPostgres)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) })
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && has(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	return "", errNoPostgres
}

// versionOf reads the major version out of /usr/lib/postgresql/15/bin.
func versionOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// checkDB validates a --db value; "postgres" needs the server programs.
func checkDB(db string) error {
	switch db {
	case DBSQLite:
		return nil
	case DBPostgres:
		_, err := postgresBin()
		return err
	}
	if _, err := postgresURL(db); err != nil {
		return err
	}
	return nil
}

// postgresURL checks a postgres:// URL: a host and a database.
func postgresURL(raw string) (*url.URL, error) {
	bad := fmt.Errorf("--db must be sqlite, postgres or postgres://user:password@host:port/database, got %q", redactURL(raw))
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, bad
	}
	if u.Host == "" && u.Query().Get("host") == "" {
		return nil, bad
	}
	if strings.Trim(u.Path, "/") == "" {
		return nil, bad
	}
	if _, err := pgx.ParseConfig(raw); err != nil {
		return nil, fmt.Errorf("--db %s: %v", redactURL(raw), err)
	}
	return u, nil
}

// connectTimeout bounds connecting to PostgreSQL.
const connectTimeout = 5 * time.Second

// postgresConfig parses a connection string (URL or key=value) the
// way the twin connects: the simple protocol, as psycopg2 talks.
func postgresConfig(source string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(source)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", redactURL(source), err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > connectTimeout {
		cfg.ConnectTimeout = connectTimeout
	}
	return cfg, nil
}

// openPostgres opens a database/sql handle on a PostgreSQL database; it
// connects when first used.
func openPostgres(source string) (*sql.DB, error) {
	cfg, err := postgresConfig(source)
	if err != nil {
		return nil, err
	}
	return stdlib.OpenDB(*cfg), nil
}

// preparePostgres makes the database at source ready for the twin: an
// empty one gets the schema and the fixtures (created says so), one
// holding the twin's tables is used as it is, and one with other tables
// is refused, since dropping them later would destroy what is not the
// twin's.
func preparePostgres(ctx context.Context, source string) (created bool, err error) {
	db, err := openPostgres(source)
	if err != nil {
		return false, err
	}
	defer db.Close()
	name := redactURL(source)
	if err := db.PingContext(ctx); err != nil {
		return false, fmt.Errorf("connect to the database %s: %w", name, err)
	}
	err = createWithFixtures(ctx, db, postgres, func(tx *sql.Tx) error {
		// Twins starting together on one database take turns.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(20251102)`); err != nil {
			return err
		}
		tables, err := listTables(ctx, tx)
		if err != nil {
			return err
		}
		if len(tables) == 0 {
			return nil
		}
		var foreign []string
		for _, t := range tables {
			if !slices.Contains(twinTables, t) {
				foreign = append(foreign, t)
			}
		}
		if len(foreign) > 0 || !slices.Contains(tables, markerTable) {
			if len(foreign) > 5 {
				foreign = append(foreign[:5], "...")
			}
			if len(foreign) == 0 {
				foreign = tables
			}
			return fmt.Errorf("%w: the database %s has tables perflab did not create (%s); give --db an empty database (e.g. CREATE DATABASE perflab_twin) or one perflab set up", errForeignTables, name, strings.Join(foreign, ", "))
		}
		var version int
		if err := tx.QueryRowContext(ctx, `SELECT schema_version FROM `+markerTable).Scan(&version); err != nil {
			return err
		}
		if strconv.Itoa(version) != schemaVersion {
			return fmt.Errorf("%w: the database %s holds perflab's tables of schema version %d, this perflab uses %s; drop them or give an empty database", errForeignTables, name, version, schemaVersion)
		}
		return errTablesReady
	})
	switch {
	case errors.Is(err, errTablesReady):
		return false, nil
	case err != nil:
		if !errors.Is(err, errForeignTables) {
			err = fmt.Errorf("load fixtures into %s: %w", name, err)
		}
		return false, err
	}
	return true, nil
}

var (
	errTablesReady   = errors.New("the twin's tables are there")
	errForeignTables = errors.New("not the twin's database")
)

func listTables(ctx context.Context, tx *sql.Tx) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`)
	if err != nil {
		return nil, err
	}
	return scanNames(rows)
}

// dropTwinTables removes the tables preparePostgres created.
func dropTwinTables(ctx context.Context, source string) error {
	db, err := openPostgres(source)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, `DROP TABLE IF EXISTS `+strings.Join(twinTables, ", ")+` CASCADE`)
	if err != nil {
		return fmt.Errorf("drop the twin's tables in %s: %w", redactURL(source), err)
	}
	return nil
}
