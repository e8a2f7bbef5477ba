package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

func dsn(path string) string {
	return path + "?_busy_timeout=5000&_journal_mode=WAL&_synchronous=NORMAL&_txlock=immediate"
}

// store is one process's connection to the database. It holds a single
// connection, as Django holds one per thread: a worker's queries never run
// side by side. On SQLite the connection stays open; on PostgreSQL it is
// opened by a request's first query and, unless connections persist,
// closed when the request ends (release), as Django does with
// CONN_MAX_AGE=0.
type store struct {
	db      *sql.DB
	dialect dialect
	stmt    map[string]*sql.Stmt // SQLite: prepared once

	mu   sync.Mutex
	conn *sql.Conn // PostgreSQL: the connection open now, if any
}

// The statements are the ones Django's ORM issues for the study's views,
// with ? for parameters (rebound for PostgreSQL).
var statements = map[string]string{
	"userByEmail": `SELECT id, password, username, is_active FROM users_user WHERE email = ?`,
	"userByID":    `SELECT id, password, username, is_active FROM users_user WHERE id = ?`,
	"logbooks":    `SELECT id, user_id, title, site, max_depth_m, bottom_time_min, dived_on, created_at FROM logbooks_logbook ORDER BY id`,
	"likesExist": `SELECT 1 FROM users_user INNER JOIN logbooks_logbook_likes ON users_user.id = logbooks_logbook_likes.user_id
		WHERE logbooks_logbook_likes.logbook_id = ? LIMIT 1`,
	"likers": `SELECT users_user.username FROM users_user INNER JOIN logbooks_logbook_likes ON users_user.id = logbooks_logbook_likes.user_id
		WHERE logbooks_logbook_likes.logbook_id = ? ORDER BY logbooks_logbook_likes.id`,
	"logbookExists": `SELECT 1 FROM logbooks_logbook WHERE id = ? LIMIT 1`,
	"like":          `INSERT INTO logbooks_logbook_likes (logbook_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING`,
	"unlike":        `DELETE FROM logbooks_logbook_likes WHERE logbook_id = ? AND user_id = ?`,
}

// openStore opens the database a child process was handed: a SQLite
// file, or a PostgreSQL server by its connection string.
func openStore(d dialect, source string) (*store, error) {
	if d == postgres {
		db, err := openPostgres(source)
		if err != nil {
			return nil, err
		}
		// Connections are opened by the store, one at a time; an idle
		// one is kept only while persistent (see release).
		db.SetMaxOpenConns(1)
		return &store{db: db, dialect: d}, nil
	}
	if _, err := os.Stat(source); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db, err := sql.Open("sqlite", dsn(source))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", source, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	s := &store{db: db, dialect: d, stmt: map[string]*sql.Stmt{}}
	for name, q := range statements {
		st, err := db.Prepare(q)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("prepare %s on %s: %w", name, source, err)
		}
		s.stmt[name] = st
	}
	return s, nil
}

// query runs a named statement. On PostgreSQL it opens the connection
// first if none is open, as Django's first query of a request does.
func (s *store) query(ctx context.Context, name string, args ...any) (*sql.Rows, error) {
	if s.dialect == sqlite {
		return s.stmt[name].QueryContext(ctx, args...)
	}
	return s.queryText(ctx, statements[name], args...)
}

// queryText runs SQL written with ? parameters.
func (s *store) queryText(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if s.dialect == sqlite {
		return s.db.QueryContext(ctx, q, args...)
	}
	c, err := s.connection(ctx)
	if err != nil {
		return nil, err
	}
	return c.QueryContext(ctx, s.dialect.rebind(q), args...)
}

func (s *store) exec(ctx context.Context, name string, args ...any) error {
	if s.dialect == sqlite {
		_, err := s.stmt[name].ExecContext(ctx, args...)
		return err
	}
	c, err := s.connection(ctx)
	if err != nil {
		return err
	}
	_, err = c.ExecContext(ctx, s.dialect.rebind(statements[name]), args...)
	return err
}

// connection is the PostgreSQL connection of the request in progress,
// opened (connect, authenticate, a new server process) on first use.
func (s *store) connection(ctx context.Context) (*sql.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		return s.conn, nil
	}
	c, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to the database: %w", err)
	}
	s.conn = c
	return c, nil
}

// release ends a request's use of the database: on PostgreSQL its
// connection is closed unless connections persist, as Django's
// request_finished handler does with CONN_MAX_AGE=0.
func (s *store) release(persistent bool) {
	if s.dialect == sqlite {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return
	}
	if persistent {
		s.db.SetMaxIdleConns(1)
	} else {
		s.db.SetMaxIdleConns(0) // the pool closes it rather than keep it
	}
	s.conn.Close()
	s.conn = nil
}

func (s *store) close() error {
	s.release(false)
	return s.db.Close()
}

type user struct {
	ID       int64
	Password string
	Username string
	Active   bool
}

var errNoRows = sql.ErrNoRows

func (s *store) user(ctx context.Context, by string, key any) (user, error) {
	var u user
	rows, err := s.query(ctx, by, key)
	return u, scanOne(rows, err, &u.ID, &u.Password, &u.Username, &u.Active)
}

// logbookIDs loads every logbook row, as iterating Logbook.objects.all()
// does, and returns their ids in order.
func (s *store) logbookIDs(ctx context.Context) ([]int64, error) {
	rows, err := s.query(ctx, "logbooks")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var (
			id, owner, minutes int64
			title, site, dived string
			created            string
			depth              float64
		)
		if err := rows.Scan(&id, &owner, &title, &site, &depth, &minutes, &dived, &created); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func (s *store) exists(ctx context.Context, stmt string, args ...any) (bool, error) {
	var one int
	rows, err := s.query(ctx, stmt, args...)
	err = scanOne(rows, err, &one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// scanOne scans the first row, as QueryRow does: sql.ErrNoRows when
// there is none.
func scanOne(rows *sql.Rows, err error, dest ...any) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Close()
}

func (s *store) likers(ctx context.Context, logbook int64) ([]string, error) {
	rows, err := s.query(ctx, "likers", logbook)
	if err != nil {
		return nil, err
	}
	return scanNames(rows)
}

func scanNames(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	names := []string{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// likersIn is prefetch_related's one query for every logbook's likers.
func (s *store) likersIn(ctx context.Context, ids []int64) (map[int64][]string, error) {
	out := map[int64][]string{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	q := `SELECT logbooks_logbook_likes.logbook_id, users_user.username FROM users_user
		INNER JOIN logbooks_logbook_likes ON users_user.id = logbooks_logbook_likes.user_id
		WHERE logbooks_logbook_likes.logbook_id IN (?` + strings.Repeat(", ?", len(ids)-1) + `) ORDER BY logbooks_logbook_likes.id`
	rows, err := s.queryText(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, err
		}
		out[id] = append(out[id], name)
	}
	return out, rows.Err()
}
