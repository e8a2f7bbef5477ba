package fishial

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	mock "perflab/server/fishial"
)

// Endpoints are where a client finds the service. The real one
// splits authentication and API across two hosts; the mock serves both
// (and its storage) on one.
type Endpoints struct {
	Auth string // token endpoint host
	API  string // recognition API host
}

// RealEndpoints are the public service's hosts.
var RealEndpoints = Endpoints{Auth: "https://api-users.fishial.ai", API: "https://api.fishial.ai"}

// defaultTokenLife is assumed when a token carries no readable expiry;
// the service documents ten minutes.
const defaultTokenLife = 10 * time.Minute

// apiClient speaks the service's flow: token, signed upload, PUT to
// storage, recognition. Nothing in it knows the service is a mock.
type apiClient struct {
	ep     Endpoints
	id     string
	secret string
	http   *http.Client
}

func newAPIClient(ep Endpoints, id, secret string) *apiClient {
	// Plain HTTP (the mock) is exchanged on the caller's goroutine;
	// https (the real service) goes through net/http's transport. Every
	// image of the async strategy may be in flight on its own connection;
	// both keep them all for the next step instead of redialling.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = MaxImages
	tr.MaxIdleConns = 0
	return &apiClient{ep: ep, id: id, secret: secret, http: &http.Client{Transport: newSyncTransport(tr), Timeout: 5 * time.Minute}}
}

// warmUp runs the client's code once before the race's clock starts, as
// in a client that has been running for a while: the first call of each
// step (its code's page faults, the type caches it fills) is start-up,
// not an image's work. So are its connections: a long-running client
// keeps a pool, and conns of them (one for each image it will have in
// flight) are opened here. Each asks the service for its root page,
// which no step of the flow uses and nothing counts. Over plain HTTP the
// client's transport opens them (prime); over https each exchange holds
// its answer until all have theirs, so that no two share a connection.
func (c *apiClient) warmUp(ctx context.Context, conns int) {
	photo := make([]byte, 64<<10)
	sum := md5.Sum(photo)
	meta, _ := json.Marshal(mock.UploadRequest{Blob: mock.BlobMeta{ContentType: http.DetectContentType(photo),
		Checksum: base64.StdEncoding.EncodeToString(sum[:])}})
	json.Unmarshal(meta, &mock.UploadRequest{})
	for _, v := range []any{&mock.TokenResponse{}, &mock.UploadResponse{}, &mock.RecognitionResponse{}} {
		b, _ := json.Marshal(v)
		json.Unmarshal(b, v)
	}
	if tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": time.Now().Unix()}).SignedString(photo); err == nil {
		jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	}
	if st, ok := c.http.Transport.(*syncTransport); ok && strings.HasPrefix(c.ep.API, "http://") {
		st.prime(ctx, c.ep.API+"/", max(1, conns))
		return
	}
	var all, answered sync.WaitGroup
	answered.Add(max(1, conns))
	for range max(1, conns) {
		all.Go(func() {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.ep.API+"/", nil)
			var resp *http.Response
			if err == nil {
				resp, err = c.http.Do(req)
			}
			answered.Done()
			answered.Wait()
			if err == nil {
				io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
				resp.Body.Close()
			}
		})
	}
	all.Wait()
}

// photoJob is one image to recognise: the file it is in, and where to
// download it from on a machine that does not have the race's folder.
type photoJob struct {
	Image int    `json:"image"`
	Name  string `json:"name"`
	Path  string `json:"path"`
	URL   string `json:"url,omitempty"`
	Run   string `json:"run,omitempty"` // distributed: the race the job belongs to
}

// imageResult is what a worker reports for a recognised image: enough
// to check it against the service (signed id) and the photo (MD5).
type imageResult struct {
	Image      int     `json:"image"`
	Name       string  `json:"name"`
	MD5        string  `json:"md5"`
	SignedID   string  `json:"signed_id"`
	Species    string  `json:"species"`
	Accuracy   float64 `json:"accuracy"`
	Retries429 int     `json:"retries_429"`
	Worker     string  `json:"worker"`
	// Steps are the async thread's CPU seconds for each of the image's
	// steps between its waits (steps.go); -1 for one it could not read.
	Steps []float64 `json:"steps_cpu_s,omitempty"`
	// CPU is the seconds of CPU the worker spent on this image, where it
	// can tell (a node, one image at a time); 0 where it reports its CPU
	// for all its images at once.
	CPU float64 `json:"cpu_s,omitempty"`
}

// flowStats count what one image's flow met on the way.
type flowStats struct{ retries429 int }

// tokenSource is how a strategy obtains its bearer token: fetched per
// image, shared in-process, shared through the parent, or through Redis.
type tokenSource interface {
	Token(ctx context.Context, st *flowStats) (string, error)
	// Stale tells the source the service refused tok (expired or revoked).
	Stale(ctx context.Context, tok string)
}

// statusError is an answer the flow cannot get past.
type statusError struct {
	step   string
	status int
	body   string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s: HTTP %d: %s", e.step, e.status, strings.TrimSpace(e.body))
}

// send runs one request, waiting out 429s as the service's Retry-After
// says. build is called for every attempt.
func (c *apiClient) send(ctx context.Context, step string, st *flowStats, build func() (*http.Request, error)) (int, []byte, error) {
	for {
		req, err := build()
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", step, err)
		}
		resp, err := c.http.Do(req.WithContext(ctx))
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", step, err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
		resp.Body.Close()
		if err != nil {
			return 0, nil, fmt.Errorf("%s: read answer: %w", step, err)
		}
		if len(body) > maxAnswer {
			return 0, nil, fmt.Errorf("%s: answer longer than %d bytes", step, maxAnswer)
		}
		if resp.StatusCode != http.StatusTooManyRequests {
			return resp.StatusCode, body, nil
		}
		st.retries429++
		t := time.NewTimer(retryAfter(resp.Header.Get(mock.HeaderRetryAfter), time.Now()))
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, nil, fmt.Errorf("%s: %w", step, ctx.Err())
		case <-t.C:
		}
	}
}

// retryAfter reads delta-seconds (a fraction is accepted too) or an
// HTTP date; one second when the header is missing or unreadable.
func retryAfter(h string, now time.Time) time.Duration {
	if s, err := strconv.ParseFloat(strings.TrimSpace(h), 64); err == nil && s >= 0 && s < 3600 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(0, t.Sub(now))
	}
	return time.Second
}

// fetchToken exchanges the credentials for a bearer token and reads its
// expiry from the token itself (a JWT), as the service sends no other.
func (c *apiClient) fetchToken(ctx context.Context, st *flowStats) (string, time.Time, error) {
	body, _ := json.Marshal(mock.TokenRequest{ClientID: c.id, ClientSecret: c.secret})
	code, answer, err := c.send(ctx, "token", st, func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, c.ep.Auth+mock.PathToken, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, err
	})
	if err != nil {
		return "", time.Time{}, err
	}
	if code != http.StatusOK {
		return "", time.Time{}, &statusError{"token", code, string(answer)}
	}
	var tok mock.TokenResponse
	if err := json.Unmarshal(answer, &tok); err != nil || tok.AccessToken == "" {
		return "", time.Time{}, fmt.Errorf("token: answer has no access_token: %.200s", answer)
	}
	exp := time.Now().Add(defaultTokenLife)
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok.AccessToken, claims); err == nil {
		if e, err := claims.GetExpirationTime(); err == nil && e != nil {
			exp = e.Time
		}
	}
	return tok.AccessToken, exp, nil
}

// reuseUntil is when a cached token should be replaced: a little before
// it expires, so a call never leaves with a token about to die.
func reuseUntil(exp time.Time) time.Time {
	return exp.Add(-min(5*time.Second, time.Until(exp)/10))
}

// authorized runs an API call with the flow's bearer token, getting one
// first if the flow has none, and a new one once if the service says the
// one it had is no longer good.
func (c *apiClient) authorized(ctx context.Context, step string, tokens tokenSource, tok *string, st *flowStats, build func() (*http.Request, error)) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		if *tok == "" {
			m := meterFrom(ctx)
			m.stop() // the wait for the token is no step's CPU
			t, err := tokens.Token(ctx, st)
			m.start()
			if err != nil {
				return nil, err
			}
			*tok = t
		}
		code, body, err := c.send(ctx, step, st, func() (*http.Request, error) {
			req, err := build()
			if err == nil {
				req.Header.Set(mock.HeaderAuthorization, mock.BearerPrefix+*tok)
				req.Header.Set("Accept", "application/json")
			}
			return req, err
		})
		switch {
		case err != nil:
			return nil, err
		case code == http.StatusUnauthorized && attempt == 0:
			tokens.Stale(ctx, *tok)
			*tok = ""
			continue
		case code != http.StatusOK:
			return nil, &statusError{step, code, string(body)}
		}
		return body, nil
	}
}

// photo is one photo ready for its flow: what the API asks about it,
// and where its bytes are.
type photo struct {
	size        int64
	md5         string // base64, as the API asks
	contentType string
	path        string // the file on this machine, or
	data        []byte // the bytes, downloaded
}

// photoBufs are the buffers photos are hashed through: one image's
// bytes pass through a buffer and are never kept, so a client with every
// image in flight holds no photo in memory.
var photoBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// photo hashes the job's photo in the race's folder, or downloads it
// when this machine has no such folder (a node started elsewhere).
func (c *apiClient) photo(ctx context.Context, job photoJob, st *flowStats) (photo, error) {
	f, err := os.Open(job.Path)
	if err == nil {
		defer f.Close()
		p, err := describePhoto(f)
		p.path = job.Path
		return p, err
	}
	if job.URL == "" || !errors.Is(err, fs.ErrNotExist) {
		return photo{}, err
	}
	code, data, err := c.send(ctx, "download photo", st, func() (*http.Request, error) {
		return http.NewRequest(http.MethodGet, job.URL, nil)
	})
	if err == nil && code != http.StatusOK {
		err = &statusError{"download photo", code, string(data)}
	}
	if err != nil {
		return photo{}, err
	}
	p, err := describePhoto(bytes.NewReader(data))
	p.data = data
	return p, err
}

// describePhoto reads a photo once, for its MD5, size and type, through
// a pooled buffer.
func describePhoto(r io.Reader) (photo, error) {
	buf := photoBufs.Get().(*[]byte)
	defer photoBufs.Put(buf)
	h := md5.New()
	var p photo
	for {
		n, err := r.Read(*buf)
		if n > 0 {
			if p.size == 0 {
				p.contentType = http.DetectContentType((*buf)[:n])
			}
			h.Write((*buf)[:n])
			p.size += int64(n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return photo{}, err
		}
	}
	p.md5 = base64.StdEncoding.EncodeToString(h.Sum(nil))
	return p, nil
}

// open returns the photo's bytes for one upload: the file itself, which
// the transport hands to the kernel (sendfile) instead of copying it
// through the client, or the downloaded bytes.
func (p photo) open() (io.ReadCloser, error) {
	if p.data != nil {
		return io.NopCloser(bytes.NewReader(p.data)), nil
	}
	return os.Open(p.path)
}

// recognise is the whole flow for one photo. The metadata step comes
// first: it needs no token, so a shared token's wait is never spent
// holding a photo that could already be hashed.
func (c *apiClient) recognise(ctx context.Context, job photoJob, tokens tokenSource, worker string) (imageResult, error) {
	var st flowStats
	fail := func(err error) (imageResult, error) {
		return imageResult{}, fmt.Errorf("%s: %w", job.Name, err)
	}

	// Hash the photo and describe it.
	ph, err := c.photo(ctx, job, &st)
	if err != nil {
		return fail(err)
	}
	meta, _ := json.Marshal(mock.UploadRequest{Blob: mock.BlobMeta{
		Filename:    job.Name,
		ContentType: ph.contentType,
		ByteSize:    ph.size,
		Checksum:    ph.md5,
	}})

	// Ask for a signed upload URL; the token got here serves the
	// recognition too.
	var tok string
	answer, err := c.authorized(ctx, "signed upload", tokens, &tok, &st, func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, c.ep.API+mock.PathSignedUpload, bytes.NewReader(meta))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, err
	})
	if err != nil {
		return fail(err)
	}
	var grant mock.UploadResponse
	if err := json.Unmarshal(answer, &grant); err != nil || grant.SignedID == "" || grant.DirectUpload.URL == "" {
		return fail(fmt.Errorf("signed upload: answer lacks signed-id or direct-upload.url: %.200s", answer))
	}

	// Upload the bytes with exactly the headers the grant lists.
	code, answer, err := c.send(ctx, "upload", &st, func() (*http.Request, error) {
		body, err := ph.open()
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequest(http.MethodPut, grant.DirectUpload.URL, body)
		if err != nil {
			body.Close()
			return nil, err
		}
		req.ContentLength = ph.size
		for k, v := range grant.DirectUpload.Headers {
			req.Header.Set(k, v)
		}
		return req, nil
	})
	if err != nil {
		return fail(err)
	}
	if code/100 != 2 {
		return fail(&statusError{"upload", code, string(answer)})
	}

	// Recognise.
	answer, err = c.authorized(ctx, "recognition", tokens, &tok, &st, func() (*http.Request, error) {
		return http.NewRequest(http.MethodGet, c.ep.API+mock.PathRecognition+"?"+mock.ParamSignedID+"="+url.QueryEscape(grant.SignedID), nil)
	})
	if err != nil {
		return fail(err)
	}
	var rec mock.RecognitionResponse
	if err := json.Unmarshal(answer, &rec); err != nil {
		return fail(fmt.Errorf("recognition: %w", err))
	}
	res := imageResult{Image: job.Image, Name: job.Name, MD5: ph.md5, SignedID: grant.SignedID, Retries429: st.retries429, Worker: worker}
	if len(rec.Results) > 0 && len(rec.Results[0].Species) > 0 {
		res.Species, res.Accuracy = rec.Results[0].Species[0].Name, rec.Results[0].Species[0].Accuracy
	}
	return res, nil
}

// perImageTokens fetches a new token for every call, as the study's
// sequential script did.
type perImageTokens struct{ c *apiClient }

func (p perImageTokens) Token(ctx context.Context, st *flowStats) (string, error) {
	tok, _, err := p.c.fetchToken(ctx, st)
	return tok, err
}

func (perImageTokens) Stale(context.Context, string) {}

// localTokens is one token shared by the goroutines of a process: the
// first caller fetches it holding the lock, the others wait on the lock.
type localTokens struct {
	c     *apiClient
	mu    sync.Mutex
	tok   string
	until time.Time
}

func (l *localTokens) Token(ctx context.Context, st *flowStats) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tok != "" && time.Now().Before(l.until) {
		return l.tok, nil
	}
	tok, exp, err := l.c.fetchToken(ctx, st)
	if err != nil {
		return "", err
	}
	l.tok, l.until = tok, reuseUntil(exp)
	return tok, nil
}

func (l *localTokens) Stale(_ context.Context, tok string) {
	l.mu.Lock()
	if l.tok == tok {
		l.tok = ""
	}
	l.mu.Unlock()
}
