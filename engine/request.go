package engine

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/valyala/fasthttp"
)

// userAgent identifies perflab to the target unless a step sets its own.
const userAgent = "perflab"

// endpoint is where a step's requests go: one connection per worker each.
type endpoint struct {
	addr string // host:port to dial
	tls  bool
	host string // Host header / TLS server name
}

func endpointOf(raw string) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, err
	}
	ep := endpoint{tls: u.Scheme == "https", host: u.Hostname()}
	port := u.Port()
	if port == "" {
		port = "80"
		if ep.tls {
			port = "443"
		}
	}
	ep.addr = net.JoinHostPort(u.Hostname(), port)
	return ep, nil
}

// buildRequest renders a step, with vars expanded, to the bytes sent on the
// wire. fasthttp does the formatting; the result is reused for every
// request until a variable changes, so the hot path only writes bytes.
func buildRequest(st Step, vars map[string]string) ([]byte, error) {
	var req fasthttp.Request
	method := st.Method
	if method == "" {
		method = fasthttp.MethodGet
	}
	req.Header.SetMethod(method)
	req.SetRequestURI(expand(st.URL, vars))
	req.Header.SetUserAgent(userAgent)
	for _, h := range st.Header {
		req.Header.Set(h.Key, expand(h.Value, vars))
	}
	if st.Body != "" {
		req.SetBodyString(expand(st.Body, vars))
		if !hasHeader(st.Header, "Content-Type") && looksLikeJSON(st.Body) {
			req.Header.SetContentType("application/json")
		}
	}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := req.Write(w); err != nil {
		return nil, fmt.Errorf("step %s: build request: %w", st.Name, err)
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func looksLikeJSON(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[")
}

func hasHeader(hs []Header, key string) bool {
	for _, h := range hs {
		if strings.EqualFold(h.Key, key) {
			return true
		}
	}
	return false
}

// captureField extracts a dotted JSON path from body as a string.
func captureField(body []byte, field string) (string, bool) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return "", false
	}
	for _, part := range strings.Split(field, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		v, ok = obj[part]
		if !ok {
			return "", false
		}
	}
	switch x := v.(type) {
	case string:
		return x, true
	case nil:
		return "", false
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return "", false
		}
		return string(b), true
	}
}
