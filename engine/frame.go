package engine

import (
	"bytes"
	"errors"
	"io"
)

// framer finds where one HTTP/1.x answer ends in the bytes of its
// connection, fed as they arrive, and keeps only what the event loop
// records: the status, whether the connection must close after it, and
// the Server-Timing values. The body is counted against the limit and
// dropped, never copied. It holds bytes only while a header spans reads.
type framer struct {
	maxBody int
	// head is set for an answer to HEAD, which has no body.
	head bool
	// timing, when set, is called with each Server-Timing value.
	timing func(v []byte)

	status int
	close  bool

	phase  framePhase
	hbuf   []byte // a header that spans reads, so far
	left   int64  // body bytes still to come (content length or chunk)
	body   int64  // body bytes so far, against maxBody
	digits int    // hex digits of the chunk size line so far
}

type framePhase uint8

const (
	inHeader    framePhase = iota
	inLength               // a body of known length
	untilClose             // a body that ends when the connection does
	chunkSize              // a chunk's size line
	chunkExt               // the rest of a chunk's size line
	chunkData              // a chunk's data
	chunkCR                // the line end after a chunk's data
	chunkLF                //
	inTrailer              // the trailer lines after the last chunk
	trailerLine            // inside a trailer line
	frameDone
)

var (
	errFrameSyntax   = errors.New("malformed HTTP answer")
	errHeaderTooLong = errors.New("answer header longer than 128 KiB")
	errBodyTooLarge  = errors.New("answer body larger than the limit")
)

// reset readies the framer for the answer to the next request.
func (f *framer) reset(head bool) {
	f.head = head
	f.status, f.close = 0, false
	f.phase = inHeader
	f.hbuf = f.hbuf[:0]
	f.left, f.body, f.digits = 0, 0, 0
}

// feed consumes bytes of the answer from b. It returns how many it used
// and whether the answer ended there; bytes after the end are not the
// answer's. An error means the answer cannot be read further.
func (f *framer) feed(b []byte) (n int, done bool, err error) {
	for n < len(b) && f.phase != frameDone {
		var used int
		if f.phase == inHeader {
			used, err = f.feedHeader(b[n:])
		} else {
			used, err = f.feedBody(b[n:])
		}
		n += used
		if err != nil {
			return n, false, err
		}
	}
	return n, f.phase == frameDone, nil
}

// eof tells the framer the connection closed: that ends a body read until
// close; anywhere else the answer was cut short.
func (f *framer) eof() (done bool, err error) {
	switch f.phase {
	case untilClose:
		f.phase = frameDone
		return true, nil
	case frameDone:
		return true, nil
	}
	return false, io.ErrUnexpectedEOF
}

// feedHeader looks for the end of the header in b, parsing it once whole.
func (f *framer) feedHeader(b []byte) (int, error) {
	if len(f.hbuf) == 0 {
		if end := headerEnd(b, 0); end > 0 {
			if end > maxHeaderBytes {
				return 0, errHeaderTooLong
			}
			return end, f.parseHeader(b[:end])
		}
		if len(b) > maxHeaderBytes {
			return 0, errHeaderTooLong
		}
		f.hbuf = append(f.hbuf, b...)
		return len(b), nil
	}
	from := max(0, len(f.hbuf)-3)
	had := len(f.hbuf)
	f.hbuf = append(f.hbuf, b...)
	end := headerEnd(f.hbuf, from)
	if end < 0 {
		if len(f.hbuf) > maxHeaderBytes {
			return 0, errHeaderTooLong
		}
		return len(b), nil
	}
	if end > maxHeaderBytes {
		return 0, errHeaderTooLong
	}
	err := f.parseHeader(f.hbuf[:end])
	f.hbuf = f.hbuf[:0]
	return end - had, err
}

// headerEnd is the index just past the blank line that ends the header
// in b (a bare LF counts as a line end), or -1; from is where to start.
func headerEnd(b []byte, from int) int {
	for i := from; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		switch {
		case i < len(b) && b[i] == '\n':
			return i + 1
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			return i + 2
		}
	}
}

// parseHeader reads the status line and the header fields that frame the
// body, and moves to the body's phase.
func (f *framer) parseHeader(h []byte) error {
	line, rest := nextLine(h)
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' ||
		!isDigit(line[9]) || !isDigit(line[10]) || !isDigit(line[11]) || (len(line) > 12 && line[12] != ' ') {
		return errFrameSyntax
	}
	f.status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	if f.status < 100 {
		return errFrameSyntax
	}
	http10 := line[7] == '0'
	length, chunked, coded := int64(-1), false, false
	closes, keepAlive := false, false
	for len(rest) > 0 {
		line, rest = nextLine(rest)
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || line[0] == ' ' || line[0] == '\t' {
			return errFrameSyntax
		}
		name, value := line[:colon], trimOWS(line[colon+1:])
		switch {
		case asciiEqualFold(name, "content-length"):
			v, ok := parseLength(value)
			if !ok || (length >= 0 && v != length) {
				return errFrameSyntax
			}
			length = v
		case asciiEqualFold(name, "transfer-encoding"):
			coded = true
			chunked = lastTokenIs(value, "chunked")
		case asciiEqualFold(name, "connection"):
			closes = closes || hasToken(value, "close")
			keepAlive = keepAlive || hasToken(value, "keep-alive")
		case f.timing != nil && asciiEqualFold(name, "server-timing"):
			f.timing(value)
		}
	}
	// Transfer-Encoding on HTTP/1.0 is faulty framing: whatever it
	// says, the connection cannot be trusted after this answer.
	f.close = closes || (http10 && (!keepAlive || coded))
	switch {
	case f.status < 200 && f.status != 101:
		// An interim answer: the real one follows.
		f.reset(f.head)
		return nil
	case f.status == 101:
		f.close = true // switched protocols: no more HTTP on this connection
		f.phase = frameDone
	case f.head || f.status == 204 || f.status == 304:
		f.phase = frameDone
	case coded && chunked:
		f.phase = chunkSize
	case coded:
		f.close = true
		f.phase = untilClose
	case length >= 0:
		if length > int64(f.maxBody) {
			return errBodyTooLarge
		}
		f.left = length
		f.phase = inLength
		if length == 0 {
			f.phase = frameDone
		}
	default:
		f.close = true
		f.phase = untilClose
	}
	return nil
}

// feedBody consumes body bytes from b (never empty).
func (f *framer) feedBody(b []byte) (int, error) {
	switch f.phase {
	case inLength:
		return f.skip(b, frameDone), nil
	case untilClose:
		f.body += int64(len(b))
		if f.body > int64(f.maxBody) {
			return len(b), errBodyTooLarge
		}
		return len(b), nil
	case chunkData:
		return f.skip(b, chunkCR), nil
	}
	return 1, f.chunkByte(b[0])
}

// skip passes over what is left of a body or chunk of known length, then
// moves on to next.
func (f *framer) skip(b []byte, next framePhase) int {
	k := int(min(int64(len(b)), f.left))
	f.left -= int64(k)
	if f.left == 0 {
		f.phase = next
	}
	return k
}

// chunkByte advances the chunked body's line states by one byte.
func (f *framer) chunkByte(c byte) error {
	switch f.phase {
	case chunkSize:
		if d, ok := hexDigit(c); ok {
			if f.digits == 15 {
				return errFrameSyntax
			}
			f.digits++
			f.left = f.left<<4 | int64(d)
			return nil
		}
		if f.digits == 0 {
			return errFrameSyntax
		}
		f.phase = chunkExt
		return f.chunkByte(c)
	case chunkExt:
		if c != '\n' {
			return nil // a chunk extension, or the CR: ignored
		}
		f.digits = 0
		if f.left == 0 {
			f.phase = inTrailer
			return nil
		}
		f.body += f.left
		if f.body > int64(f.maxBody) {
			return errBodyTooLarge
		}
		f.phase = chunkData
	case chunkCR:
		switch c {
		case '\r':
			f.phase = chunkLF
		case '\n':
			f.phase = chunkSize
		default:
			return errFrameSyntax
		}
	case chunkLF:
		if c != '\n' {
			return errFrameSyntax
		}
		f.phase = chunkSize
	case inTrailer:
		switch c {
		case '\r':
		case '\n':
			f.phase = frameDone
		default:
			f.phase = trailerLine
		}
	case trailerLine:
		if c == '\n' {
			f.phase = inTrailer
		}
	}
	return nil
}

// nextLine splits the first line off h, without its CR LF (or LF).
func nextLine(h []byte) (line, rest []byte) {
	i := bytes.IndexByte(h, '\n')
	if i < 0 {
		return h, nil
	}
	line, rest = h[:i], h[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// parseLength reads a Content-Length: digits only, at most 18 of them.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// asciiEqualFold compares a header name with a lower-case name.
func asciiEqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// hasToken reports whether a comma-separated header value lists tok.
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		var t []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			t, v = v[:i], v[i+1:]
		} else {
			t, v = v, nil
		}
		if asciiEqualFold(trimOWS(t), tok) {
			return true
		}
	}
	return false
}

// lastTokenIs reports whether the last of a comma-separated value's
// tokens is tok: a body is chunked only when chunked is applied last.
func lastTokenIs(v []byte, tok string) bool {
	if i := bytes.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return asciiEqualFold(trimOWS(v), tok)
}

// trimOWS trims the spaces and tabs HTTP allows around a value or token,
// and nothing else.
func trimOWS(v []byte) []byte {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}
