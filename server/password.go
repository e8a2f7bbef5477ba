package server

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Passwords are stored the way Django's PBKDF2PasswordHasher stores them:
// "pbkdf2_sha256$<iterations>$<salt>$<base64 hash>". An encoded value
// starting with "!" is Django's unusable password: no input matches it.
const passwordAlgorithm = "pbkdf2_sha256"

// makePassword encodes password with salt at the given iteration count.
func makePassword(password, salt string, iterations int) string {
	return fmt.Sprintf("%s$%d$%s$%s", passwordAlgorithm, iterations, salt, pbkdf2Hash(password, salt, iterations))
}

func pbkdf2Hash(password, salt string, iterations int) string {
	key, err := pbkdf2.Key(sha256.New, password, []byte(salt), iterations, sha256.Size)
	if err != nil {
		// Only a FIPS-mode restriction on short passwords gets here; such a
		// password cannot be checked, so nothing may match it.
		return ""
	}
	return base64.StdEncoding.EncodeToString(key)
}

// checkPassword reports whether password matches the encoded value,
// paying the stored iteration count in full.
func checkPassword(password, encoded string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 4 || parts[0] != passwordAlgorithm {
		return false
	}
	iterations, err := strconv.Atoi(parts[1])
	if err != nil || iterations < 1 || iterations > 10*PasswordIterations {
		return false
	}
	got := pbkdf2Hash(password, parts[2], iterations)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(parts[3])) == 1
}

// dummyPasswordCheck spends what a real check costs, so an unknown email
// takes as long to refuse as a wrong password (Django's ModelBackend does
// the same, for the same reason).
func dummyPasswordCheck(password string) {
	pbkdf2Hash(password, "perflabdummysalt000000", PasswordIterations)
}
