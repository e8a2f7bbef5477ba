package fishial

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// maxImageBytes bounds what the mock accepts, as a real service would.
const maxImageBytes = 20 << 20

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, ErrorResponse{Error: msg})
}

func (s *Server) unauthorized(w http.ResponseWriter, msg string) {
	s.stats.unauthorized.Add(1)
	w.Header().Set("WWW-Authenticate", `Bearer realm="fishial"`)
	writeError(w, http.StatusUnauthorized, msg)
}

func (s *Server) unprocessable(w http.ResponseWriter, msg string) {
	s.stats.unprocessable.Add(1)
	writeError(w, http.StatusUnprocessableEntity, msg)
}

// token exchanges client credentials for a bearer token (a JWT with an
// expiry and the client id as key id, like the real service's).
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if s.throttled(w) {
		return
	}
	var req TokenRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "body must be JSON with client_id and client_secret")
		return
	}
	if !hmac.Equal([]byte(req.ClientID), []byte(s.cfg.ClientID)) || !hmac.Equal([]byte(req.ClientSecret), []byte(s.cfg.ClientSecret)) {
		s.unauthorized(w, "unknown client_id or wrong client_secret")
		return
	}
	// The service's work is done within its latency, not after it.
	claims := jwt.MapClaims{"exp": start.Add(s.lat.Token).Add(s.cfg.TokenTTL).Unix(), "kid": s.cfg.ClientID}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.key)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "sign token: "+err.Error())
		return
	}
	if !waitUntil(r.Context(), start.Add(s.lat.Token)) {
		return
	}
	s.stats.tokens.Add(1)
	writeJSON(w, http.StatusOK, TokenResponse{AccessToken: signed, TokenType: "Bearer"})
}

// authorized checks the bearer token and answers 401 when it is missing,
// forged or expired.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	raw, ok := strings.CutPrefix(r.Header.Get(HeaderAuthorization), BearerPrefix)
	if !ok || raw == "" {
		s.unauthorized(w, "missing bearer token; get one from /v1/auth/token")
		return false
	}
	_, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return s.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired())
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		s.unauthorized(w, "token expired; get a new one from /v1/auth/token")
		return false
	case err != nil:
		s.unauthorized(w, "invalid bearer token")
		return false
	}
	return true
}

// signedUpload records an image's metadata and answers with the signed
// id and a URL that accepts exactly those bytes.
func (s *Server) signedUpload(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if s.throttled(w) || !s.authorized(w, r) {
		return
	}
	var req UploadRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "body must be JSON {\"blob\": {filename, content_type, byte_size, checksum}}")
		return
	}
	b := req.Blob
	sum, err := base64.StdEncoding.DecodeString(b.Checksum)
	switch {
	case b.Filename == "" || path.Base(b.Filename) != b.Filename:
		s.unprocessable(w, "blob.filename must be a base name")
		return
	case b.ContentType == "":
		s.unprocessable(w, "blob.content_type is required")
		return
	case b.ByteSize <= 0 || b.ByteSize > maxImageBytes:
		s.unprocessable(w, fmt.Sprintf("blob.byte_size must be 1..%d", maxImageBytes))
		return
	case err != nil || len(sum) != md5.Size:
		s.unprocessable(w, "blob.checksum must be the base64 MD5 of the file")
		return
	}
	// The service's work is done within its latency, not after it: the
	// blob is recorded and its URL signed before the wait ends.
	s.mu.Lock()
	s.nextID++
	bl := &blob{Blob: Blob{ID: s.nextID, Key: randomHex(14), Filename: b.Filename, ContentType: b.ContentType, ByteSize: b.ByteSize, Checksum: b.Checksum}, created: time.Now()}
	s.blobs[bl.ID] = bl
	s.byKey[bl.Key] = bl
	s.mu.Unlock()

	expires := strconv.FormatInt(time.Now().Add(s.cfg.URLTTL).Unix(), 10)
	q := url.Values{"expires": {expires}, "signature": {s.sign("upload", bl.Key, expires, bl.Checksum)}}
	uploadURL := "http://" + r.Host + "/storage/" + bl.Key + "?" + q.Encode()
	answer := UploadResponse{
		ID:          bl.ID,
		Key:         bl.Key,
		Filename:    bl.Filename,
		ContentType: bl.ContentType,
		ByteSize:    bl.ByteSize,
		Checksum:    bl.Checksum,
		CreatedAt:   bl.created.UTC().Format(time.RFC3339Nano),
		ServiceName: "perflab-mock",
		SignedID:    s.signedID(bl.ID),
		DirectUpload: DirectUpload{
			URL: uploadURL,
			Headers: map[string]string{
				HeaderContentMD5:      bl.Checksum,
				"Content-Disposition": fmt.Sprintf("inline; filename=%q; filename*=UTF-8''%s", bl.Filename, url.PathEscape(bl.Filename)),
			},
		},
	}
	if !waitUntil(r.Context(), start.Add(s.lat.SignedUpload)) {
		return
	}
	s.stats.uploadRequests.Add(1)
	writeJSON(w, http.StatusOK, answer)
}

// upload stores (verifies, then forgets) the bytes of a blob. The URL's
// signature covers the key, expiry and checksum, so only the declared
// image can land there; a body of another size or digest is a 422.
func (s *Server) upload(w http.ResponseWriter, r *http.Request, remote bool) {
	start := time.Now()
	key := r.PathValue("key")
	q := r.URL.Query()
	expires := q.Get("expires")
	s.mu.Lock()
	bl := s.byKey[key]
	s.mu.Unlock()
	if bl == nil || !hmac.Equal([]byte(q.Get("signature")), []byte(s.sign("upload", key, expires, bl.Checksum))) {
		writeError(w, http.StatusForbidden, "upload URL signature does not match; request a new upload URL")
		return
	}
	if exp, err := strconv.ParseInt(expires, 10, 64); err != nil || time.Now().Unix() > exp {
		writeError(w, http.StatusForbidden, "upload URL expired; request a new upload URL")
		return
	}
	if r.Header.Get(HeaderContentMD5) != bl.Checksum {
		writeError(w, http.StatusForbidden, "Content-MD5 header must be the one returned with the upload URL")
		return
	}
	h := md5.New()
	n, err := io.Copy(h, http.MaxBytesReader(w, r.Body, bl.ByteSize+1))
	if err != nil && n <= bl.ByteSize {
		writeError(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	latency := s.lat.Upload
	if remote {
		latency += s.lat.Network
	}
	if !waitUntil(r.Context(), start.Add(latency)) {
		return
	}
	if n != bl.ByteSize {
		s.unprocessable(w, fmt.Sprintf("body has %d bytes, blob declared %d", n, bl.ByteSize))
		return
	}
	if got := base64.StdEncoding.EncodeToString(h.Sum(nil)); got != bl.Checksum {
		s.unprocessable(w, fmt.Sprintf("body MD5 %s does not match the declared checksum %s", got, bl.Checksum))
		return
	}
	s.mu.Lock()
	bl.Uploaded = true
	s.mu.Unlock()
	s.stats.uploads.Add(1)
	w.WriteHeader(http.StatusOK)
}

// recognize answers the species on an uploaded blob. The result depends
// only on the image's checksum, so it is the same on every run.
func (s *Server) recognize(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if s.throttled(w) || !s.authorized(w, r) {
		return
	}
	b, err := s.Lookup(r.URL.Query().Get(ParamSignedID))
	if err != nil {
		writeError(w, http.StatusNotFound, ParamSignedID+": "+err.Error())
		return
	}
	if !b.Uploaded {
		s.unprocessable(w, "blob has no uploaded file yet; PUT the image to its upload URL first")
		return
	}
	answer := RecognitionResponse{Results: []Recognition{recognition(b.Checksum)}}
	if !waitUntil(r.Context(), start.Add(s.lat.Recognition)) {
		return
	}
	s.stats.recognitions.Add(1)
	writeJSON(w, http.StatusOK, answer)
}

// sign is the mock's HMAC over its own identifiers.
func (s *Server) sign(parts ...string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(strings.Join(parts, "\n")))
	return hex.EncodeToString(m.Sum(nil))[:40]
}

// signedID is a tamper-evident blob reference: message "--" signature.
func (s *Server) signedID(id int64) string {
	msg := base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf(`{"blob_id":%d,"purpose":"blob_id"}`, id)))
	return msg + "--" + s.sign("blob_id", msg)
}

func (s *Server) verifySignedID(sid string) (int64, error) {
	msg, sig, ok := strings.Cut(sid, "--")
	if !ok || !hmac.Equal([]byte(sig), []byte(s.sign("blob_id", msg))) {
		return 0, errors.New("not a signed id of this service")
	}
	raw, err := base64.StdEncoding.DecodeString(msg)
	if err != nil {
		return 0, fmt.Errorf("signed id message: %w", err)
	}
	var m struct {
		BlobID int64 `json:"blob_id"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return 0, fmt.Errorf("signed id message: %w", err)
	}
	return m.BlobID, nil
}
