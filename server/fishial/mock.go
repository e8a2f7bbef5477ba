// Package fishial is a mock of the Fishial fish-recognition API, shaped
// like the real service's flow so that a client written against it could
// be pointed at the real endpoints: a bearer token from client
// credentials, a signed-upload request carrying the image's metadata, a
// PUT of the bytes to the signed URL (size and MD5 verified), and a
// recognition call on the blob's signed id.
//
// Each step waits for the study's latency, scaled by a time scale.
// Those waits are sleeps on purpose: they stand for the remote service's
// own work (its AI, its storage), which is not what the race measures.
package fishial

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Latencies are the service's waits per step, before scaling.
type Latencies struct {
	Token        time.Duration // client credentials -> bearer token
	SignedUpload time.Duration // image metadata -> upload URL and signed id
	Upload       time.Duration // PUT of the image bytes to storage
	Recognition  time.Duration // signed id -> species
	// Network is the study's per-image overhead for nodes on other
	// machines. It is paid once per image, on the upload (the one
	// transfer of the image's bytes), by clients that come in through
	// the remote door (RemoteURL).
	Network time.Duration
}

// StudyLatencies are the study's mock latencies: token 0.10 s, signed
// upload 0.05 s, upload 0.20 s, recognition 0.50 s, and 0.05 s of network
// overhead per image for the distributed run.
func StudyLatencies() Latencies {
	return Latencies{
		Token:        100 * time.Millisecond,
		SignedUpload: 50 * time.Millisecond,
		Upload:       200 * time.Millisecond,
		Recognition:  500 * time.Millisecond,
		Network:      50 * time.Millisecond,
	}
}

// Scaled multiplies every latency by f.
func (l Latencies) Scaled(f float64) Latencies {
	s := func(d time.Duration) time.Duration { return time.Duration(float64(d) * f) }
	return Latencies{s(l.Token), s(l.SignedUpload), s(l.Upload), s(l.Recognition), s(l.Network)}
}

// PerImage is one image's chain after the token: signed upload, upload
// and recognition.
func (l Latencies) PerImage() time.Duration { return l.SignedUpload + l.Upload + l.Recognition }

// Config shapes a mock. The zero value is the study's service at time
// scale 1 with no injected faults.
type Config struct {
	Latencies Latencies // zero: StudyLatencies
	TimeScale float64   // multiplies Latencies and RetryAfter; zero means 1
	// Prob429 is the chance that an API call (token, signed upload,
	// recognition) is turned away with 429 Too Many Requests.
	Prob429    float64
	RetryAfter time.Duration // the wait a 429 asks for, before scaling; zero: 1 s
	TokenTTL   time.Duration // bearer token lifetime (not scaled); zero: 10 min, as the real service
	URLTTL     time.Duration // signed upload URL lifetime (not scaled); zero: 5 min
	Seed       uint64        // seeds the 429 draws
	// ClientID and ClientSecret are the credentials the token endpoint
	// accepts; random when empty.
	ClientID, ClientSecret string
}

// Stats count what the mock answered.
type Stats struct {
	Tokens         int64 // tokens issued
	UploadRequests int64 // signed uploads issued
	Uploads        int64 // image bytes stored and verified
	Recognitions   int64 // recognitions answered
	Unauthorized   int64 // 401s
	Unprocessable  int64 // 422s
	TooMany        int64 // 429s
}

// Server is a running mock on loopback. It listens twice: URL is the
// service as reached from this machine, RemoteURL the same service as
// reached by nodes on other machines (each upload there pays
// Latencies.Network more).
type Server struct {
	cfg     Config
	lat     Latencies // scaled
	retry   time.Duration
	key     []byte // signs tokens, signed ids and upload URLs
	local   *http.Server
	remote  *http.Server
	url     string
	rurl    string
	started time.Time

	mu     sync.Mutex
	rng    *mrand.Rand
	blobs  map[int64]*blob
	byKey  map[string]*blob
	nextID int64

	stats struct {
		tokens, uploadRequests, uploads, recognitions, unauthorized, unprocessable, tooMany atomic.Int64
	}
}

// Blob is what the mock knows of an image it was told about.
type Blob struct {
	ID          int64
	Key         string
	Filename    string
	ContentType string
	ByteSize    int64
	Checksum    string // base64 MD5, as declared and verified
	Uploaded    bool
}

type blob struct {
	Blob
	created time.Time
}

// Start listens on two loopback ports and serves the mock until Close.
func Start(c Config) (*Server, error) {
	if c.Latencies == (Latencies{}) {
		c.Latencies = StudyLatencies()
	}
	if c.TimeScale == 0 {
		c.TimeScale = 1
	}
	if c.TimeScale < 0 || c.Prob429 < 0 || c.Prob429 >= 1 {
		return nil, fmt.Errorf("mock Fishial API: time scale %g must be positive and 429 probability %g in [0, 1)", c.TimeScale, c.Prob429)
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = time.Second
	}
	if c.TokenTTL == 0 {
		c.TokenTTL = 10 * time.Minute
	}
	if c.URLTTL == 0 {
		c.URLTTL = 5 * time.Minute
	}
	if c.ClientID == "" {
		c.ClientID = randomHex(12)
	}
	if c.ClientSecret == "" {
		c.ClientSecret = randomHex(16)
	}
	s := &Server{
		cfg:     c,
		lat:     c.Latencies.Scaled(c.TimeScale),
		retry:   time.Duration(float64(c.RetryAfter) * c.TimeScale),
		key:     []byte(randomHex(32)),
		rng:     mrand.New(mrand.NewPCG(c.Seed, 0x6669736869616c)),
		blobs:   map[int64]*blob{},
		byKey:   map[string]*blob{},
		started: time.Now(),
	}
	ll, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("mock Fishial API: listen on loopback: %w", err)
	}
	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ll.Close()
		return nil, fmt.Errorf("mock Fishial API: listen on loopback: %w", err)
	}
	s.local = &http.Server{Handler: s.Handler(false), ReadHeaderTimeout: 10 * time.Second}
	s.remote = &http.Server{Handler: s.Handler(true), ReadHeaderTimeout: 10 * time.Second}
	s.url = "http://" + ll.Addr().String()
	s.rurl = "http://" + rl.Addr().String()
	go s.local.Serve(ll)
	go s.remote.Serve(rl)
	return s, nil
}

// URL is the base URL of the service (auth, API and storage share it).
func (s *Server) URL() string { return s.url }

// RemoteURL is the base URL nodes "on other machines" use.
func (s *Server) RemoteURL() string { return s.rurl }

// Credentials are the client id and secret the token endpoint accepts.
func (s *Server) Credentials() (id, secret string) { return s.cfg.ClientID, s.cfg.ClientSecret }

// Latencies are the scaled waits in force.
func (s *Server) Latencies() Latencies { return s.lat }

// RetryAfterWait is the scaled wait a 429 asks for.
func (s *Server) RetryAfterWait() time.Duration { return s.retry }

// Stats reports what the mock has answered so far.
func (s *Server) Stats() Stats {
	return Stats{
		Tokens:         s.stats.tokens.Load(),
		UploadRequests: s.stats.uploadRequests.Load(),
		Uploads:        s.stats.uploads.Load(),
		Recognitions:   s.stats.recognitions.Load(),
		Unauthorized:   s.stats.unauthorized.Load(),
		Unprocessable:  s.stats.unprocessable.Load(),
		TooMany:        s.stats.tooMany.Load(),
	}
}

// Lookup verifies a signed id and returns its blob, so a caller can
// check that a recognition result belongs to the image it claims.
func (s *Server) Lookup(signedID string) (Blob, error) {
	id, err := s.verifySignedID(signedID)
	if err != nil {
		return Blob{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.blobs[id]
	if !ok {
		return Blob{}, fmt.Errorf("signed id names blob %d, which this service never issued", id)
	}
	return b.Blob, nil
}

// Close stops both listeners and drops open connections.
func (s *Server) Close() error {
	return errors.Join(s.local.Close(), s.remote.Close())
}

// Handler serves the API; remote selects the door that pays the network
// overhead. Start uses it; tests may mount it on their own listener.
func (s *Server) Handler(remote bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathToken, s.token)
	mux.HandleFunc("POST "+PathSignedUpload, s.signedUpload)
	mux.HandleFunc("PUT /storage/{key}", func(w http.ResponseWriter, r *http.Request) { s.upload(w, r, remote) })
	mux.HandleFunc("GET "+PathRecognition, s.recognize)
	return mux
}

// waitUntil is the remote service's own work: a step's latency counts
// from the request's arrival, so the mock's own handling (reading and
// hashing an upload) is part of it, not added to it. It ends early if
// the client hangs up.
//
// Go's timers fire up to a millisecond late when the process has nothing
// else to run (its scheduler then sleeps in whole milliseconds), which
// would add to every step's latency; so the timer wakes the wait a
// little early and the kernel sleeps the rest (finishWait), to within
// its timer slack.
func waitUntil(ctx context.Context, deadline time.Time) bool {
	if d := time.Until(deadline) - finishWithin; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return false
		}
	}
	finishWait(time.Until(deadline))
	return ctx.Err() == nil
}

// finishWithin is how much of a wait the kernel sleeps: a little more
// than Go's timers can be late.
const finishWithin = 2 * time.Millisecond

// throttled draws the injected 429 and answers it.
func (s *Server) throttled(w http.ResponseWriter) bool {
	if s.cfg.Prob429 <= 0 {
		return false
	}
	s.mu.Lock()
	hit := s.rng.Float64() < s.cfg.Prob429
	s.mu.Unlock()
	if !hit {
		return false
	}
	s.stats.tooMany.Add(1)
	// Delta-seconds, with a fraction when the time scale makes the wait
	// shorter than a second; at scale 1 it is the usual whole number.
	w.Header().Set(HeaderRetryAfter, strconv.FormatFloat(s.retry.Seconds(), 'f', -1, 64))
	writeError(w, http.StatusTooManyRequests, "rate limit exceeded; retry after the Retry-After delay")
	return true
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
