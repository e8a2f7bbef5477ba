package server

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"
)

// The fixtures: the users, logbooks and likes a twin's database starts
// with, the same on every start. ruby@gmail.com / 12345678, the fixture
// user, is the study's k6 user; the others exist to like logbooks and
// cannot sign in (unusable passwords, as Django's set_unusable_password
// leaves them).
const (
	FixtureEmail    = "ruby@gmail.com"
	FixturePassword = "12345678"
)

var fixtureUsernames = []string{
	"ruby", "minji", "jisoo", "haneul", "seojun", "doyun", "yuna", "jiho",
	"sora", "taeyang", "eunwoo", "hana", "junho", "mina", "woojin", "sujin",
	"daeun", "siwoo", "chaeyoung", "hyunwoo",
}

var diveSites = []string{
	"Munseom", "Seopseom", "Beomseom", "Jigwido", "Udo", "Hongdo",
	"Ulleungdo", "Dokdo", "Tongyeong", "Sokcho", "Goseong", "Yangyang",
}

const (
	fixtureLogbooks = 30
	// fixtureLikedShare of the logbooks have likes, one to three each:
	// the study's likes answers averaged ~630 bytes on the wire, tens of
	// entries.
	fixtureLikedShare = 0.35
)

// loadFixtures creates the database at path with the fixtures, unless it
// already exists (a kept --data-dir).
func loadFixtures(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	err := writeFixtures(ctx, path)
	if err != nil {
		// A half-made file would be taken for a kept database next time.
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			os.Remove(p)
		}
	}
	return err
}

// writeFixtures creates the SQLite database at path with the schema and
// the fixtures.
func writeFixtures(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return fmt.Errorf("open database %s: %w", path, err)
	}
	defer db.Close()
	if err := createWithFixtures(ctx, db, sqlite, nil); err != nil {
		return fmt.Errorf("load fixtures into %s: %w", path, err)
	}
	return nil
}

// createWithFixtures creates the schema and the fixtures in one
// transaction, after check (if set) found the database fit for them
// inside it. One random source, with a fixed seed, draws users, then
// logbooks and their likes, in that order: the order is part of the data.
func createWithFixtures(ctx context.Context, db *sql.DB, d dialect, check func(*sql.Tx) error) error {
	sqlTx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer sqlTx.Rollback()
	if check != nil {
		if err := check(sqlTx); err != nil {
			return err
		}
	}
	tx := fixtureTx{sqlTx, d}
	if _, err := sqlTx.ExecContext(ctx, d.schema()); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	rng := rand.New(rand.NewPCG(20251102, 1))
	if err := insertFixtureUsers(ctx, tx, rng); err != nil {
		return err
	}
	if err := insertFixtureLogbooks(ctx, tx, rng); err != nil {
		return err
	}
	if q := d.afterFixtures(); q != "" {
		if _, err := sqlTx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("load fixtures: %w", err)
		}
	}
	return sqlTx.Commit()
}

// fixtureTx runs the fixtures' statements, written with ? markers, in
// the database's dialect.
type fixtureTx struct {
	tx *sql.Tx
	d  dialect
}

func (f fixtureTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return f.tx.ExecContext(ctx, f.d.rebind(q), args...)
}

// insertFixtureUsers adds the fixture user first, then the population.
func insertFixtureUsers(ctx context.Context, tx fixtureTx, rng *rand.Rand) error {
	joined := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	for i, name := range fixtureUsernames {
		email, pw := name+"@example.com", "!"+randomString(rng, 40)
		if i == 0 {
			email, pw = FixtureEmail, fixturePasswordHash(randomString(rng, 22))
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO users_user (id, password, email, username, date_joined) VALUES (?, ?, ?, ?, ?)`,
			i+1, pw, email, name, joined.Add(time.Duration(i)*36*time.Hour).Format(time.RFC3339))
		if err != nil {
			return fmt.Errorf("load fixture users: %w", err)
		}
	}
	return nil
}

// insertFixtureLogbooks adds the logbooks, each followed by its likes.
func insertFixtureLogbooks(ctx context.Context, tx fixtureTx, rng *rand.Rand) error {
	day := time.Date(2025, 5, 3, 0, 0, 0, 0, time.UTC)
	for id := 1; id <= fixtureLogbooks; id++ {
		site := diveSites[rng.IntN(len(diveSites))]
		dived := day.AddDate(0, 0, id*4+rng.IntN(3))
		_, err := tx.ExecContext(ctx, `INSERT INTO logbooks_logbook (id, user_id, title, site, max_depth_m, bottom_time_min, dived_on, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			id, 1+rng.IntN(len(fixtureUsernames)), fmt.Sprintf("Dive #%d at %s", id, site), site,
			float64(8+rng.IntN(250))/10+5, 25+rng.IntN(30), dived.Format(time.DateOnly), dived.Add(20*time.Hour).Format(time.RFC3339))
		if err != nil {
			return fmt.Errorf("load fixture logbooks: %w", err)
		}
		if rng.Float64() >= fixtureLikedShare {
			continue
		}
		// Likes come from the population; ruby's own likes are left for the
		// like and unlike endpoints to add.
		for _, u := range rng.Perm(len(fixtureUsernames) - 1)[:1+rng.IntN(3)] {
			if _, err := tx.ExecContext(ctx, `INSERT INTO logbooks_logbook_likes (logbook_id, user_id) VALUES (?, ?)`, id, u+2); err != nil {
				return fmt.Errorf("load fixture likes: %w", err)
			}
		}
	}
	return nil
}

// fixtureHash memoises the fixture user's hash: its salt is
// deterministic, so every twin this process starts would pay PBKDF2 for
// the same answer.
var fixtureHash struct {
	sync.Mutex
	salt, encoded string
}

func fixturePasswordHash(salt string) string {
	fixtureHash.Lock()
	defer fixtureHash.Unlock()
	if fixtureHash.salt != salt {
		fixtureHash.salt, fixtureHash.encoded = salt, makePassword(FixturePassword, salt, PasswordIterations)
	}
	return fixtureHash.encoded
}

func randomString(rng *rand.Rand, n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}
