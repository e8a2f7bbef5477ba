package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// A JSON path names one value inside a JSON answer: object keys joined by
// dots, array indexes in brackets, e.g. "access", "data.token" or
// "items[0].id". Paths are parsed once, when a scenario is checked; a
// lookup walks the answer's bytes without decoding them into values, so
// a check or capture on every request costs a scan, not an allocation
// per field of the answer.
type jsonPath []pathPart

// pathPart is one key (index < 0) or one array index.
type pathPart struct {
	key   string
	index int
}

// ParseJSONPath checks a JSON path's syntax, for files that declare one.
func ParseJSONPath(s string) error {
	_, err := parseJSONPath(s)
	return err
}

func parseJSONPath(s string) (jsonPath, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("JSON path is empty; name a field, e.g. access or items[0].id")
	}
	var p jsonPath
	rest := s
	for first := true; ; first = false {
		// A key, unless the path starts with an index ("[0].id").
		end := strings.IndexAny(rest, ".[]")
		if end < 0 {
			end = len(rest)
		}
		key := rest[:end]
		if key == "" && !(first && strings.HasPrefix(rest, "[")) {
			return nil, fmt.Errorf("JSON path %q has an empty key; keys are joined by single dots, e.g. data.items[0].id", s)
		}
		if key != "" {
			p = append(p, pathPart{key: key, index: -1})
		}
		rest = rest[end:]
		for strings.HasPrefix(rest, "[") {
			close := strings.IndexByte(rest, ']')
			if close < 0 {
				return nil, fmt.Errorf("JSON path %q has a [ without its ]", s)
			}
			digits := rest[1:close]
			n, err := strconv.Atoi(digits)
			if err != nil || strings.Trim(digits, "0123456789") != "" {
				return nil, fmt.Errorf("JSON path %q: [%s] is not an array index; give a number from 0", s, rest[1:close])
			}
			p = append(p, pathPart{index: n})
			rest = rest[close+1:]
		}
		switch {
		case rest == "":
			return p, nil
		case rest[0] == '.':
			rest = rest[1:]
			if rest == "" {
				return nil, fmt.Errorf("JSON path %q ends with a dot", s)
			}
		default:
			return nil, fmt.Errorf("JSON path %q: unexpected %q; keys are joined by dots, indexes in [n]", s, rest[:1])
		}
	}
}

// lookup returns the raw bytes of the value at path in body, which must
// be valid JSON (callers check it once with json.Valid).
func (p jsonPath) lookup(body []byte) ([]byte, bool) {
	i := skipSpace(body, 0)
	for _, part := range p {
		if i >= len(body) {
			return nil, false
		}
		var ok bool
		if part.index < 0 {
			i, ok = memberAt(body, i, part.key)
		} else {
			i, ok = elementAt(body, i, part.index)
		}
		if !ok {
			return nil, false
		}
	}
	end, ok := skipValue(body, i)
	if !ok {
		return nil, false
	}
	return body[i:end], true
}

// memberAt returns where the value of key starts in the object at i.
func memberAt(b []byte, i int, key string) (int, bool) {
	if b[i] != '{' {
		return 0, false
	}
	i = skipSpace(b, i+1)
	for i < len(b) && b[i] == '"' {
		end, ok := skipString(b, i)
		if !ok {
			return 0, false
		}
		match := keyEquals(b[i:end], key)
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return 0, false
		}
		i = skipSpace(b, i+1)
		if match {
			return i, true
		}
		if i, ok = skipItem(b, i); !ok {
			return 0, false
		}
	}
	return 0, false
}

// elementAt returns where element n of the array at i starts.
func elementAt(b []byte, i, n int) (int, bool) {
	if b[i] != '[' {
		return 0, false
	}
	i = skipSpace(b, i+1)
	for k := 0; i < len(b) && b[i] != ']'; k++ {
		if k == n {
			return i, true
		}
		var ok bool
		if i, ok = skipItem(b, i); !ok {
			return 0, false
		}
	}
	return 0, false
}

// skipItem returns where the member or element after the value at i
// starts, past its comma.
func skipItem(b []byte, i int) (int, bool) {
	i, ok := skipValue(b, i)
	if !ok {
		return 0, false
	}
	i = skipSpace(b, i)
	if i < len(b) && b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	return i, true
}

// keyEquals compares a quoted JSON key with key; only a key written with
// escapes is decoded.
func keyEquals(quoted []byte, key string) bool {
	raw := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == key
	}
	var s string
	return json.Unmarshal(quoted, &s) == nil && s == key
}

// skipValue returns the index just after the value starting at i.
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				end, ok := skipString(b, i)
				if !ok {
					return 0, false
				}
				i = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return 0, false
	}
	// A number, true, false or null: up to the next delimiter.
	start := i
	for i < len(b) && !strings.ContainsRune(",}] \t\r\n", rune(b[i])) {
		i++
	}
	return i, i > start
}

// skipString returns the index just after the string starting at i.
func skipString(b []byte, i int) (int, bool) {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return 0, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// JSON value kinds, as a step's check names them.
var jsonKinds = []string{"string", "number", "boolean", "object", "array", "null"}

// JSONKinds are the types a JSON field check may require.
func JSONKinds() []string { return append([]string(nil), jsonKinds...) }

// jsonKind names the kind of a raw JSON value.
func jsonKind(v []byte) string {
	switch v[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// jsonText is a raw JSON value as a variable holds it: a string without
// its quotes, anything else as written; null captures nothing. Only a
// string written with escapes is decoded into new bytes.
func jsonText(v []byte) ([]byte, bool) {
	switch v[0] {
	case 'n':
		return nil, false
	case '"':
		if bytes.IndexByte(v, '\\') < 0 {
			return v[1 : len(v)-1], true
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, false
		}
		return []byte(s), true
	}
	return v, true
}
