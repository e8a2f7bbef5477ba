package engine

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// frameOutcome is what the framer reports for one answer.
type frameOutcome struct {
	status  int
	close   bool
	done    bool
	err     error    // nil, or the error the framer gave
	used    int      // bytes of the input the answer took; -1 after an error
	timings []string // the Server-Timing values, in order
}

func (o frameOutcome) String() string {
	return fmt.Sprintf("{status %d close %v done %v err %v used %d timings %q}",
		o.status, o.close, o.done, o.err, o.used, o.timings)
}

// anyStatus in a wanted outcome accepts any status.
const anyStatus = -1

// sameOutcome compares two outcomes, errors by class (errors.Is).
func sameOutcome(got, want frameOutcome) bool {
	if (got.status != want.status && want.status != anyStatus) || got.close != want.close || got.done != want.done ||
		got.used != want.used || len(got.timings) != len(want.timings) {
		return false
	}
	if (got.err == nil) != (want.err == nil) || (want.err != nil && !errors.Is(got.err, want.err)) {
		return false
	}
	for i := range got.timings {
		if got.timings[i] != want.timings[i] {
			return false
		}
	}
	return true
}

func sameOutcomes(got, want []frameOutcome) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !sameOutcome(got[i], want[i]) {
			return false
		}
	}
	return true
}

// frameParts feeds parts, in order, to f as the bytes of one connection
// and frames up to answers answers from them, resetting f between answers.
// When the parts run out before an answer ends, eof says whether the
// connection then closes. It returns each answer's outcome, and reports
// through bad any breach of feed's contract: using more bytes than it
// was given, stopping short of them without an end or an error, or
// reporting an end together with an error.
//
// After an error the connection is dropped, so how much of the input was
// used is not part of the outcome (it is -1): a header found too long,
// say, is refused when the limit is crossed, whichever read that is.
func frameParts(f *framer, parts [][]byte, head, eof bool, answers int, bad func(string, ...any)) []frameOutcome {
	var outs []frameOutcome
	var timings []string
	f.timing = func(v []byte) { timings = append(timings, string(v)) }
	defer func() { f.timing = nil }()
	pi, off := 0, 0 // the part to feed next, and where in it
	for {
		f.reset(head)
		timings = nil
		o := frameOutcome{}
		for pi < len(parts) {
			p := parts[pi][off:]
			n, done, err := f.feed(p)
			if n < 0 || n > len(p) {
				bad("feed(%d bytes) used %d", len(p), n)
				n = max(0, min(n, len(p)))
			}
			if done && err != nil {
				bad("feed reported the end together with %v", err)
			}
			o.used += n
			off += n
			if off == len(parts[pi]) {
				pi, off = pi+1, 0
			}
			if err != nil {
				o.err = err
				break
			}
			if done {
				o.done = true
				break
			}
			if n != len(p) {
				bad("feed(%d bytes) used %d without an end or an error", len(p), n)
				pi, off = pi+1, 0
			}
		}
		if !o.done && o.err == nil && eof {
			done, err := f.eof()
			if done && err != nil {
				bad("eof reported the end together with %v", err)
			}
			o.done, o.err = done, err
		}
		if o.err != nil {
			o.used = -1
		}
		o.status, o.close, o.timings = f.status, f.close, timings
		outs = append(outs, o)
		if !o.done || o.err != nil || len(outs) == answers {
			return outs
		}
	}
}

// frameCase is an input and the outcome of each answer in it.
type frameCase struct {
	name    string
	in      string
	head    bool // the answers are to HEAD requests
	maxBody int  // 0 means 1 MiB
	eof     bool // the connection closes after the input
	want    []frameOutcome
}

// ok is a clean end of an answer that took used bytes.
func ok(status int, close bool, used int, timings ...string) frameOutcome {
	return frameOutcome{status: status, close: close, done: true, used: used, timings: timings}
}

// failed is an answer refused with err, its status being status.
func failed(status int, err error, timings ...string) frameOutcome {
	return frameOutcome{status: status, err: err, used: -1, timings: timings}
}

// headerOf builds an answer header exactly size bytes long, padded with
// one long field, ending with Content-Length: 0.
func headerOf(size int) string {
	const start, end = "HTTP/1.1 200 OK\r\nX-Pad: ", "\r\nContent-Length: 0\r\n\r\n"
	return start + strings.Repeat("p", size-len(start)-len(end)) + end
}

func frameCases() []frameCase {
	const (
		clBody     = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
		chunkedExt = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"5;name=value\r\nhello\r\n" +
			"6 ; a=\"b c\";d\r\n world\r\n" +
			"A\r\n0123456789\r\n" +
			"0;last=1\r\nExpires: never\r\nX-Checksum: abc\r\n\r\n"
		bareLF    = "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n5\nhello\n4;x\n abc\n0\nX-T: 1\n\n"
		second    = "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnot"
		continue1 = "HTTP/1.1 100 Continue\r\n\r\n"
		early     = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
		gzipped   = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n\x1f\x8b\x08\x00 compressed"
		zero      = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
		http10    = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
		switching = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
	)
	// answer is a case whose single answer takes a and leaves tail.
	answer := func(name, a, tail string, status int, close bool, timings ...string) frameCase {
		return frameCase{name: name, in: a + tail, want: []frameOutcome{ok(status, close, len(a), timings...)}}
	}
	// bodiless is an answer without a body followed by another (which,
	// to HEAD, has no body either).
	bodiless := func(name, a string, status int, head bool) frameCase {
		next := len(second)
		if head {
			next -= len("not")
		}
		return frameCase{name: name, in: a + second, head: head,
			want: []frameOutcome{ok(status, false, len(a)), ok(404, false, next)}}
	}
	// refused is a case whose answer is refused with err.
	refused := func(name, in string, status int, err error) frameCase {
		return frameCase{name: name, in: in, want: []frameOutcome{failed(status, err)}}
	}
	// untilEOF is a case whose answer ends when the connection closes.
	untilEOF := func(name, in string, status int, close bool) frameCase {
		return frameCase{name: name, in: in, eof: true, want: []frameOutcome{ok(status, close, len(in))}}
	}
	// closes marks a refused answer's connection as one to close.
	closes := func(c frameCase) frameCase { c.want[0].close = true; return c }
	// limited sets a case's body limit.
	limited := func(max int, c frameCase) frameCase { c.maxBody = max; return c }
	// closing marks a case's connection as closing after the input.
	closing := func(c frameCase) frameCase { c.eof = true; return c }

	return []frameCase{
		answer("content-length", clBody, "HTTP/1.1 200", 200, false),
		answer("content-length-exact", clBody, "", 200, false),
		answer("zero-length", zero, "", 200, false),
		answer("equal-duplicate-lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length:2 \r\n\r\nok", "", 200, false),
		refused("conflicting-lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!", 200, errFrameSyntax),
		refused("negative-length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 200, errFrameSyntax),
		refused("length-list", "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok", 200, errFrameSyntax),
		refused("empty-length", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", 200, errFrameSyntax),

		answer("chunked-extensions-trailers", chunkedExt, "HTTP/1.1", 200, false),
		answer("chunked-bare-lf", bareLF, "next", 200, false),
		answer("chunked-over-length", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n2\r\nok\r\n0\r\n\r\n", "!", 200, false),
		answer("chunked-last", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", "", 200, false),
		answer("chunked-empty-trailer-crlf", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "\r\n", 200, false),
		refused("chunked-bad-size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 200, errFrameSyntax),
		refused("chunked-size-too-long", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0000000000000001\r\nx\r\n0\r\n\r\n", 200, errFrameSyntax),
		refused("chunked-data-overrun", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n0\r\n\r\n", 200, errFrameSyntax),
		refused("chunked-cr-without-lf", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\rX0\r\n\r\n", 200, errFrameSyntax),
		closing(refused("chunked-eof-in-trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX: 1\r\n", 200, io.ErrUnexpectedEOF)),

		answer("http10-close", http10, "", 200, true),
		answer("http10-keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok", "HTTP", 200, false),
		untilEOF("http10-keep-alive-until-close", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nuntil close", 200, true),
		answer("http10-keep-alive-and-close", "HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 2\r\n\r\nok", "", 200, true),
		// The close token wins whichever field line carries it, and only
		// SP and HTAB surround a token (a no-break space is not OWS).
		answer("http10-close-then-keep-alive", "HTTP/1.0 200 OK\r\nConnection: close\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", "", 200, true),
		answer("http10-keep-alive-nbsp", "HTTP/1.0 200 OK\r\nConnection: keep-alive\u00a0\r\nContent-Length: 2\r\n\r\nok", "", 200, true),
		answer("connection-close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", "EXTRA", 200, true),
		answer("connection-token-list", "HTTP/1.1 200 OK\r\nConnection: Upgrade, Close\r\nContent-Length: 0\r\n\r\n", "", 200, true),
		answer("connection-keep-alive-http11", "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", "", 200, false),

		{name: "pipelined", in: clBody + second, want: []frameOutcome{ok(200, false, len(clBody)), ok(404, false, len(second))}},
		{name: "pipelined-chunked", in: chunkedExt + chunkedExt + clBody,
			want: []frameOutcome{ok(200, false, len(chunkedExt)), ok(200, false, len(chunkedExt)), ok(200, false, len(clBody))}},
		{name: "pipelined-zero", in: zero + zero + http10,
			want: []frameOutcome{ok(200, false, len(zero)), ok(200, false, len(zero)), ok(200, true, len(http10))}},

		answer("continue-then-200", continue1+clBody, "HTTP/1.1 100", 200, false),
		{name: "interim-answers", in: continue1 + early + continue1 + second + clBody,
			want: []frameOutcome{ok(404, false, 2*len(continue1)+len(early)+len(second)), ok(200, false, len(clBody))}},
		closing(refused("continue-then-eof", continue1, 0, io.ErrUnexpectedEOF)),
		answer("switching-protocols", switching, "\x81\x05hello", 101, true),

		bodiless("head-content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\n", 200, true),
		bodiless("head-chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 200, true),
		bodiless("head-until-close", "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", 200, true),
		bodiless("no-content", "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", 204, false),
		bodiless("no-content-chunked", "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n", 204, false),
		bodiless("not-modified", "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nETag: \"x\"\r\n\r\n", 304, false),

		untilEOF("gzip-until-close", gzipped, 200, true),
		untilEOF("chunked-not-last", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\nContent-Length: 2\r\n\r\n0\r\n\r\nmore", 200, true),
		untilEOF("until-close", "HTTP/1.1 200 OK\r\nServer: x\r\n\r\nall of this until the end", 200, true),
		untilEOF("until-close-empty", "HTTP/1.1 200 OK\r\n\r\n", 200, true),
		{name: "until-close-no-eof", in: "HTTP/1.1 200 OK\r\n\r\nsome", want: []frameOutcome{{status: 200, close: true, used: 23}}},

		closing(refused("eof-mid-body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", 200, io.ErrUnexpectedEOF)),
		closing(refused("eof-mid-chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", 200, io.ErrUnexpectedEOF)),
		closing(refused("eof-mid-header", "HTTP/1.1 200 OK\r\nContent-Le", 0, io.ErrUnexpectedEOF)),
		closing(refused("eof-before-answer", "", 0, io.ErrUnexpectedEOF)),
		{name: "mid-body-no-eof", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", want: []frameOutcome{{status: 200, used: 44}}},

		answer("header-at-limit", headerOf(maxHeaderBytes), "X", 200, false),
		refused("header-over-limit", headerOf(maxHeaderBytes+1), 0, errHeaderTooLong),
		refused("header-over-limit-unended", "HTTP/1.1 200 OK\r\nX-Pad: "+strings.Repeat("p", maxHeaderBytes), 0, errHeaderTooLong),

		limited(10, answer("length-at-limit", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", "", 200, false)),
		limited(10, refused("length-over-limit", "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n0123456789X", 200, errBodyTooLarge)),
		refused("huge-length", "HTTP/1.1 200 OK\r\nContent-Length: 999999999999999999\r\n\r\n", 200, errBodyTooLarge),
		limited(10, answer("chunked-at-limit", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n", "", 200, false)),
		limited(10, refused("chunked-over-limit", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n6\r\n56789X\r\n0\r\n\r\n", 200, errBodyTooLarge)),
		limited(10, untilEOF("until-close-at-limit", "HTTP/1.1 200 OK\r\n\r\n0123456789", 200, true)),
		limited(10, closes(closing(refused("until-close-over-limit", "HTTP/1.1 200 OK\r\n\r\n0123456789X", 200, errBodyTooLarge)))),

		refused("status-http2", "HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n", 0, errFrameSyntax),
		refused("status-four-digits", "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", 0, errFrameSyntax),
		refused("status-foo", "FOO\r\n\r\n", 0, errFrameSyntax),
		refused("status-two-digits", "HTTP/1.1 20 OK\r\n\r\n", 0, errFrameSyntax),
		refused("status-below-100", "HTTP/1.1 099 Low\r\n\r\n", anyStatus, errFrameSyntax),
		refused("status-letters", "HTTP/1.1 2x0 OK\r\n\r\n", 0, errFrameSyntax),
		refused("status-line-blank", "\r\nHTTP/1.1 200 OK\r\n\r\n", 0, errFrameSyntax),
		answer("status-no-reason", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", "", 200, false),
		refused("field-without-colon", "HTTP/1.1 200 OK\r\nContent-Length 2\r\n\r\nok", 200, errFrameSyntax),
		refused("field-empty-name", "HTTP/1.1 200 OK\r\n: x\r\nContent-Length: 0\r\n\r\n", 200, errFrameSyntax),
		refused("obs-fold", "HTTP/1.1 200 OK\r\nX-Long: a\r\n  b\r\nContent-Length: 0\r\n\r\n", 200, errFrameSyntax),
		refused("obs-fold-tab", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\tb\r\n\r\n", 200, errFrameSyntax),
		answer("mixed-case-names", "HTTP/1.1 200 OK\r\ncOnTeNt-LeNgTh: 3\r\nCONNECTION: CLOSE\r\n\r\nabc", "def", 200, true),
		answer("mixed-case-chunked", "HTTP/1.1 200 OK\r\nTRANSFER-encoding: Chunked\r\n\r\n1\r\na\r\n0\r\n\r\n", "X", 200, false),
		answer("server-timing-twice", "HTTP/1.1 200 OK\r\nServer-Timing: db;dur=53, app;dur=47.2\r\nContent-Length: 0\r\nserver-timing:  cache;desc=\"hit\" \r\n\r\n", "",
			200, false, "db;dur=53, app;dur=47.2", `cache;desc="hit"`),
		{name: "server-timing-pipelined", in: "HTTP/1.1 200 OK\r\nServer-Timing: a\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nServer-Timing: b\r\nContent-Length: 0\r\n\r\n",
			want: []frameOutcome{ok(200, false, 56, "a"), ok(200, false, 56, "b")}},
	}
}

// TestFramer frames each case fed whole, a byte at a time, and split in
// two at every position: the outcome must not depend on how the bytes
// arrive.
func TestFramer(t *testing.T) {
	var f framer
	for _, tc := range frameCases() {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			f.maxBody = tc.maxBody
			if f.maxBody == 0 {
				f.maxBody = 1 << 20
			}
			var first []frameOutcome // the outcomes of the input fed whole
			check := func(how string, parts [][]byte) bool {
				var breach string
				bad := func(format string, args ...any) {
					if breach == "" {
						breach = fmt.Sprintf(format, args...)
					}
				}
				got := frameParts(&f, parts, tc.head, tc.eof, len(tc.want), bad)
				if breach != "" {
					t.Errorf("%s: %s", how, breach)
					return false
				}
				if first == nil {
					first = got
				}
				if !sameOutcomes(got, tc.want) {
					t.Errorf("%s:\n got %v\nwant %v", how, got, tc.want)
					return false
				}
				if !sameOutcomes(got, first) {
					t.Errorf("%s:\n got %v\nwhen fed whole %v", how, got, first)
					return false
				}
				return true
			}
			check("whole", [][]byte{in})
			bytewise := make([][]byte, len(in))
			for i := range in {
				bytewise[i] = in[i : i+1]
			}
			check("byte at a time", bytewise)
			step := 1
			if testing.Short() && len(in) > 4096 {
				step = 61
			}
			for k := 0; k <= len(in); k += step {
				if !check(fmt.Sprintf("split at %d", k), [][]byte{in[:k], in[k:]}) {
					break // one split is enough to show the fault
				}
			}
		})
	}
}

// TestFramerNoAllocs checks that framing a typical answer whole, with a
// Server-Timing callback, allocates nothing.
func TestFramerNoAllocs(t *testing.T) {
	msg := []byte(typicalAnswer)
	if len(msg) != 150 {
		t.Fatalf("typical answer is %d bytes, want 150", len(msg))
	}
	f := framer{maxBody: 1 << 20, timing: func([]byte) {}}
	allocs := testing.AllocsPerRun(100, func() {
		f.reset(false)
		if n, done, err := f.feed(msg); n != len(msg) || !done || err != nil {
			t.Fatalf("feed = %d, %v, %v", n, done, err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per answer, want 0", allocs)
	}
}

// typicalAnswer is a 150-byte keep-alive answer with a 2-byte body.
const typicalAnswer = "HTTP/1.1 200 OK\r\n" +
	"Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n" +
	"Content-Type: text/plain\r\n" +
	"Server-Timing: app;dur=1.25\r\n" +
	"X-Request: 7f3a9\r\n" +
	"Content-Length: 2\r\n" +
	"\r\n" +
	"ok"

func BenchmarkFramer(b *testing.B) {
	msg := []byte(typicalAnswer)
	var timings int
	f := framer{maxBody: 1 << 20, timing: func([]byte) { timings++ }}
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		f.reset(false)
		if n, done, err := f.feed(msg); n != len(msg) || !done || err != nil {
			b.Fatalf("feed = %d, %v, %v", n, done, err)
		}
	}
	if timings == 0 {
		b.Fatal("no Server-Timing value seen")
	}
}

// framerSeeds are the fuzz test's first inputs: answers framed every
// way, and ways to get framing wrong.
var framerSeeds = []string{
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\nHTTP/1.1",
	"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n5\nhello\n0\n\n",
	"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.0 200 OK\r\n\r\nbody until close",
	"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nokmore",
	"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\nframes",
	"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nabc",
	"HTTP/1.1 304 Not Modified\r\n\r\nHTTP/1.1 200 OK\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz",
	"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
	"HTTP/2 200 OK\r\n\r\n",
	"HTTP/1.1 2000 OK\r\n\r\n",
	"FOO\r\n\r\n",
	"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\ncontent-LENGTH: 1\r\nServer-Timing: a;dur=1\r\nserver-timing: b\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n1\r\nx\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;a=b\r\nx\r\n10\r\n0123456789abcdef\r\n0\r\nA: b\r\n c\r\nD: e\n\r\nHTTP/1.1 200 OK",
	"HTTP/1.1 103 Early Hints\r\nServer-Timing: x\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nServer-Timing: y\r\nContent-Length: 1\r\n\r\nz",
	"HTTP/1.0 304 Not Modified\r\nConnection: keep-alive\r\n\r\n",
	"HTTP/1.0 200 OK\r\nConnection: close\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nConnection: keep-alive, Upgrade\r\nconnection: close\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 500 Internal Server Error\r\n\r\n",
}

// FuzzFramer frames arbitrary bytes, fed in two pieces, and checks the
// framer against net/http's reading of the same bytes as one answer (to
// GET, or to HEAD when head is set), interim 1xx answers skipped as
// http.Transport skips them.
//
// Whatever the input, the framer must not panic, use more bytes than it
// was fed, stop short of them without an end or an error, or report an
// end together with an error. When both the framer and net/http read the
// answer through to its end without an error, they must agree on the
// status, on where the answer ends, on whether the connection closes
// after it, and, with no interim answers, on the Server-Timing values.
//
// Each side refuses some answers the other takes; those are not compared.
// net/http takes, among others: a status below 100, more than one space
// before the status, a Content-Length of more than 18 digits, obs-fold
// continuation lines, chunk sizes of 16 hex digits, and headers longer
// than 128 KiB. The framer takes, among others: a minor version that is
// not a digit, bare LF line ends in chunk lines, after chunk data and in
// trailers, other bytes after a chunk's size ("5x"), duplicate
// Content-Length values spelled differently ("5" and "05"), control
// bytes in field values, long chunk extensions, and Transfer-Encoding
// other than one "chunked" field (chunked when chunked is last, else read
// until close).
//
// One deliberate difference is skipped: net/http ignores Transfer-Encoding
// on an HTTP/1.0 answer and frames it by Content-Length or until close,
// while the framer applies it as on HTTP/1.1. The framer also forces
// close after 101 Switching Protocols, whatever the Connection field says.
func FuzzFramer(f *testing.F) {
	for i, s := range framerSeeds {
		f.Add([]byte(s), uint(len(s)/2+i), i%5 == 0)
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint, head bool) {
		k := int(split % uint(len(data)+1))
		fr := framer{maxBody: 1 << 20}
		bad := func(format string, args ...any) { t.Errorf("framer: "+format, args...) }
		outs := frameParts(&fr, [][]byte{data[:k], data[k:]}, head, true, 1, bad)
		got := outs[0]
		if !got.done || got.err != nil {
			return
		}

		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		r := bytes.NewReader(data)
		br := bufio.NewReader(r)
		used := func() int { return len(data) - br.Buffered() - r.Len() }
		req := &http.Request{Method: method}
		var resp *http.Response
		interim := 0
		start := 0 // where the final answer begins
		for {
			start = used()
			var err error
			resp, err = http.ReadResponse(br, req)
			if err != nil {
				return
			}
			if resp.StatusCode < 100 || resp.StatusCode > 199 || resp.StatusCode == http.StatusSwitchingProtocols {
				break
			}
			interim++
		}
		headerEnd := used()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return
		}
		resp.Body.Close()
		if !resp.ProtoAtLeast(1, 1) && hasField(data[start:headerEnd], "transfer-encoding") {
			return // net/http ignores Transfer-Encoding on HTTP/1.0
		}

		want := frameOutcome{status: resp.StatusCode, close: resp.Close, done: true, used: used()}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			want.close = true // nothing after it is HTTP/1.x
		}
		if interim == 0 {
			want.timings = resp.Header.Values("Server-Timing")
		} else {
			want.timings = got.timings
		}
		if !sameOutcome(got, want) {
			t.Errorf("input %q split at %d, head %v:\nframer   %v\nnet/http %v", data, k, head, got, want)
		}
	})
}

// hasField reports whether the header h has a field line named name
// (lower case).
func hasField(h []byte, name string) bool {
	for _, line := range bytes.Split(h, []byte("\n")) {
		if colon := bytes.IndexByte(line, ':'); colon > 0 && asciiEqualFold(line[:colon], name) {
			return true
		}
	}
	return false
}
