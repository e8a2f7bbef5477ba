package server

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// dbPollEvery is how often the parent reads the database server's own
// figures.
const dbPollEvery = 250 * time.Millisecond

// dbPollTimeout bounds one poll; a poll that misses it is retried on a
// new connection at the next tick, and nothing it would have counted is
// lost.
const dbPollTimeout = 2 * time.Second

// dbWatchName is the poll's application_name in pg_stat_activity.
const dbWatchName = "perflab stats"

// The counters a poll reads, in order.
const (
	dbTransactions = iota
	dbSessions
	dbActive
	dbCounters
)

var dbWords = [dbCounters]int{hDBTransactions, hDBSessions, hDBActiveMicros}

// dbWatch polls PostgreSQL's own figures for the board: transactions,
// sessions (connections opened), time spent running statements, and the
// client connections open now, from pg_stat_database and
// pg_stat_activity. The counters on the board only grow: each database
// the twin uses adds what it counted since the twin moved to it. The
// poll's own connections and transactions are left out.
type dbWatch struct {
	board  *board
	conn   *pgx.Conn
	source string
	primed bool
	first  [dbCounters]float64 // the server's counters when first read
	base   [dbCounters]uint64  // the board's counters then
	// own are the poll's own transactions and sessions since first,
	// which the server counts as the twin's.
	own [dbCounters]float64
	// flush: the server has pg_stat_force_next_flush (PostgreSQL 15
	// and later), which makes each poll's own transaction count before
	// the next poll reads, so that own matches the server exactly.
	flush bool
}

// watchDB keeps PostgreSQL's own figures on the board while the twin
// runs.
func (t *Twin) watchDB() {
	defer t.bg.Done()
	w := &dbWatch{board: t.board}
	defer w.disconnect()
	tick := time.NewTicker(dbPollEvery)
	defer tick.Stop()
	for {
		select {
		case <-t.quit:
			return
		case <-tick.C:
		}
		d := t.currentDB()
		if d == nil || d.dialect != postgres {
			t.board.hdr(hDBUp).Store(0)
			continue
		}
		if !w.poll(d.source) {
			t.board.hdr(hDBUp).Store(0)
		}
	}
}

// poll reads the server at source once and updates the board; false if
// the server did not answer.
func (w *dbWatch) poll(source string) bool {
	if source != w.source {
		w.disconnect()
		*w = dbWatch{board: w.board, source: source, flush: true}
	}
	ctx, cancel := context.WithTimeout(context.Background(), dbPollTimeout)
	defer cancel()
	if w.conn == nil {
		cfg, err := postgresConfig(source)
		if err != nil {
			return false
		}
		cfg.RuntimeParams["application_name"] = dbWatchName
		if w.conn, err = pgx.ConnectConfig(ctx, cfg); err != nil {
			w.conn = nil
			return false
		}
		if w.primed {
			// A new session, with the transaction that set it up.
			w.own[dbSessions]++
			w.own[dbTransactions]++
		}
	}
	now, open, err := w.read(ctx)
	if err == nil && !w.primed {
		w.first, w.primed = now, true
		for i, word := range dbWords {
			w.base[i] = w.board.hdr(word).Load()
		}
	}
	if w.primed {
		// This poll's transaction, which the next read counts.
		w.own[dbTransactions]++
	}
	if err != nil {
		w.disconnect()
		return false
	}
	for i, word := range dbWords {
		v := w.base[i] + uint64(max(0, now[i]-w.first[i]-w.own[i]))
		if v > w.board.hdr(word).Load() {
			w.board.hdr(word).Store(v)
		}
	}
	w.board.hdr(hDBConnections).Store(uint64(open))
	w.board.hdr(hDBUp).Store(1)
	return true
}

// The poll's query: the counters (active time in µs) and the client
// connections open now, the poll's own left out; pollFlushQuery also
// has the poll's own figures counted as soon as its transaction ends.
const (
	pollQuery = `SELECT d.xact_commit + d.xact_rollback, d.sessions, d.active_time * 1000,
		(SELECT count(*) FROM pg_stat_activity a WHERE a.datid = d.datid AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend')
		FROM pg_stat_database d WHERE d.datname = current_database()`
	pollFlushQuery = `SELECT d.xact_commit + d.xact_rollback, d.sessions, d.active_time * 1000,
		(SELECT count(*) FROM pg_stat_activity a WHERE a.datid = d.datid AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend')
		FROM pg_stat_database d, pg_stat_force_next_flush() WHERE d.datname = current_database()`
)

// read runs the poll's query.
func (w *dbWatch) read(ctx context.Context) (now [dbCounters]float64, open int64, err error) {
	if w.flush {
		err = w.conn.QueryRow(ctx, pollFlushQuery).Scan(&now[0], &now[1], &now[2], &open)
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "42883" { // undefined_function
			return now, open, err
		}
		// An older server: its figures lag the poll's own by up to a
		// second's worth of polls. The failed query was a transaction.
		w.flush = false
		if w.primed {
			w.own[dbTransactions]++
		}
	}
	err = w.conn.QueryRow(ctx, pollQuery).Scan(&now[0], &now[1], &now[2], &open)
	return now, open, err
}

func (w *dbWatch) disconnect() {
	if w.conn != nil {
		w.conn.Close(context.Background())
		w.conn = nil
	}
}
