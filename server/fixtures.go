package server

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
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
	if err := insertFixtureAccounts(ctx, tx); err != nil {
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

// Account is a user who can sign in.
type Account struct {
	Email, Password string
}

// FixtureAccounts are twenty users who sign in, each with a password of
// its own: diver01@example.com / dive-01-pass up to diver20, for load
// that signs many users in (a scenario's data rows). They join after the
// rest of the fixtures and own nothing, so the likes and logbooks are
// the same with them as without.
func FixtureAccounts() []Account {
	out := make([]Account, len(accountHashes))
	for i := range out {
		out[i] = Account{Email: fmt.Sprintf("diver%02d@example.com", i+1), Password: fmt.Sprintf("dive-%02d-pass", i+1)}
	}
	return out
}

// accountHashes are the FixtureAccounts' passwords as Django stores them,
// at PasswordIterations: computed once (TestFixtureAccountHashes checks
// them), since paying 600,000 PBKDF2 iterations twenty times would add
// seconds to every twin's start.
var accountHashes = [...]string{
	"pbkdf2_sha256$600000$perflabdiver01salt0000$CMxPdwSjTfRl2FBy9p6dJEImdYhf1ZcdAmhosOwF7NY=",
	"pbkdf2_sha256$600000$perflabdiver02salt0000$k0n3eYTyK6VlGjZ8azqoS+HxLQTgHt6+8p+cCQn+XKw=",
	"pbkdf2_sha256$600000$perflabdiver03salt0000$ICDKNyzImrluvl6ow639ZIluNJ3yegWW24KvghFs6SI=",
	"pbkdf2_sha256$600000$perflabdiver04salt0000$80GOz6u9JzSWVvoNRyeuS7GHsbJpmfW43p52esfjDco=",
	"pbkdf2_sha256$600000$perflabdiver05salt0000$SN3XYtJ++lxvR1nfs9Vn5XVRP+WzJZynF/3LUghD24k=",
	"pbkdf2_sha256$600000$perflabdiver06salt0000$Ep4Emffbor4hQLhRWksKyotWv+72/3ar9+folQq/3ss=",
	"pbkdf2_sha256$600000$perflabdiver07salt0000$dBp25gwHj9rbUz9WaxSmgbpG27U455OYFbnTSBkGVM8=",
	"pbkdf2_sha256$600000$perflabdiver08salt0000$A3+fgycD1kpKAonGWeegRI1GQYTecloFCmhzUPsQGCY=",
	"pbkdf2_sha256$600000$perflabdiver09salt0000$EqmR1wJ8UdwMkoRL4iJ0C9elQU17Coaqpm564/3hmxg=",
	"pbkdf2_sha256$600000$perflabdiver10salt0000$O9/NOG7jt4mx+qC4VTVCtRMKEBWipK+LthVwgGDAWlI=",
	"pbkdf2_sha256$600000$perflabdiver11salt0000$i1XZDEwrmB1QDkCgyC0gH37r0bUQAztAz7dtsZ8nHv8=",
	"pbkdf2_sha256$600000$perflabdiver12salt0000$IVfr9yc7jS9J3535xGOjE/dFvllR/wgt7rvLRre4cOA=",
	"pbkdf2_sha256$600000$perflabdiver13salt0000$LPIHX/4tWj2s2JT/FNF8rxHaeQSMr6niyZTs31RaO64=",
	"pbkdf2_sha256$600000$perflabdiver14salt0000$k/d6x1K7nXyG8WMRO9TF5he7vnGLTxr244ABHwr9eGM=",
	"pbkdf2_sha256$600000$perflabdiver15salt0000$lH8iR7+H7sQ0IB39vcD27xQdwmNz8PTOx31hs4F31EI=",
	"pbkdf2_sha256$600000$perflabdiver16salt0000$v/n9105RP1aqZw/Qwdts+/J/Uot72j8VctR5EEymSoc=",
	"pbkdf2_sha256$600000$perflabdiver17salt0000$FkxXm49gfUsUTNyT9v26VdqHCelxvvdC5h35NUSM0tk=",
	"pbkdf2_sha256$600000$perflabdiver18salt0000$NhuvD8gpF1Vb9CtTTlx+9oI4Z7nHqEwMxtm+RivUDXE=",
	"pbkdf2_sha256$600000$perflabdiver19salt0000$b+XgZ2N5ejZBa4rG4T7L49QkT8vm5ehllOwpg3tQbzI=",
	"pbkdf2_sha256$600000$perflabdiver20salt0000$6NItlzwUpbjoSed7YDkzAW6KmZ2Y3zL8yahPccCnfp4=",
}

// insertFixtureAccounts adds the FixtureAccounts after every other user.
func insertFixtureAccounts(ctx context.Context, tx fixtureTx) error {
	joined := time.Date(2025, 9, 1, 9, 0, 0, 0, time.UTC)
	for i, a := range FixtureAccounts() {
		name, _, _ := strings.Cut(a.Email, "@")
		_, err := tx.ExecContext(ctx, `INSERT INTO users_user (id, password, email, username, date_joined) VALUES (?, ?, ?, ?, ?)`,
			len(fixtureUsernames)+i+1, accountHashes[i], a.Email, name, joined.Add(time.Duration(i)*time.Hour).Format(time.RFC3339))
		if err != nil {
			return fmt.Errorf("load fixture accounts: %w", err)
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
