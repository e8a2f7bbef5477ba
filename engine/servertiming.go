package engine

import (
	"math"
	"sync"
	"sync/atomic"
)

// Server-Timing (https://www.w3.org/TR/server-timing/) is how a service
// says where an answer's time went:
//
//	Server-Timing: db;dur=53.2;desc="42 queries", cache;desc=hit;dur=0.3, view;dur=4
//
// Every answer's header is parsed on the worker's hot path, so the parser
// allocates nothing and never fails: a metric that does not parse (bad
// syntax, a negative, unreadable or over-long dur) is skipped and counted
// as malformed, the next comma starts over, and a header of any length is
// read in one pass. A metric without dur says nothing about time and is
// skipped. The first MaxTimings names a run meets are recorded, each in
// its own histogram per step; the values of any further name are counted
// as dropped.

// MaxTimings is how many Server-Timing metric names a run records.
const MaxTimings = 16

// timingMetric is one metric read from a header.
type timingMetric struct {
	name   []byte
	dur    uint32 // microseconds
	hasDur bool
	bad    bool
}

// tchar marks the characters of an HTTP token (RFC 9110).
var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

func skipOWS(v []byte, i int) int {
	for i < len(v) && isOWS(v[i]) {
		i++
	}
	return i
}

func token(v []byte, i int) int {
	for i < len(v) && tchar[v[i]] {
		i++
	}
	return i
}

// nextTiming reads the metric at the start of v (after any empty list
// elements) and returns it with the rest of v after its comma. ok is
// false when v holds no further metric.
func nextTiming(v []byte) (m timingMetric, rest []byte, ok bool) {
	i := skipOWS(v, 0)
	for i < len(v) && v[i] == ',' {
		i = skipOWS(v, i+1)
	}
	if i == len(v) {
		return m, nil, false
	}
	end := token(v, i)
	m.name = v[i:end]
	i = skipOWS(v, end)
	for len(m.name) > 0 && i < len(v) && v[i] == ';' {
		var good bool
		if i, good = m.param(v, skipOWS(v, i+1)); !good {
			m.bad = true
			break
		}
		i = skipOWS(v, i)
	}
	if len(m.name) == 0 || (i < len(v) && v[i] != ',') {
		m.bad = true
	}
	return m, v[skipToComma(v, i):], true
}

// param reads one parameter at v[i:] into m (dur is the one that counts,
// the first time it appears) and returns where it ends.
func (m *timingMetric) param(v []byte, i int) (int, bool) {
	end := token(v, i)
	name := v[i:end]
	if len(name) == 0 {
		return end, false
	}
	i = skipOWS(v, end)
	if i == len(v) || v[i] != '=' {
		return i, true // a parameter without a value
	}
	i = skipOWS(v, i+1)
	var value []byte
	if i < len(v) && v[i] == '"' {
		close := quotedEnd(v, i)
		if close < 0 {
			return len(v), false
		}
		value, i = v[i+1:close], close+1
	} else {
		end = token(v, i)
		if end == i {
			return i, false
		}
		value, i = v[i:end], end
	}
	if m.hasDur || !isDur(name) {
		return i, true
	}
	us, good := parseMillis(value)
	if !good {
		return i, false
	}
	m.dur, m.hasDur = us, true
	return i, true
}

func isDur(name []byte) bool {
	return len(name) == 3 && name[0]|0x20 == 'd' && name[1]|0x20 == 'u' && name[2]|0x20 == 'r'
}

// quotedEnd is the index of the quote closing the quoted-string opening
// at v[open], or -1 when it is not closed.
func quotedEnd(v []byte, open int) int {
	for i := open + 1; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// skipToComma is the index after the next comma outside a quoted string
// at or after i, or len(v).
func skipToComma(v []byte, i int) int {
	for ; i < len(v); i++ {
		switch v[i] {
		case ',':
			return i + 1
		case '"':
			end := quotedEnd(v, i)
			if end < 0 {
				return len(v)
			}
			i = end
		}
	}
	return len(v)
}

// parseMillis reads a dur: a decimal number of milliseconds, with an
// optional fraction and exponent, as microseconds. A negative value, one
// over the histograms' 60 s bound, or anything else is not a dur.
func parseMillis(b []byte) (uint32, bool) {
	i := 0
	if i < len(b) && b[i] == '+' {
		i++
	}
	var mant uint64
	exp, digits := 0, 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		digits++
		if mant < 1e17 {
			mant = mant*10 + uint64(b[i]-'0')
		} else {
			exp++
		}
	}
	if i < len(b) && b[i] == '.' {
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			digits++
			if mant < 1e17 {
				mant = mant*10 + uint64(b[i]-'0')
				exp--
			}
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		e, good := parseExponent(b[i+1:])
		if !good {
			return 0, false
		}
		exp += e
		i = len(b)
	}
	if i != len(b) {
		return 0, false
	}
	us := float64(mant) * math.Pow10(exp+3)
	if us > maxMicros {
		return 0, false
	}
	return uint32(us + 0.5), true
}

// parseExponent reads a signed exponent, clamped far outside any dur.
func parseExponent(b []byte) (int, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg, b = b[0] == '-', b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	e := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		e = min(e*10+int(c-'0'), 400)
	}
	if neg {
		e = -e
	}
	return e, true
}

// timingNames are the metric names a run records, in the order the run
// met them: at most MaxTimings, published copy-on-write so that workers
// look names up without a lock.
type timingNames struct {
	mu    sync.Mutex
	names atomic.Pointer[[]string]
}

// index returns name's index, adding the name when there is room; -1
// when the table is full without it. Only a new name allocates.
func (t *timingNames) index(name []byte) int {
	if p := t.names.Load(); p != nil {
		for i, n := range *p {
			if n == string(name) {
				return i
			}
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var names []string
	if p := t.names.Load(); p != nil {
		names = *p
	}
	for i, n := range names {
		if n == string(name) {
			return i
		}
	}
	if len(names) == MaxTimings {
		return -1
	}
	grown := append(names[:len(names):len(names)], string(name))
	t.names.Store(&grown)
	return len(grown) - 1
}

// list returns the names so far, in their order.
func (t *timingNames) list() []string {
	if p := t.names.Load(); p != nil {
		return *p
	}
	return nil
}
