package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token lifetimes. SimpleJWT's default access lifetime is 5 minutes; a
// live session with the dashboard logs in once and runs far longer, so the
// twin's access tokens last an hour.
const (
	AccessTokenLifetime  = time.Hour
	RefreshTokenLifetime = 24 * time.Hour
)

// tokenClaims are SimpleJWT's claims: the token type keeps a refresh
// token from being used as an access token.
type tokenClaims struct {
	TokenType string `json:"token_type"`
	UserID    int64  `json:"user_id"`
	jwt.RegisteredClaims
}

func mintToken(secret []byte, kind string, userID int64, now time.Time, life time.Duration) (string, error) {
	jti := make([]byte, 16)
	rand.Read(jti)
	c := tokenClaims{
		TokenType: kind,
		UserID:    userID,
		RegisteredClaims: jwt.RegisteredClaims{
			ExpiresAt: jwt.NewNumericDate(now.Add(life)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        hex.EncodeToString(jti),
			Subject:   strconv.FormatInt(userID, 10),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("sign %s token: %w", kind, err)
	}
	return s, nil
}

var errWrongTokenType = errors.New("token has wrong type")

// parseAccessToken checks signature (HS256 only: "none" and every other
// algorithm are refused), expiry and type, and returns the user id.
func parseAccessToken(secret []byte, raw string) (int64, error) {
	var c tokenClaims
	_, err := jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(0))
	if err != nil {
		return 0, err
	}
	if c.TokenType != "access" {
		return 0, errWrongTokenType
	}
	return c.UserID, nil
}
