package server

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"perflab/server/proc"
)

func TestPasswordFormat(t *testing.T) {
	// Computed independently with Python's hashlib.pbkdf2_hmac, which
	// Django's PBKDF2PasswordHasher uses.
	const django = "pbkdf2_sha256$1000$seasalt$R1/GfWtwog1T8Ev9VndgDjzkiRzbFr8JpmJtL9cMmQU="
	if got := makePassword("letmein", "seasalt", 1000); got != django {
		t.Fatalf("makePassword = %s, want %s", got, django)
	}
	for _, tc := range []struct {
		password, encoded string
		want              bool
	}{
		{"letmein", django, true},
		{"letmeout", django, false},
		{"letmein", strings.Replace(django, "$1000$", "$1001$", 1), false},
		{"letmein", "md5$seasalt$abc", false},
		{"", "!unusable", false},
		{"letmein", "pbkdf2_sha256$x$seasalt$R1", false},
	} {
		if got := checkPassword(tc.password, tc.encoded); got != tc.want {
			t.Errorf("checkPassword(%q, %q) = %v, want %v", tc.password, tc.encoded, got, tc.want)
		}
	}
}

// TestPasswordCost checks the fixture user's password pays PasswordIterations and
// prints what one check costs here (README quotes it).
func TestPasswordCost(t *testing.T) {
	path := filepath.Join(t.TempDir(), "twin.db")
	if err := loadFixtures(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	s, err := openStore(sqlite, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	u, err := s.user(context.Background(), "userByEmail", FixtureEmail)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.Password, "pbkdf2_sha256$600000$") {
		t.Fatalf("fixture hash %q does not use %d iterations", u.Password, PasswordIterations)
	}
	began := time.Now()
	if !checkPassword(FixturePassword, u.Password) {
		t.Fatal("the fixture password does not match its hash")
	}
	t.Logf("one password check (%d PBKDF2-SHA256 iterations): %s", PasswordIterations, time.Since(began))
}

// TestBurnSpendsCPU: the declared costs are CPU actually spent.
func TestBurnSpendsCPU(t *testing.T) {
	const d = 40 * time.Millisecond
	before := proc.CPUTime()
	burn(d)
	if got := proc.CPUTime() - before; got < d {
		t.Fatalf("burn(%s) used %s of CPU", d, got)
	}
	if c := ProfileCosts(ProfileGo); c != (Costs{}) {
		t.Errorf("the go profile declares costs: %+v", c)
	}
	if c := ProfileCosts(ProfileDjango); c.Request <= 0 || c.Query <= 0 || c.AsyncHop <= 0 || !c.OneThread {
		t.Errorf("the django profile lacks costs: %+v", c)
	}
}

// TestFixtureAccountHashes: each fixture account's stored hash is its own
// password's at the full iteration count. The passwords differ, so no
// account signs in with another's.
func TestFixtureAccountHashes(t *testing.T) {
	accounts := FixtureAccounts()
	if len(accounts) != 20 {
		t.Fatalf("%d fixture accounts, want 20", len(accounts))
	}
	var wg sync.WaitGroup
	for i, a := range accounts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := accountHashes[i]
			if !strings.HasPrefix(h, fmt.Sprintf("pbkdf2_sha256$%d$", PasswordIterations)) {
				t.Errorf("%s: hash %q is not at %d iterations; recompute it with makePassword", a.Email, h, PasswordIterations)
				return
			}
			if !checkPassword(a.Password, h) {
				t.Errorf("%s: password %s does not match its hash", a.Email, a.Password)
			}
		}()
	}
	wg.Wait()
}
