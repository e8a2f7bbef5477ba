package engine

import (
	"bufio"
	"bytes"
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
		body := expand(st.Body, vars)
		if st.BodyJSON {
			body = expandJSON(st.Body, vars)
		}
		req.SetBodyString(body)
		if !hasHeader(st.Header, "Content-Type") && (st.BodyJSON || looksLikeJSON(st.Body)) {
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
