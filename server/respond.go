package server

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// apiHeaders are what Django's default middleware and DRF put on every
// API answer; they are part of the study's ~630 bytes per likes answer.
var apiHeaders = [][2]string{
	{"Vary", "Accept, Cookie"},
	{"X-Frame-Options", "DENY"},
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "same-origin"},
	{"Cross-Origin-Opener-Policy", "same-origin"},
}

// writeJSON sends body, already encoded, with status.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	for _, kv := range apiHeaders {
		h.Set(kv[0], kv[1])
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// writeValue encodes v as JSON and sends it.
func writeValue(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeDetail(w, http.StatusInternalServerError, "could not encode the answer")
		return
	}
	writeJSON(w, status, b)
}

// writeDetail sends DRF's error shape, {"detail": "..."}.
func writeDetail(w http.ResponseWriter, status int, detail string) {
	writeValue(w, status, map[string]string{"detail": detail})
}

// recorder remembers the status a handler sent, so a panic after the
// header went out is not answered twice, and books the answer (onStatus)
// before the client can see it: figures read after a response include it.
type recorder struct {
	http.ResponseWriter
	status   int
	onStatus func(status int)
	// timing, on an API request, goes out as the Server-Timing header.
	timing *serverTiming
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
		if r.timing != nil {
			r.Header().Set("Server-Timing", r.timing.header())
		}
		r.onStatus(code)
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseWriter.Write(b)
}
