// Package scenariofile reads scenario files: a user's flow through a
// service written in YAML (JSON is a subset), turned into an
// engine.Scenario and the load settings the file gives.
//
// Every problem is reported as FILE:LINE: what is wrong, before any
// request is sent: the YAML library keeps each value's line, so the
// checks here walk its nodes rather than decoding into structs, and say
// where the unknown key, the missing url or the {{var}} nothing captures
// is.
package scenariofile

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"perflab/engine"
)

// File is a scenario file, read and checked.
type File struct {
	Name  string // as given: a path, or an embedded scenario's name
	Title string // the file's name: key, else its base name
	// Base is the base URL its relative URLs were joined to; "" when
	// every URL is absolute.
	Base     string
	Scenario engine.Scenario
	Load     Load
}

// Load is the load the file asks for; the command line overrides it.
type Load struct {
	VUs        int
	Think      time.Duration
	Rate       float64
	Conns      int
	Duration   time.Duration
	Timeout    time.Duration
	Stages     string // as --stages takes them: D:T,...
	Thresholds []string
	// Lines has the line of each setting the file gives, by its key;
	// a setting the file does not give is absent.
	Lines map[string]int
}

// Options say how to read a file.
type Options struct {
	// Base, when set, replaces the file's base: (perflab's --url).
	Base string
	// ReadFile reads a file the scenario names (a data file, an @body),
	// relative to the scenario file's directory.
	ReadFile func(name string) ([]byte, error)
}

// Error is a problem at one line of a scenario file.
type Error struct {
	File string
	Line int // 0 when it concerns the whole file
	Msg  string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// The keys each part of a file may have.
var (
	topKeys     = []string{"name", "base", "vus", "think", "rate", "connections", "duration", "stages", "thresholds", "timeout", "data", "setup", "steps", "flows"}
	stepKeys    = []string{"name", "method", "url", "headers", "body", "check", "capture", "think"}
	setupKeys   = append(slices.Clone(stepKeys), "per")
	checkKeys   = []string{"status", "contains", "json"}
	flowKeys    = []string{"name", "weight", "steps"}
	dataKeys    = []string{"file", "unique"}
	captureKeys = []string{"json", "header"}
	modelKeys   = []string{"vus", "rate", "connections"}
)

// parser holds what reading one file needs.
type parser struct {
	file string
	opt  Options
	f    *File
	// names are the steps' names with their lines, for duplicates.
	names map[string]int
	steps int
}

// Parse reads a scenario file's text; name is how messages call it.
func Parse(name string, data []byte, opt Options) (*File, error) {
	p := &parser{file: name, opt: opt, f: &File{Name: name}, names: map[string]int{}}
	if err := p.parse(data); err != nil {
		return nil, err
	}
	return p.f, nil
}

// errorf is a problem at node n's line.
func (p *parser) errorf(n *yaml.Node, format string, a ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &Error{File: p.file, Line: line, Msg: fmt.Sprintf(format, a...)}
}

func (p *parser) parse(data []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return p.syntaxError(data, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return &Error{File: p.file, Msg: "the file is empty; a scenario needs at least steps: with one step"}
	}
	top := resolve(doc.Content[0])
	if top.Kind != yaml.MappingNode {
		return p.errorf(top, "a scenario file is a mapping of keys (name:, steps:, ...), not %s", kindName(top))
	}
	m, err := p.mapping(top, topKeys, "a scenario")
	if err != nil {
		return err
	}
	p.f.Title = strings.TrimSuffix(path.Base(p.file), path.Ext(p.file))
	if n := m.get("name"); n != nil {
		if p.f.Title, err = p.text(n, "name"); err != nil {
			return err
		}
	}
	if err := p.load(m); err != nil {
		return err
	}
	if err := p.base(m); err != nil {
		return err
	}
	if n := m.get("data"); n != nil {
		if err := p.data(n); err != nil {
			return err
		}
	}
	if err := p.flows(top, m); err != nil {
		return err
	}
	if err := p.f.Scenario.Validate(); err != nil {
		// Every check above has a line; this is a backstop.
		return &Error{File: p.file, Msg: err.Error()}
	}
	return nil
}

// syntaxError turns the YAML library's message into FILE:LINE: text.
func (p *parser) syntaxError(data []byte, err error) error {
	line, msg := yamlMessage(err)
	if l := problemLine(data, msg); l > 0 {
		line = l
	}
	return &Error{File: p.file, Line: line, Msg: "not valid YAML: " + msg}
}

// yamlMessage splits the YAML library's "yaml: line 3: what" into its
// line and its words.
func yamlMessage(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, text, ok := strings.Cut(rest, ": "); ok {
			if l, err := strconv.Atoi(n); err == nil {
				return l, text
			}
		}
	}
	return 0, msg
}

// problemLine finds the line where the YAML text goes wrong. The library
// names the line where the enclosing block began, which may be far
// above; the first prefix of the text that fails the same way ends at
// the line that is wrong.
func problemLine(data []byte, msg string) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	var prefix []byte
	for i, l := range lines {
		prefix = append(prefix, l...)
		var n yaml.Node
		if err := yaml.Unmarshal(prefix, &n); err != nil {
			if _, m := yamlMessage(err); m == msg {
				return i + 1
			}
		}
	}
	return 0
}
