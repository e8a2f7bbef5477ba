package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// asset is one file of the SPA bundle.
type asset struct {
	Path string `json:"path"` // URL path, e.g. /assets/index-1a2b3c4d.js
	File string `json:"file"` // file name in the static directory
	Type string `json:"type"` // Content-Type
	ETag string `json:"etag"`
	// Immutable marks content-hashed names, which may be cached forever.
	Immutable bool `json:"immutable"`

	body, gz []byte // the edge's in-memory copies
}

// bundle is the SPA build, generated deterministically at start: the same
// bytes every run, of the size and shape of a Vue/Vite production build
// (an index.html naming content-hashed JS and CSS assets).
type bundle struct {
	assets []*asset
	byPath map[string]*asset
}

// Sizes of the generated files, near a small Vue app's production build.
const (
	vendorJSBytes = 170 << 10
	appJSBytes    = 85 << 10
	appCSSBytes   = 30 << 10
)

// spaBundle is built once per process: it is the same every time, and
// every twin the process starts serves it read-only.
var spaBundle = sync.OnceValue(newBundle)

func newBundle() *bundle {
	rng := rand.New(rand.NewPCG(7, 42))
	vendor := hashed("vendor", ".js", "text/javascript; charset=utf-8", genJS(rng, vendorJSBytes))
	app := hashed("index", ".js", "text/javascript; charset=utf-8", genJS(rng, appJSBytes))
	css := hashed("index", ".css", "text/css; charset=utf-8", genCSS(rng, appCSSBytes))
	icon := &asset{Path: "/favicon.svg", File: "favicon.svg", Type: "image/svg+xml", body: []byte(favicon)}
	html := &asset{Path: "/index.html", File: "index.html", Type: "text/html; charset=utf-8",
		body: fmt.Appendf(nil, indexHTML, app.Path, vendor.Path, css.Path)}
	b := &bundle{assets: []*asset{html, app, vendor, css, icon}}
	for _, a := range b.assets {
		sum := sha256.Sum256(a.body)
		a.ETag = `"` + hex.EncodeToString(sum[:8]) + `"`
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(a.body)
		zw.Close()
		a.gz = buf.Bytes()
	}
	b.index()
	return b
}

// manifestBundle rebuilds a bundle's index from its manifest, without
// bodies: the workers read the files from disk for every request.
func manifestBundle(assets []*asset) *bundle {
	b := &bundle{assets: assets}
	b.index()
	return b
}

func (b *bundle) index() {
	b.byPath = map[string]*asset{}
	for _, a := range b.assets {
		b.byPath[a.Path] = a
	}
}

// lookup finds the asset served at an exact URL path; "/" is index.html.
// Only names in the bundle are ever served, so no path, however encoded,
// reaches another file.
func (b *bundle) lookup(path string) *asset {
	if path == "/" {
		path = "/index.html"
	}
	return b.byPath[path]
}

// write puts the bundle's files in dir, as a build's dist/ folder.
func (b *bundle) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create static directory: %w", err)
	}
	for _, a := range b.assets {
		if err := os.WriteFile(filepath.Join(dir, a.File), a.body, 0o644); err != nil {
			return fmt.Errorf("write static file: %w", err)
		}
	}
	return nil
}

func (b *bundle) size() (raw, gz int) {
	for _, a := range b.assets {
		raw += len(a.body)
		gz += len(a.gz)
	}
	return raw, gz
}

func hashed(name, ext, ctype string, body []byte) *asset {
	sum := sha256.Sum256(body)
	file := name + "-" + hex.EncodeToString(sum[:4]) + ext
	return &asset{Path: "/assets/" + file, File: file, Type: ctype, Immutable: true, body: body}
}

const indexHTML = `<!doctype html>
<html lang="ko">
  <head>
    <meta charset="UTF-8" />
    <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <meta name="description" content="scoopadive: a diving logbook to record, share and like your dives" />
    <title>scoopadive</title>
    <script type="module" crossorigin src="%s"></script>
    <link rel="modulepreload" crossorigin href="%s">
    <link rel="stylesheet" crossorigin href="%s">
  </head>
  <body>
    <noscript>scoopadive needs JavaScript to run.</noscript>
    <div id="app"></div>
  </body>
</html>
`

const favicon = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><circle cx="32" cy="32" r="30" fill="#0b6fa4"/><path d="M12 38c6-6 12-6 18 0s12 6 18 0 8-4 10-2" stroke="#fff" stroke-width="4" fill="none" stroke-linecap="round"/><circle cx="40" cy="20" r="4" fill="#fff"/><circle cx="30" cy="14" r="2.5" fill="#fff"/></svg>
`

var jsWords = []string{
	"logbook", "diver", "site", "depth", "likes", "user", "token", "auth", "api", "fetch",
	"router", "store", "component", "render", "props", "state", "emit", "value", "items",
	"index", "length", "push", "map", "filter", "reduce", "then", "catch", "error", "data",
	"config", "headers", "response", "status", "params", "query", "route", "path", "name",
	"created", "mounted", "computed", "watch", "methods", "visible", "loading", "refresh",
}

// genJS writes n bytes of minified-looking JavaScript: short identifiers,
// repeated framework idioms and string keys, which compresses about as
// well as a real bundle.
func genJS(rng *rand.Rand, n int) []byte {
	var b strings.Builder
	b.Grow(n + 256)
	id := func() string {
		const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$"
		s := []byte{letters[rng.IntN(len(letters))]}
		for range rng.IntN(3) {
			s = append(s, "abcdefghijklmnopqrstuvwxyz0123456789"[rng.IntN(36)])
		}
		return string(s)
	}
	word := func() string { return jsWords[rng.IntN(len(jsWords))] }
	for b.Len() < n {
		switch rng.IntN(6) {
		case 0:
			fmt.Fprintf(&b, "function %s(%s,%s){if(!%s)return null;const %s=%s.%s.map(e=>e.%s);return %s?%s.join(\",\"):%s}",
				id(), "t", "n", "t", "r", "t", word(), word(), "n", "r", "r")
		case 1:
			fmt.Fprintf(&b, "const %s={name:\"%s-%s\",props:{%s:{type:String,default:\"\"},%s:Number},data(){return{%s:!1,%s:[]}},",
				id(), word(), word(), word(), word(), word(), word())
			fmt.Fprintf(&b, "methods:{async %s(){try{const e=await %s.get(\"/api/%s/\");this.%s=e.data}catch(e){this.%s=e}}}};",
				word(), id(), word(), word(), word())
		case 2:
			fmt.Fprintf(&b, "var %s=%s(\"%s\",()=>{const e=%s(%d),t=%s(()=>e.value*%d);return{%s:e,%s:t}});",
				id(), id(), word(), id(), rng.IntN(1000), id(), rng.IntN(64), word(), word())
		case 3:
			fmt.Fprintf(&b, "%s.prototype.%s=function(e){return this.%s[e]||(this.%s[e]=new %s(e,%d))};",
				id(), word(), word(), word(), id(), rng.IntN(4096))
		case 4:
			fmt.Fprintf(&b, "export{%s as %s,%s as %s};", id(), id(), id(), id())
		default:
			fmt.Fprintf(&b, "for(let %s=0;%s<%s.length;%s++){const %s=%s[%s];%s.%s(%s,\"%s\")}",
				"i", "i", id(), "i", "o", id(), "i", id(), word(), "o", word())
		}
	}
	return []byte(b.String()[:n])
}

// genCSS writes n bytes of minified scoped CSS rules.
func genCSS(rng *rand.Rand, n int) []byte {
	props := []string{"display:flex", "display:grid", "margin:0 auto", "padding:%dpx %dpx", "color:#%06x",
		"background:#%06x", "border-radius:%dpx", "font-size:%dpx", "gap:%dpx", "max-width:%dpx", "opacity:.%d"}
	var b strings.Builder
	b.Grow(n + 256)
	for b.Len() < n {
		fmt.Fprintf(&b, ".%s-%s[data-v-%08x]{", jsWords[rng.IntN(len(jsWords))], jsWords[rng.IntN(len(jsWords))], rng.Uint32())
		for i := range 2 + rng.IntN(4) {
			if i > 0 {
				b.WriteByte(';')
			}
			p := props[rng.IntN(len(props))]
			switch strings.Count(p, "%") {
			case 0:
				b.WriteString(p)
			case 1:
				v := rng.IntN(48)
				if strings.Contains(p, "#") {
					v = rng.IntN(0x1000000)
				}
				fmt.Fprintf(&b, p, v)
			default:
				fmt.Fprintf(&b, p, rng.IntN(32), rng.IntN(32))
			}
		}
		b.WriteByte('}')
	}
	return []byte(b.String()[:n])
}
