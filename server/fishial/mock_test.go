package fishial

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The contract is exercised with plain HTTP, the way any client would.

func startMock(t *testing.T, c Config) *Server {
	t.Helper()
	s, err := Start(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func call(t *testing.T, method, url, token string, body []byte, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil && method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func getToken(t *testing.T, s *Server) string {
	t.Helper()
	id, secret := s.Credentials()
	code, _, body := call(t, "POST", s.URL()+"/v1/auth/token", "", mustJSON(map[string]string{"client_id": id, "client_secret": secret}), nil)
	if code != 200 {
		t.Fatalf("token: %d %s", code, body)
	}
	var tok struct {
		Type   string `json:"token_type"`
		Access string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.Type != "Bearer" || strings.Count(tok.Access, ".") != 2 {
		t.Fatalf("token body %s: want a Bearer JWT (%v)", body, err)
	}
	return tok.Access
}

type uploadGrant struct {
	SignedID string `json:"signed-id"`
	Direct   struct {
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
	} `json:"direct-upload"`
}

func requestUpload(t *testing.T, s *Server, token string, name string, data []byte) uploadGrant {
	t.Helper()
	sum := md5.Sum(data)
	meta := map[string]any{"blob": map[string]any{"filename": name, "content_type": "image/jpeg", "byte_size": len(data), "checksum": base64.StdEncoding.EncodeToString(sum[:])}}
	code, _, body := call(t, "POST", s.URL()+"/v1/recognition/upload", token, mustJSON(meta), nil)
	if code != 200 {
		t.Fatalf("signed upload: %d %s", code, body)
	}
	var g uploadGrant
	if err := json.Unmarshal(body, &g); err != nil || g.SignedID == "" || g.Direct.URL == "" || g.Direct.Headers["Content-MD5"] == "" {
		t.Fatalf("signed upload body %s lacks signed-id or direct-upload (%v)", body, err)
	}
	return g
}

func TestTokenNeedsTheRightCredentials(t *testing.T) {
	s := startMock(t, Config{TimeScale: 0.01})
	id, secret := s.Credentials()
	cases := []struct {
		name string
		body []byte
		want int
	}{
		{"right", mustJSON(map[string]string{"client_id": id, "client_secret": secret}), 200},
		{"wrong secret", mustJSON(map[string]string{"client_id": id, "client_secret": secret + "x"}), 401},
		{"unknown client", mustJSON(map[string]string{"client_id": "nobody", "client_secret": secret}), 401},
		{"not JSON", []byte("client_id=" + id), 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, body := call(t, "POST", s.URL()+"/v1/auth/token", "", c.body, nil)
			if code != c.want {
				t.Fatalf("status %d (%s), want %d", code, body, c.want)
			}
		})
	}
	if st := s.Stats(); st.Tokens != 1 || st.Unauthorized != 2 {
		t.Fatalf("stats %+v: want 1 token issued and 2 refusals", st)
	}
}

func TestAPICallsRefuseMissingForgedOrExpiredTokens(t *testing.T) {
	s := startMock(t, Config{TimeScale: 0.01})
	expired := startMock(t, Config{TimeScale: 0.01, TokenTTL: -time.Minute})
	other := startMock(t, Config{TimeScale: 0.01})
	good := getToken(t, s)
	cases := []struct {
		name, token, wantMsg string
		srv                  *Server
		want                 int
	}{
		{"good", good, "", s, 422}, // passes auth, then fails on the bad metadata below
		{"missing", "", "missing bearer token", s, 401},
		{"forged", getToken(t, other), "invalid bearer token", s, 401},
		{"garbage", "abc.def.ghi", "invalid bearer token", s, 401},
		{"expired", getToken(t, expired), "token expired", expired, 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, ep := range []struct{ method, path string }{{"POST", "/v1/recognition/upload"}, {"GET", "/v1/recognition/image?q=x"}} {
				code, hdr, body := call(t, ep.method, c.srv.URL()+ep.path, c.token, mustJSON(map[string]any{"blob": map[string]any{}}), nil)
				if c.want == 401 {
					if code != 401 || !strings.Contains(string(body), c.wantMsg) || hdr.Get("WWW-Authenticate") == "" {
						t.Fatalf("%s %s: %d %s, want 401 %q with WWW-Authenticate", ep.method, ep.path, code, body, c.wantMsg)
					}
				} else if code == 401 {
					t.Fatalf("%s %s refused a good token: %s", ep.method, ep.path, body)
				}
			}
		})
	}
}

func TestUploadFlowVerifiesSizeAndChecksum(t *testing.T) {
	s := startMock(t, Config{TimeScale: 0.01})
	tok := getToken(t, s)
	data := bytes.Repeat([]byte("\xff\xd8fish"), 2000)

	// Metadata that cannot be an MD5 is refused before any URL is issued.
	bad := map[string]any{"blob": map[string]any{"filename": "a.jpg", "content_type": "image/jpeg", "byte_size": len(data), "checksum": "not-md5"}}
	if code, _, body := call(t, "POST", s.URL()+"/v1/recognition/upload", tok, mustJSON(bad), nil); code != 422 {
		t.Fatalf("bad checksum metadata: %d %s, want 422", code, body)
	}

	g := requestUpload(t, s, tok, "a.jpg", data)
	recognise := func() (int, []byte) {
		code, _, body := call(t, "GET", s.URL()+"/v1/recognition/image?q="+g.SignedID, tok, nil, nil)
		return code, body
	}
	if code, body := recognise(); code != 422 {
		t.Fatalf("recognition before upload: %d %s, want 422", code, body)
	}

	putUploads(t, g, data)

	code, body := recognise()
	if code != 200 {
		t.Fatalf("recognition: %d %s", code, body)
	}
	checkConfidentRecognition(t, body)
	if _, again := recognise(); !bytes.Equal(again, body) {
		t.Fatal("recognition of the same image changed between calls")
	}

	b, err := s.Lookup(g.SignedID)
	sum := md5.Sum(data)
	if err != nil || !b.Uploaded || b.Checksum != base64.StdEncoding.EncodeToString(sum[:]) || b.Filename != "a.jpg" {
		t.Fatalf("Lookup = %+v, %v: want the uploaded a.jpg with its MD5", b, err)
	}
	// Tamper with the signature's last digit (hex: 0 becomes 1, the rest 0).
	last := "0"
	if strings.HasSuffix(g.SignedID, "0") {
		last = "1"
	}
	if _, err := s.Lookup(g.SignedID[:len(g.SignedID)-1] + last); err == nil {
		t.Fatal("Lookup accepted a tampered signed id")
	}
	if code, _, _ := call(t, "GET", s.URL()+"/v1/recognition/image?q="+g.SignedID+"0", tok, nil, nil); code != 404 {
		t.Fatalf("recognition of a tampered signed id: %d, want 404", code)
	}
	st := s.Stats()
	if st.Uploads != 1 || st.UploadRequests != 1 || st.Recognitions != 2 || st.Unprocessable != 5 {
		t.Fatalf("stats %+v: want 1 upload request, 1 upload, 2 recognitions, 5 unprocessable", st)
	}
}

// putUploads PUTs bodies that do not match the grant (three answered
// 422, one 403) and a forged signature (403), then the declared bytes.
func putUploads(t *testing.T, g uploadGrant, data []byte) {
	t.Helper()
	tampered := append([]byte{}, data...)
	tampered[100] ^= 1
	cases := []struct {
		name   string
		body   []byte
		header map[string]string
		want   int
	}{
		{"same size, other bytes", tampered, g.Direct.Headers, 422},
		{"short", data[:len(data)-1], g.Direct.Headers, 422},
		{"long", append(append([]byte{}, data...), 0), g.Direct.Headers, 422},
		{"no Content-MD5", data, map[string]string{}, 403},
		{"declared bytes", data, g.Direct.Headers, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, body := call(t, "PUT", g.Direct.URL, "", c.body, c.header)
			if code != c.want {
				t.Fatalf("PUT: %d %s, want %d", code, body, c.want)
			}
		})
	}
	if code, _, _ := call(t, "PUT", strings.Replace(g.Direct.URL, "signature=", "signature=0", 1), "", data, g.Direct.Headers); code != 403 {
		t.Fatalf("PUT with a forged signature: %d, want 403", code)
	}
}

// checkConfidentRecognition wants one result whose first species has an
// accuracy of at least 0.5.
func checkConfidentRecognition(t *testing.T, body []byte) {
	t.Helper()
	var res struct {
		Results []struct {
			Species []struct {
				Name     string  `json:"name"`
				Accuracy float64 `json:"accuracy"`
			} `json:"species"`
		} `json:"results"`
	}
	if err := json.Unmarshal(body, &res); err != nil || len(res.Results) != 1 || len(res.Results[0].Species) == 0 || res.Results[0].Species[0].Accuracy < 0.5 {
		t.Fatalf("recognition body %s: want one result with a confident species (%v)", body, err)
	}
}

func TestInjected429CarriesRetryAfter(t *testing.T) {
	s := startMock(t, Config{TimeScale: 0.02, Prob429: 0.5, Seed: 7})
	id, secret := s.Credentials()
	creds := mustJSON(map[string]string{"client_id": id, "client_secret": secret})
	var got429, got200 int
	for range 40 {
		code, hdr, body := call(t, "POST", s.URL()+"/v1/auth/token", "", creds, nil)
		switch code {
		case 429:
			got429++
			secs, err := strconv.ParseFloat(hdr.Get("Retry-After"), 64)
			if err != nil || secs != 0.02 {
				t.Fatalf("Retry-After %q: want the scaled 0.02 s", hdr.Get("Retry-After"))
			}
		case 200:
			got200++
		default:
			t.Fatalf("token: %d %s", code, body)
		}
	}
	if got429 == 0 || got200 == 0 {
		t.Fatalf("at P=0.5 over 40 calls: %d 429s and %d 200s; want some of each", got429, got200)
	}
	if st := s.Stats(); st.TooMany != int64(got429) || st.Tokens != int64(got200) {
		t.Fatalf("stats %+v disagree with %d 429s and %d tokens seen", st, got429, got200)
	}
	if _, err := Start(Config{Prob429: 1}); err == nil {
		t.Fatal("Start accepted a 429 probability of 1 (no call could ever succeed)")
	}
}

// The waits are lower bounds by construction; only those are checked.
func TestStepsWaitAtLeastTheirScaledLatency(t *testing.T) {
	s := startMock(t, Config{TimeScale: 0.2})
	lat := s.Latencies()
	if lat.Recognition != 100*time.Millisecond || lat.Network != 10*time.Millisecond {
		t.Fatalf("scaled latencies %+v: want recognition 100ms, network 10ms at scale 0.2", lat)
	}
	start := time.Now()
	tok := getToken(t, s)
	if d := time.Since(start); d < lat.Token {
		t.Fatalf("token answered in %v, before its %v", d, lat.Token)
	}
	data := []byte("\xff\xd8 remote door")
	g := requestUpload(t, s, tok, "r.jpg", data)
	remoteURL := strings.Replace(g.Direct.URL, strings.TrimPrefix(s.URL(), "http://"), strings.TrimPrefix(s.RemoteURL(), "http://"), 1)
	start = time.Now()
	if code, _, body := call(t, "PUT", remoteURL, "", data, g.Direct.Headers); code != 200 {
		t.Fatalf("PUT through the remote door: %d %s", code, body)
	}
	if d := time.Since(start); d < lat.Upload+lat.Network {
		t.Fatalf("remote upload took %v, less than upload %v plus network %v", d, lat.Upload, lat.Network)
	}
}
