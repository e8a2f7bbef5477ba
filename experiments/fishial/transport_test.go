package fishial

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func syncClient() *http.Client {
	return &http.Client{Transport: newSyncTransport(http.DefaultTransport.(*http.Transport).Clone())}
}

func exchange(t *testing.T, c *http.Client, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// Exchanges one after another share one kept connection, and each gets
// its own answer: with a length, chunked, or empty.
func TestSyncTransportKeepsItsConnection(t *testing.T) {
	srv, conns := connCounter(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/chunked":
			w.Write([]byte("part one, "))
			w.(http.Flusher).Flush()
			w.Write([]byte("part two"))
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Retry-After", "0.5")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write(append([]byte("echo "), b...))
		}
	}))
	c := syncClient()
	for range 3 {
		if code, body := exchange(t, c, http.MethodPut, srv.URL+"/echo", "photo bytes"); code != 429 || body != "echo photo bytes" {
			t.Fatalf("echo: %d %q", code, body)
		}
		if code, body := exchange(t, c, http.MethodGet, srv.URL+"/chunked", ""); code != 200 || body != "part one, part two" {
			t.Fatalf("chunked: %d %q", code, body)
		}
		if code, body := exchange(t, c, http.MethodGet, srv.URL+"/empty", ""); code != 204 || body != "" {
			t.Fatalf("empty: %d %q", code, body)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("9 exchanges in a row opened %d connections; want 1", n)
	}
}

// A kept connection the server closed while it sat idle costs the
// request one more attempt on a new connection, not an error.
func TestSyncTransportRedialsAConnectionTheServerClosed(t *testing.T) {
	srv, conns := connCounter(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	c := syncClient()
	if _, body := exchange(t, c, http.MethodPost, srv.URL, "first"); body != "first" {
		t.Fatalf("first answer %q", body)
	}
	srv.CloseClientConnections()
	time.Sleep(50 * time.Millisecond) // let the close reach the client's socket
	if _, body := exchange(t, c, http.MethodPost, srv.URL, "second"); body != "second" {
		t.Fatalf("second answer %q", body)
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections; want 2 (the closed one and its replacement)", n)
	}
}

// An answer longer than the bound is an error, not a truncated body.
func TestSyncTransportBoundsTheAnswer(t *testing.T) {
	srv, _ := connCounter(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("x"), maxAnswer+1))
	}))
	resp, err := syncClient().Get(srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatal("an answer over the bound came back without an error")
	}
	if !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("error %v; want it to say the answer was too long", err)
	}
}

// Cancelling the request's context ends an exchange that waits for a
// server that never answers.
func TestSyncTransportStopsWithItsContext(t *testing.T) {
	hold := make(chan struct{})
	srv, _ := connCounter(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hold }))
	defer close(hold)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	done := make(chan error, 1)
	go func() {
		resp, err := syncClient().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("an exchange with no answer returned no error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the exchange outlived its context by 10 s")
	}
}
