package server

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Cache lifetimes the edge announces: content-hashed assets never change
// under their name; index.html names the current ones, so it is kept
// briefly.
const (
	cacheImmutable = "public, max-age=31536000, immutable"
	cacheIndex     = "public, max-age=3600"
)

// served is what sendAsset sends, for the edge's figures.
type served struct {
	bytes       int
	notModified bool
}

// sendAsset answers a GET or HEAD for a with body (and gz, its gzip form,
// when there is one), honouring If-None-Match. count, if given, learns
// what is sent before the client does, so figures read after an answer
// include it.
func sendAsset(w http.ResponseWriter, r *http.Request, a *asset, body, gz []byte, cacheControl string, count func(served)) {
	if count == nil {
		count = func(served) {}
	}
	h := w.Header()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		count(served{})
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h.Set("ETag", a.ETag)
	if cacheControl != "" {
		h.Set("Cache-Control", cacheControl)
	}
	if gz != nil {
		h.Set("Vary", "Accept-Encoding")
	}
	if etagMatches(r.Header.Get("If-None-Match"), a.ETag) {
		count(served{notModified: true})
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", a.Type)
	if gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		body = gz
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		count(served{})
		w.WriteHeader(http.StatusOK)
		return
	}
	count(served{bytes: len(body)})
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// etagMatches applies If-None-Match's weak comparison.
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.TrimSpace(coding)
		if coding != "gzip" && coding != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// serveStatic answers the SPA from the instance, as nginx did before the
// offload: the file is read from disk and gzipped on the fly for every
// request, and the profile's static cost is spent on the worker's CPU.
// With offload on, the instance serves the API only.
func (w *worker) serveStatic(rw http.ResponseWriter, r *http.Request, k knobs) {
	a := w.bundle.lookup(r.URL.Path)
	if k.offload || a == nil {
		http.NotFound(rw, r)
		return
	}
	burn(k.costs().Static)
	body, err := os.ReadFile(filepath.Join(w.spec.Static, a.File))
	if err != nil {
		w.log.Printf("read %s: %v", a.File, err)
		http.Error(rw, "static file unavailable", http.StatusInternalServerError)
		return
	}
	var gz []byte
	if acceptsGzip(r.Header.Get("Accept-Encoding")) && r.Method == http.MethodGet {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed) // nginx's gzip_comp_level 1
		zw.Write(body)
		zw.Close()
		gz = buf.Bytes()
	}
	sendAsset(rw, r, a, body, gz, "", nil)
}

// edge is the CDN of the offload experiment: the bundle in memory,
// pre-compressed, with long cache lifetimes, on its own listener in a
// process of its own, off the instance's cores (services.go).
type edge struct {
	bundle *bundle
	count  func(served)
}

func (e *edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := e.bundle.lookup(r.URL.Path)
	if a == nil {
		http.NotFound(w, r)
		return
	}
	cc := cacheIndex
	if a.Immutable {
		cc = cacheImmutable
	}
	sendAsset(w, r, a, a.body, a.gz, cc, e.count)
}
