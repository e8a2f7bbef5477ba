package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestBundleIsDeterministicAndRealistic(t *testing.T) {
	a, b := newBundle(), newBundle()
	if len(a.assets) != len(b.assets) {
		t.Fatal("two builds differ in file count")
	}
	for i := range a.assets {
		if a.assets[i].Path != b.assets[i].Path || !bytes.Equal(a.assets[i].body, b.assets[i].body) {
			t.Fatalf("two builds differ at %s", a.assets[i].Path)
		}
	}
	raw, gz := a.size()
	if raw < 200<<10 || raw > 600<<10 || gz >= raw/2 {
		t.Errorf("bundle %d bytes, %d gzipped: want a few hundred KB that compresses like code", raw, gz)
	}
	index := string(a.lookup("/").body)
	for _, as := range a.assets[1:] {
		if !strings.Contains(index, as.Path) {
			t.Errorf("index.html does not reference %s", as.Path)
		}
	}
}

// get fetches url with optional header pairs, without the client's
// transparent decompression, so Content-Encoding is seen as sent.
func get(t *testing.T, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	hc := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestStaticInstanceAndEdge: the instance serves the SPA until offload
// is on; the edge serves it from memory, pre-compressed, cacheable.
func TestStaticInstanceAndEdge(t *testing.T) {
	tw := startTwin(t, fastConfig())
	js := tw.bundle.assets[1]
	for _, site := range []struct {
		name, base string
		longCache  bool
	}{{"instance", tw.AppURL(), false}, {"edge", tw.EdgeURL(), true}} {
		t.Run(site.name, func(t *testing.T) {
			resp, body := get(t, site.base+"/")
			if resp.StatusCode != 200 || !strings.Contains(string(body), "<div id=\"app\">") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("GET /: %d %q", resp.StatusCode, trim(body))
			}
			resp, body = get(t, site.base+js.Path, "Accept-Encoding", "gzip, deflate")
			if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(gunzip(t, body), js.body) {
				t.Fatalf("GET %s with gzip: %d, encoding %q", js.Path, resp.StatusCode, resp.Header.Get("Content-Encoding"))
			}
			if cc := resp.Header.Get("Cache-Control"); site.longCache != strings.Contains(cc, "max-age=31536000") {
				t.Errorf("Cache-Control %q on a hashed asset", cc)
			}
			etag := resp.Header.Get("ETag")
			resp, body = get(t, site.base+js.Path, "If-None-Match", etag)
			if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
				t.Errorf("If-None-Match %s: %d, %d bytes; want 304 and no body", etag, resp.StatusCode, len(body))
			}
			resp, body = get(t, site.base+js.Path)
			if resp.StatusCode != 200 || !bytes.Equal(body, js.body) {
				t.Errorf("GET %s without gzip: %d, %d bytes", js.Path, resp.StatusCode, len(body))
			}
		})
	}
	if e := tw.Stats().Edge; e.Requests != 4 || e.NotModified != 1 || e.Bytes < uint64(len(js.body)) {
		t.Errorf("edge stats %+v: want 4 requests, 1 not modified, the bytes sent", e)
	}

	if tw.SiteURL() != tw.AppURL() {
		t.Error("with offload off the site should be the instance")
	}
	c := tw.Config()
	c.Offload = true
	if err := tw.Apply(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if tw.SiteURL() != tw.EdgeURL() {
		t.Error("with offload on the site should be the edge")
	}
	if resp, _ := get(t, tw.AppURL()+"/"); resp.StatusCode != 404 {
		t.Errorf("instance GET / with offload on: %d, want 404 (API only)", resp.StatusCode)
	}
	a := newAPI(t, tw.AppURL())
	a.signin()
	a.likes()
	if s := tw.Stats().Total; s.APIRequests != 2 || s.Requests != 2+4+1 {
		t.Errorf("requests %d, API requests %d: want 7 (4 SPA on the instance, 1 refused with offload on, 2 API) and 2", s.Requests, s.APIRequests)
	}
}
