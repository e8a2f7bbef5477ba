package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

const schema = `
CREATE TABLE users_user (
	id          INTEGER PRIMARY KEY,
	password    TEXT NOT NULL,
	last_login  TEXT,
	email       TEXT NOT NULL UNIQUE,
	username    TEXT NOT NULL UNIQUE,
	is_active   INTEGER NOT NULL DEFAULT 1,
	date_joined TEXT NOT NULL
);
CREATE TABLE logbooks_logbook (
	id              INTEGER PRIMARY KEY,
	user_id         INTEGER NOT NULL REFERENCES users_user(id),
	title           TEXT NOT NULL,
	site            TEXT NOT NULL,
	max_depth_m     REAL NOT NULL,
	bottom_time_min INTEGER NOT NULL,
	dived_on        TEXT NOT NULL,
	created_at      TEXT NOT NULL
);
CREATE TABLE logbooks_logbook_likes (
	id         INTEGER PRIMARY KEY,
	logbook_id INTEGER NOT NULL REFERENCES logbooks_logbook(id),
	user_id    INTEGER NOT NULL REFERENCES users_user(id),
	UNIQUE (logbook_id, user_id)
);
CREATE INDEX logbooks_logbook_likes_user_id ON logbooks_logbook_likes(user_id);
`

func dsn(path string) string {
	return path + "?_busy_timeout=5000&_journal_mode=WAL&_synchronous=NORMAL&_txlock=immediate"
}

// store is one process's connection to the database. It holds a single
// connection, as Django holds one per thread: a worker's queries never run
// side by side.
type store struct {
	db   *sql.DB
	stmt map[string]*sql.Stmt
}

// The statements are the ones Django's ORM issues for the study's views.
var statements = map[string]string{
	"userByEmail": `SELECT id, password, username, is_active FROM users_user WHERE email = ?`,
	"userByID":    `SELECT id, password, username, is_active FROM users_user WHERE id = ?`,
	"logbooks":    `SELECT id, user_id, title, site, max_depth_m, bottom_time_min, dived_on, created_at FROM logbooks_logbook ORDER BY id`,
	"likesExist": `SELECT 1 FROM users_user INNER JOIN logbooks_logbook_likes ON users_user.id = logbooks_logbook_likes.user_id
		WHERE logbooks_logbook_likes.logbook_id = ? LIMIT 1`,
	"likers": `SELECT users_user.username FROM users_user INNER JOIN logbooks_logbook_likes ON users_user.id = logbooks_logbook_likes.user_id
		WHERE logbooks_logbook_likes.logbook_id = ? ORDER BY logbooks_logbook_likes.id`,
	"logbookExists": `SELECT 1 FROM logbooks_logbook WHERE id = ? LIMIT 1`,
	"like":          `INSERT OR IGNORE INTO logbooks_logbook_likes (logbook_id, user_id) VALUES (?, ?)`,
	"unlike":        `DELETE FROM logbooks_logbook_likes WHERE logbook_id = ? AND user_id = ?`,
}

func openStore(path string) (*store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	s := &store{db: db, stmt: map[string]*sql.Stmt{}}
	for name, q := range statements {
		st, err := db.Prepare(q)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("prepare %s on %s: %w", name, path, err)
		}
		s.stmt[name] = st
	}
	return s, nil
}

func (s *store) close() error { return s.db.Close() }

type user struct {
	ID       int64
	Password string
	Username string
	Active   bool
}

var errNoRows = sql.ErrNoRows

func (s *store) user(ctx context.Context, by string, key any) (user, error) {
	var u user
	err := s.stmt[by].QueryRowContext(ctx, key).Scan(&u.ID, &u.Password, &u.Username, &u.Active)
	return u, err
}

// logbookIDs loads every logbook row, as iterating Logbook.objects.all()
// does, and returns their ids in order.
func (s *store) logbookIDs(ctx context.Context) ([]int64, error) {
	rows, err := s.stmt["logbooks"].QueryContext(ctx)
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
	err := s.stmt[stmt].QueryRowContext(ctx, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

func (s *store) likers(ctx context.Context, logbook int64) ([]string, error) {
	rows, err := s.stmt["likers"].QueryContext(ctx, logbook)
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
	rows, err := s.db.QueryContext(ctx, q, args...)
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

func (s *store) exec(ctx context.Context, stmt string, args ...any) error {
	_, err := s.stmt[stmt].ExecContext(ctx, args...)
	return err
}
