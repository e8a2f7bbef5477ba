package engine

import (
	"fmt"
	"strings"
	"testing"
)

// parsed is a metric as the tests spell it: name, dur in µs (-1 for none),
// or "!" for a malformed one.
type parsed struct {
	name string
	us   int64
}

func parseAll(v string) []parsed {
	var out []parsed
	for rest := []byte(v); ; {
		m, r, ok := nextTiming(rest)
		if !ok {
			return out
		}
		if len(r) >= len(rest) {
			panic(fmt.Sprintf("no progress on %q", rest))
		}
		rest = r
		switch {
		case m.bad:
			out = append(out, parsed{"!", 0})
		case !m.hasDur:
			out = append(out, parsed{string(m.name), -1})
		default:
			out = append(out, parsed{string(m.name), int64(m.dur)})
		}
	}
}

func TestParseServerTiming(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   []parsed
	}{
		{`db;dur=53.2;desc="42 queries", cache;desc=hit;dur=0.3, view;dur=4`,
			[]parsed{{"db", 53200}, {"cache", 300}, {"view", 4000}}},
		{`miss, cdn-cache;desc=HIT`, []parsed{{"miss", -1}, {"cdn-cache", -1}}},
		{` , ,db;dur=1,,  app ;  dur = 2 ; desc = x ,`, []parsed{{"db", 1000}, {"app", 2000}}},
		{`a;DUR=1.5`, []parsed{{"a", 1500}}},
		{`a;dur="2.25"`, []parsed{{"a", 2250}}},
		{`a;dur=1;dur=9`, []parsed{{"a", 1000}}}, // the first dur counts
		{`a;dur=1e2, b;dur=2.5E-1, c;dur=+3`, []parsed{{"a", 100000}, {"b", 250}, {"c", 3000}}},
		{`a;dur=0.0004, b;dur=0.0006, c;dur=0`, []parsed{{"a", 0}, {"b", 1}, {"c", 0}}},
		{`a;desc="x, y; \"z\"";dur=7, b;dur=1`, []parsed{{"a", 7000}, {"b", 1000}}},
		{`a;flag;dur=3`, []parsed{{"a", 3000}}},                             // a parameter without a value
		{`a;dur=-1, b;dur=2`, []parsed{{"!", 0}, {"b", 2000}}},              // negative
		{`a;dur=60001, b;dur=60000`, []parsed{{"!", 0}, {"b", 60_000_000}}}, // over the 60 s bound
		{`a;dur=1e400, b;dur=1e-400`, []parsed{{"!", 0}, {"b", 0}}},
		{`a;dur=abc, b;dur=, c;dur=1.2.3, d;dur=1e, e;dur=.`, []parsed{{"!", 0}, {"!", 0}, {"!", 0}, {"!", 0}, {"!", 0}}},
		{`a;dur=NaN, b;dur=Inf, c;dur=0x10`, []parsed{{"!", 0}, {"!", 0}, {"!", 0}}},
		{`;dur=1, =2, "db";dur=1, db dur=1, a;=1`, []parsed{{"!", 0}, {"!", 0}, {"!", 0}, {"!", 0}, {"!", 0}}},
		{`a;desc="never closed, b;dur=1`, []parsed{{"!", 0}}},
		{`a;dur=1;desc="x" trailing, b;dur=2`, []parsed{{"!", 0}, {"b", 2000}}},
		{`é;dur=1, b;dur=2`, []parsed{{"!", 0}, {"b", 2000}}},
		{``, nil},
		{`   `, nil},
	} {
		got := parseAll(tc.header)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%q:\n got %v\nwant %v", tc.header, got, tc.want)
		}
	}
}

// hostileHeaders are Server-Timing values a service could send that the
// engine must survive without allocating: long, broken, endless.
func hostileHeaders() map[string]string {
	var many, long strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&many, "m%d;dur=%d.5, ", i, i%100)
	}
	long.WriteString("db;dur=1;desc=\"")
	long.WriteString(strings.Repeat("x", 64<<10))
	long.WriteString("\", view;dur=2")
	return map[string]string{
		"ordinary":        `queue;dur=0.012, db;dur=17.250;desc="42 queries", cache;dur=0.310;desc="hit", view;dur=3.912`,
		"1,000 metrics":   many.String(),
		"64 KiB":          long.String(),
		"unclosed quote":  `db;dur=1;desc="` + strings.Repeat("y", 1000),
		"bad syntax":      strings.Repeat(`;;=, "x" ;dur=, a;dur=-5, b;dur=9e99, `, 200),
		"only separators": strings.Repeat(", ; = \t", 2000),
	}
}

// FuzzParseServerTiming: the parser always moves on and never panics,
// whatever the header.
func FuzzParseServerTiming(f *testing.F) {
	for _, h := range hostileHeaders() {
		f.Add(h)
	}
	f.Add(`a;dur=1e-5;desc="\\\"", b`)
	f.Fuzz(func(t *testing.T, h string) {
		for _, m := range parseAll(h) {
			if m.us > maxMicros {
				t.Fatalf("%q: dur %d µs over the bound", h, m.us)
			}
		}
	})
}

// TestParseServerTimingDoesNotAllocate holds the parser to the hot
// path's promise on every hostile header.
func TestParseServerTimingDoesNotAllocate(t *testing.T) {
	for name, h := range hostileHeaders() {
		v := []byte(h)
		metrics := 0
		allocs := testing.AllocsPerRun(50, func() {
			metrics = 0
			for rest := v; ; metrics++ {
				_, r, ok := nextTiming(rest)
				if !ok {
					break
				}
				rest = r
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per header, want 0", name, allocs)
		}
		if metrics == 0 && name != "only separators" {
			t.Errorf("%s: no metric read", name)
		}
	}
}

// BenchmarkParseServerTiming is the parser's cost per header, the
// twin's ordinary one and the hostile ones.
func BenchmarkParseServerTiming(b *testing.B) {
	for _, name := range []string{"ordinary", "1,000 metrics", "64 KiB", "bad syntax"} {
		v := []byte(hostileHeaders()[name])
		b.Run(strings.ReplaceAll(name, " ", "_"), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(v)))
			for b.Loop() {
				for rest := v; ; {
					_, r, ok := nextTiming(rest)
					if !ok {
						break
					}
					rest = r
				}
			}
		})
	}
}

// TestTimingNamesAreBounded: the first MaxTimings names get an index,
// later ones none, and a known name is found without allocating.
func TestTimingNamesAreBounded(t *testing.T) {
	var n timingNames
	for i := range MaxTimings + 4 {
		got := n.index([]byte(fmt.Sprintf("m%d", i)))
		want := i
		if i >= MaxTimings {
			want = -1
		}
		if got != want {
			t.Fatalf("name %d: index %d, want %d", i, got, want)
		}
	}
	known := []byte("m3")
	if allocs := testing.AllocsPerRun(100, func() { n.index(known) }); allocs != 0 {
		t.Errorf("looking up a known name: %.1f allocations", allocs)
	}
	if got := len(n.list()); got != MaxTimings {
		t.Errorf("%d names kept, want %d", got, MaxTimings)
	}
}
