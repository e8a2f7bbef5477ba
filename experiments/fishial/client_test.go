package fishial

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mock "perflab/server/fishial"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		h    string
		want time.Duration
	}{
		{"2", 2 * time.Second},
		{"0.02", 20 * time.Millisecond},
		{"0", 0},
		{"Wed, 01 May 2024 12:00:03 GMT", 3 * time.Second},
		{"", time.Second},
		{"soon", time.Second},
	}
	for _, c := range cases {
		if got := retryAfter(c.h, now); got != c.want {
			t.Errorf("retryAfter(%q) = %v, want %v", c.h, got, c.want)
		}
	}
}

// testBench is a mock, the photos in a folder and a photo bucket for
// client tests.
func testBench(t *testing.T, cfg mock.Config, images int) (*mock.Server, *apiClient, []photoJob) {
	m, c, jobs, _ := testBenchBucket(t, cfg, images)
	return m, c, jobs
}

func testBenchBucket(t *testing.T, cfg mock.Config, images int) (*mock.Server, *apiClient, []photoJob, *photoBucket) {
	t.Helper()
	m, err := mock.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	ims := Images(images)
	dir := t.TempDir()
	if err := writePhotos(dir, ims); err != nil {
		t.Fatal(err)
	}
	b, err := startPhotoBucket(ims)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	id, secret := m.Credentials()
	c := newAPIClient(Endpoints{Auth: m.URL(), API: m.URL()}, id, secret)
	var jobs []photoJob
	for i, im := range ims {
		jobs = append(jobs, photoJob{Image: i, Name: im.Name, Path: filepath.Join(dir, im.Name), URL: b.url + "/photos/" + im.Name})
	}
	return m, c, jobs, b
}

// A client reads its photo from the race's folder; only a node on a
// machine without that folder downloads it.
func TestClientReadsPhotosFromDiskAndDownloadsOnlyWithout(t *testing.T) {
	m, c, jobs, bucket := testBenchBucket(t, mock.Config{TimeScale: 0.01}, 2)
	if _, err := c.recognise(context.Background(), jobs[0], perImageTokens{c}, "w"); err != nil {
		t.Fatal(err)
	}
	if n := bucket.served.Load(); n != 0 {
		t.Fatalf("the photo bucket served %d downloads to a client that has the folder", n)
	}
	elsewhere := jobs[1]
	elsewhere.Path = filepath.Join(t.TempDir(), "not-on-this-machine", elsewhere.Name)
	res, err := c.recognise(context.Background(), elsewhere, perImageTokens{c}, "w")
	if err != nil {
		t.Fatal(err)
	}
	if n := bucket.served.Load(); n != 1 || res.MD5 != Images(2)[1].MD5() {
		t.Fatalf("without the folder: %d downloads, MD5 %s; want one download of image 1", n, res.MD5)
	}
	if st := m.Stats(); st.Uploads != 2 {
		t.Fatalf("mock stored %d uploads, want 2", st.Uploads)
	}
}

// staleOnce hands out a token the service will refuse, then real ones.
type staleOnce struct {
	inner  tokenSource
	mu     sync.Mutex
	stales int
}

func (s *staleOnce) Token(ctx context.Context, st *flowStats) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stales == 0 {
		return "eyJhbGciOiJIUzI1NiJ9.e30.forged", nil
	}
	return s.inner.Token(ctx, st)
}

func (s *staleOnce) Stale(ctx context.Context, tok string) {
	s.mu.Lock()
	s.stales++
	s.mu.Unlock()
}

func TestClientFlowRecognisesAndRecoversFrom401(t *testing.T) {
	m, c, jobs := testBench(t, mock.Config{TimeScale: 0.01}, 2)
	src := &staleOnce{inner: &localTokens{c: c}}
	res, err := c.recognise(context.Background(), jobs[1], src, "w")
	if err != nil {
		t.Fatal(err)
	}
	if src.stales != 1 {
		t.Fatalf("token reported stale %d times, want once (the forged one)", src.stales)
	}
	im := Images(2)[1]
	b, err := m.Lookup(res.SignedID)
	if err != nil || res.MD5 != im.MD5() || b.Checksum != im.MD5() || !b.Uploaded || res.Species == "" || res.Image != 1 {
		t.Fatalf("result %+v, blob %+v (%v): want image 1's MD5, uploaded, with a species", res, b, err)
	}
	if st := m.Stats(); st.Unauthorized != 1 || st.Tokens != 1 {
		t.Fatalf("mock stats %+v: want the forged token refused once and one real token", st)
	}
}

func TestClientRefusesExpiredTokensWithoutLooping(t *testing.T) {
	_, c, jobs := testBench(t, mock.Config{TimeScale: 0.01, TokenTTL: -time.Minute}, 1)
	_, err := c.recognise(context.Background(), jobs[0], &localTokens{c: c}, "w")
	var se *statusError
	if !errors.As(err, &se) || se.status != 401 || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("error %v: want the service's 401 about an expired token after one retry", err)
	}
}

func TestClientCountsEvery429(t *testing.T) {
	m, c, jobs := testBench(t, mock.Config{TimeScale: 0.01, Prob429: 0.4, Seed: 3}, 6)
	retries := 0
	for _, j := range jobs {
		res, err := c.recognise(context.Background(), j, perImageTokens{c}, "w")
		if err != nil {
			t.Fatal(err)
		}
		retries += res.Retries429
	}
	if st := m.Stats(); retries == 0 || int64(retries) != st.TooMany || st.Recognitions != 6 {
		t.Fatalf("client counted %d retries, mock sent %d 429s and answered %d recognitions; want equal, nonzero, 6", retries, st.TooMany, st.Recognitions)
	}
}

// connCounter is an HTTP server, serving h, that counts the connections
// made to it.
func connCounter(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &n
}

// The warm-up opens the pool a long-running client would have: one
// connection per image in flight, so that no image of the race pays
// for dialling one.
func TestWarmUpOpensOneConnectionPerImageInFlight(t *testing.T) {
	srv, conns := connCounter(t, http.NotFoundHandler())
	c := newAPIClient(Endpoints{Auth: srv.URL, API: srv.URL}, "id", "secret")
	c.warmUp(context.Background(), 12)
	if got := conns.Load(); got != 12 {
		t.Fatalf("warm-up opened %d connections, want 12", got)
	}
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			resp, err := c.http.Get(srv.URL + "/")
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	if got := conns.Load(); got != 12 {
		t.Fatalf("12 requests at once after the warm-up made %d connections in all, want the 12 it opened", got)
	}
}

// A photo on disk is hashed through a shared buffer and uploaded from
// its file, so the client keeps none of its bytes: what the API is told
// matches the photo, and the upload body is the file itself (which the
// transport hands to the kernel).
func TestPhotoOnDiskIsHashedNotKept(t *testing.T) {
	im := Images(1)[0]
	dir := t.TempDir()
	if err := writePhotos(dir, []Image{im}); err != nil {
		t.Fatal(err)
	}
	c := newAPIClient(Endpoints{}, "id", "secret")
	job := photoJob{Name: im.Name, Path: filepath.Join(dir, im.Name)}
	p, err := c.photo(context.Background(), job, &flowStats{})
	if err != nil {
		t.Fatal(err)
	}
	if p.md5 != im.MD5() || p.size != int64(len(im.Data)) || p.contentType != "image/jpeg" || p.data != nil {
		t.Fatalf("photo %+v; want MD5 %s, %d bytes, image/jpeg, nothing kept", p, im.MD5(), len(im.Data))
	}
	body, err := p.open()
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	if _, ok := body.(*os.File); !ok {
		t.Fatalf("upload body is a %T, want the *os.File", body)
	}

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 20 {
		if _, err := c.photo(context.Background(), job, &flowStats{}); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	// Reading the photo whole costs at least its size each time. The
	// pooled buffer costs nothing once made, except that the race
	// detector drops a quarter of what is put back in a pool: about a
	// quarter of a 64 KiB buffer per call then, which stays well under
	// three quarters of the photo.
	if per := (after.TotalAlloc - before.TotalAlloc) / 20; per > uint64(len(im.Data))*3/4 {
		t.Fatalf("hashing a %d-byte photo allocated %d bytes, want far less than the photo", len(im.Data), per)
	}
}
