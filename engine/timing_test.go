package engine

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// timingServer answers every request with a Server-Timing header made by
// header(n), n counting the requests from 0, and returns its URL.
func timingServer(t testing.TB, header func(n int) string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		h := header(n)
		n++
		mu.Unlock()
		ctx.Response.Header.Set("Server-Timing", h)
		ctx.WriteString("ok")
	}, ReadBufferSize: 8 << 10}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	return "http://" + ln.Addr().String() + "/"
}

// exactPercentile is the value at percentile p of sorted values, as HDR
// defines it: the smallest value with at least p% of the values (rounded
// to a whole count) at or below it.
func exactPercentile(sorted []uint32, p float64) uint32 {
	n := int(p/100*float64(len(sorted)) + 0.5)
	return sorted[max(n, 1)-1]
}

// TestServerTimingPercentiles: against a loopback server that sends
// known durations, each metric's percentiles come back within HDR's
// precision, each metric in its own histogram, and the rest is the
// latency less the server's parts.
func TestServerTimingPercentiles(t *testing.T) {
	// db takes a value of a fixed spread per answer (0.5 to 99.5 ms,
	// shuffled by a stride); view is the same small value every time.
	durOf := func(n int) uint32 { return uint32(500 + (n*37)%100*1000) }
	var mu sync.Mutex
	var sent []uint32
	url := timingServer(t, func(n int) string {
		d := durOf(n)
		mu.Lock()
		sent = append(sent, d)
		mu.Unlock()
		return fmt.Sprintf(`db;dur=%d.%03d;desc="2 queries", view;dur=0.25`, d/1000, d%1000)
	})
	snap := mustRun(t, oneStep(url), Max{Conns: 2}, Duration(1500*time.Millisecond))
	st := snap.Steps[0]
	byName := map[string]Timing{}
	var names []string
	for _, tm := range st.Timing {
		byName[tm.Name] = tm
		names = append(names, tm.Name)
	}
	if want := []string{"db", "view", TimingRest}; !slices.Equal(names, want) {
		t.Fatalf("metrics %v, want %v", names, want)
	}
	mu.Lock()
	values := slices.Clone(sent)
	mu.Unlock()
	db := byName["db"].Run
	if db.Answered != st.Run.Answered || int(db.Answered) != len(values) {
		t.Fatalf("db recorded on %d answers; the step had %d, the server sent %d", db.Answered, st.Run.Answered, len(values))
	}
	slices.Sort(values)
	for _, q := range []struct {
		p   float64
		got time.Duration
	}{{50, db.P50}, {90, db.P90}, {99, db.P99}} {
		want := time.Duration(exactPercentile(values, q.p)) * time.Microsecond
		if diff := (q.got - want).Abs(); diff > want/1000+time.Microsecond {
			t.Errorf("db p%v %s, sent %s: off by more than HDR's 3 digits", q.p, q.got, want)
		}
	}
	if db.Min != time.Duration(values[0])*time.Microsecond || db.Max != time.Duration(values[len(values)-1])*time.Microsecond {
		t.Errorf("db min %s max %s, sent %dµs..%dµs", db.Min, db.Max, values[0], values[len(values)-1])
	}
	if v := byName["view"].Run; v.P50 != 250*time.Microsecond || v.Max != 250*time.Microsecond {
		t.Errorf("view p50 %s max %s, sent 250µs every time", v.P50, v.Max)
	}
	rest := byName[TimingRest].Run
	if rest.Answered != db.Answered || rest.Max > st.Run.Max {
		t.Errorf("rest: %d answers, max %s; the step %d answers, max latency %s", rest.Answered, rest.Max, st.Run.Answered, st.Run.Max)
	}
	if c := snap.ServerTiming; c != (TimingCounts{}) {
		t.Errorf("counts %+v for well-formed headers", c)
	}
}

// TestServerTimingRestUsesTotal: a service's "total" metric is its whole
// time, so metrics inside it are not added up twice: here the parts add
// up to far more than any answer took, the total to 1 µs.
func TestServerTimingRestUsesTotal(t *testing.T) {
	url := timingServer(t, func(int) string { return "app;dur=50000, total;dur=0.001, db;dur=40000" })
	snap := mustRun(t, oneStep(url), Max{Conns: 1}, Duration(500*time.Millisecond))
	st := snap.Steps[0]
	for _, tm := range st.Timing {
		if tm.Name != TimingRest {
			continue
		}
		if want := st.Run.Mean - time.Microsecond; (tm.Run.Mean - want).Abs() > 2*time.Microsecond {
			t.Errorf("rest mean %s, want the latency's %s less the total's 1µs", tm.Run.Mean, st.Run.Mean)
		}
		return
	}
	t.Fatalf("no rest in %+v", st.Timing)
}

// TestServerTimingHostileHeaders: names past the first 16 are dropped and
// counted, malformed metrics counted, long and broken headers read, and
// every answer still counts as answered.
func TestServerTimingHostileHeaders(t *testing.T) {
	hostile := hostileHeaders()
	kinds := []string{"ordinary", "1,000 metrics", "64 KiB", "unclosed quote", "bad syntax", "only separators"}
	url := timingServer(t, func(n int) string { return hostile[kinds[n%len(kinds)]] })
	snap := mustRun(t, oneStep(url), Max{Conns: 1}, Duration(time.Second))
	st := snap.Steps[0]
	if st.Run.Errors != 0 || st.Run.Answered < int64(len(kinds)) {
		t.Fatalf("%d answered, %d failed (%+v): hostile headers must not fail answers", st.Run.Answered, st.Run.Errors, snap.Errors)
	}
	if n := len(st.Timing); n != MaxTimings+1 {
		t.Errorf("%d metrics recorded, want the first %d names and the rest", n, MaxTimings)
	}
	c := snap.ServerTiming
	if c.Dropped == 0 || c.Malformed == 0 {
		t.Errorf("counts %+v: want the names past 16 dropped and the broken metrics counted", c)
	}
	names := make([]string, 0, len(st.Timing))
	for _, tm := range st.Timing {
		names = append(names, tm.Name)
	}
	if !slices.Contains(names, "queue") || !strings.HasPrefix(strings.Join(names, ","), "queue,db,cache,view,m0,m1") {
		t.Errorf("names %v: want the first met, in order", names)
	}
}

// TestServerTimingPathDoesNotAllocate: a request whose answer carries
// Server-Timing, ordinary or hostile, allocates nothing once its names
// are known and its buffers sized.
func TestServerTimingPathDoesNotAllocate(t *testing.T) {
	for name, h := range hostileHeaders() {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			url := timingServer(t, func(int) string { return h })
			w := connectedWorker(t, url)
			allocs := testing.AllocsPerRun(200, func() {
				if s, _ := w.do(0, time.Time{}); s.outcome != OutcomeOK {
					t.Fatalf("request failed: %s", s.outcome)
				}
				if len(w.rec.logs[0]) >= 64 {
					w.rec.drainAll(func([]sample) {}, func([]timingSample) {})
				}
			})
			if allocs != 0 {
				t.Fatalf("%.2f allocations per request, want 0", allocs)
			}
		})
	}
}
