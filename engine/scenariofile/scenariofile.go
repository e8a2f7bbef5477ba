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
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"perflab/engine"
	"perflab/engine/threshold"
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

// fields is a mapping node's keys and values, in order.
type fields struct {
	keys   []*yaml.Node
	values map[string]*yaml.Node
}

func (m fields) get(key string) *yaml.Node { return m.values[key] }

// mapping reads a mapping whose keys must be among allowed.
func (p *parser) mapping(n *yaml.Node, allowed []string, what string) (fields, error) {
	n = resolve(n)
	m := fields{values: map[string]*yaml.Node{}}
	if n.Kind != yaml.MappingNode {
		return m, p.errorf(n, "%s is a mapping of keys (%s), not %s", what, strings.Join(allowed, ", "), kindName(n))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return m, p.errorf(k, "%s has a key that is not a word", what)
		}
		if !slices.Contains(allowed, k.Value) {
			msg := fmt.Sprintf("unknown key %q in %s", k.Value, what)
			if s := nearest(k.Value, allowed); s != "" {
				msg += fmt.Sprintf("; did you mean %s?", s)
			}
			return m, p.errorf(k, "%s (its keys: %s)", msg, strings.Join(allowed, ", "))
		}
		if prev, ok := m.values[k.Value]; ok {
			return m, p.errorf(k, "%s is given twice (first at line %d); keep one", k.Value, prev.Line)
		}
		m.keys = append(m.keys, k)
		m.values[k.Value] = v
	}
	return m, nil
}

// keyLine is the line of a key of m, for settings reported by key.
func (m fields) keyLine(key string) int {
	for _, k := range m.keys {
		if k.Value == key {
			return k.Line
		}
	}
	return 0
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	if n.Tag == "!!null" {
		return "empty"
	}
	return fmt.Sprintf("%q", n.Value)
}

// text reads a scalar as text.
func (p *parser) text(n *yaml.Node, key string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", p.errorf(n, "%s needs a value, not %s", key, kindName(n))
	}
	return n.Value, nil
}

func (p *parser) integer(n *yaml.Node, key string, least int) (int, error) {
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return 0, p.errorf(n, "%s must be a whole number, not %s", key, kindName(n))
	}
	if v < least {
		return 0, p.errorf(n, "%s must be at least %d, got %d", key, least, v)
	}
	return v, nil
}

// duration reads a duration with a unit; zero is allowed where least is 0.
func (p *parser) duration(n *yaml.Node, key string, zeroOK bool) (time.Duration, error) {
	s, err := p.text(n, key)
	if err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		if _, numErr := strconv.ParseFloat(s, 64); numErr == nil {
			return 0, p.errorf(n, "%s %s: give a unit, e.g. %ss or %sms", key, s, s, s)
		}
		return 0, p.errorf(n, "%s %q is not a duration; give one with a unit, e.g. 500ms, 1s or 2m", key, s)
	}
	if d < 0 || (d == 0 && !zeroOK) {
		return 0, p.errorf(n, "%s must be above 0, got %s", key, s)
	}
	return d, nil
}

// think reads a step's think time: a duration, or a range "0.5s..1.5s".
func (p *parser) think(n *yaml.Node) (engine.Think, error) {
	s, err := p.text(n, "think")
	if err != nil {
		return engine.Think{}, err
	}
	lo, hi, isRange := strings.Cut(s, "..")
	if !isRange {
		d, err := p.duration(n, "think", true)
		return engine.Think{Min: d, Max: d}, err
	}
	var th engine.Think
	for i, part := range []string{lo, hi} {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d < 0 {
			return th, p.errorf(n, "think %q: %q is not a duration; a range is MIN..MAX, e.g. 0.5s..1.5s", s, strings.TrimSpace(part))
		}
		if i == 0 {
			th.Min = d
		} else {
			th.Max = d
		}
	}
	if th.Max < th.Min {
		return th, p.errorf(n, "think %q runs backwards; give the shorter time first", s)
	}
	return th, nil
}

// load reads the load settings.
func (p *parser) load(m fields) error {
	l := &p.f.Load
	l.Lines = map[string]int{}
	var model *yaml.Node
	for _, key := range modelKeys {
		n := m.get(key)
		if n == nil {
			continue
		}
		if model != nil {
			return p.errorf(n, "%s and %s (line %d) choose different load models; keep one: vus (users), rate (requests a second) or connections", key, model.Value, model.Line)
		}
		model = keyNode(m, key)
	}
	var err error
	for _, key := range m.keys {
		n := m.get(key.Value)
		switch key.Value {
		case "vus":
			l.VUs, err = p.integer(n, "vus", 1)
		case "connections":
			l.Conns, err = p.integer(n, "connections", 1)
		case "rate":
			l.Rate, err = strconv.ParseFloat(n.Value, 64)
			if n.Kind != yaml.ScalarNode || err != nil || !(l.Rate > 0) || math.IsInf(l.Rate, 0) {
				err = p.errorf(n, "rate must be a number of requests a second above 0, not %s", kindName(n))
			}
		case "think":
			if strings.Contains(n.Value, "..") {
				return p.errorf(n, "think between iterations is one duration (as --think); a step's own think: takes a range")
			}
			l.Think, err = p.duration(n, "think", true)
		case "duration":
			l.Duration, err = p.duration(n, "duration", false)
		case "timeout":
			l.Timeout, err = p.duration(n, "timeout", false)
		case "stages":
			l.Stages, err = p.stages(n)
		case "thresholds":
			l.Thresholds, err = p.thresholds(n)
		default:
			continue
		}
		if err != nil {
			return err
		}
		l.Lines[key.Value] = key.Line
	}
	if l.Lines["think"] != 0 && (l.Lines["rate"] != 0 || l.Lines["connections"] != 0) {
		return &Error{File: p.file, Line: l.Lines["think"], Msg: "think is the pause of virtual users (vus:); rate and connections have none: drop think, or use vus"}
	}
	if l.Lines["duration"] != 0 && l.Lines["stages"] != 0 {
		return &Error{File: p.file, Line: l.Lines["stages"], Msg: fmt.Sprintf("stages and duration (line %d): the stages' durations add up to the run's; drop duration", l.Lines["duration"])}
	}
	return nil
}

func keyNode(m fields, key string) *yaml.Node {
	for _, k := range m.keys {
		if k.Value == key {
			return k
		}
	}
	return nil
}

// stages reads stages as a string "30s:50,1m:50" or a list of "30s:50".
func (p *parser) stages(n *yaml.Node) (string, error) {
	if n.Kind == yaml.SequenceNode {
		var parts []string
		for _, item := range n.Content {
			s, err := p.text(resolve(item), "a stage")
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		if len(parts) == 0 {
			return "", p.errorf(n, "stages is empty; give DURATION:TARGET stages, e.g. [30s:50, 1m:50]")
		}
		return strings.Join(parts, ","), nil
	}
	return p.text(n, "stages")
}

func (p *parser) thresholds(n *yaml.Node) ([]string, error) {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	var out []string
	for _, item := range items {
		item = resolve(item)
		s, err := p.text(item, "a threshold")
		if err != nil {
			return nil, err
		}
		if _, err := threshold.Parse(s); err != nil {
			return nil, p.errorf(item, "threshold: %v", err)
		}
		out = append(out, s)
	}
	return out, nil
}

// base settles the base URL: --url, else base:.
func (p *parser) base(m fields) error {
	n := m.get("base")
	switch {
	case p.opt.Base != "":
		p.f.Base = p.opt.Base
		if err := engine.CheckURL(p.f.Base); err != nil {
			return &Error{File: p.file, Msg: fmt.Sprintf("--url %v", strings.TrimPrefix(err.Error(), "URL "))}
		}
	case n != nil:
		s, err := p.text(n, "base")
		if err != nil {
			return err
		}
		if err := engine.CheckURL(s); err != nil {
			return p.errorf(n, "base: %v", err)
		}
		p.f.Base = s
	}
	return nil
}

// data reads the users' rows: data: FILE, or data: {file: FILE, unique: true}.
func (p *parser) data(n *yaml.Node) error {
	rows := &engine.Rows{}
	fileNode := n
	if n.Kind == yaml.MappingNode {
		m, err := p.mapping(n, dataKeys, "data")
		if err != nil {
			return err
		}
		if fileNode = m.get("file"); fileNode == nil {
			return p.errorf(n, "data needs file: a CSV file with a header line and a row per user")
		}
		if u := m.get("unique"); u != nil {
			if u.Tag != "!!bool" {
				return p.errorf(u, "unique is true or false, not %s", kindName(u))
			}
			rows.Unique = u.Value == "true"
		}
	}
	name, err := p.text(fileNode, "data")
	if err != nil {
		return err
	}
	rows.Name = name
	b, err := p.read(name)
	if err != nil {
		return p.errorf(fileNode, "data %s: %v", name, err)
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))))
	records, err := r.ReadAll()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return p.errorf(fileNode, "data %s: line %d: %v", name, pe.Line, pe.Err)
		}
		return p.errorf(fileNode, "data %s: %v", name, err)
	}
	switch {
	case len(records) == 0:
		return p.errorf(fileNode, "data %s is empty; give a header line (e.g. email,password) and a row per user", name)
	case len(records) == 1:
		return p.errorf(fileNode, "data %s has a header line and no rows; add a row per user", name)
	}
	for i, c := range records[0] {
		c = strings.TrimSpace(c)
		if c == "" || strings.ContainsAny(c, "{} ") {
			return p.errorf(fileNode, "data %s: column %d of the header needs a name (letters, digits, _), got %q", name, i+1, c)
		}
		if slices.Contains(rows.Columns, c) {
			return p.errorf(fileNode, "data %s: two columns are named %s", name, c)
		}
		rows.Columns = append(rows.Columns, c)
	}
	rows.Rows = records[1:]
	p.f.Scenario.Data = rows
	return nil
}

func (p *parser) read(name string) ([]byte, error) {
	if p.opt.ReadFile == nil {
		return nil, errors.New("no files can be read beside this scenario")
	}
	b, err := p.opt.ReadFile(name)
	if err != nil {
		return nil, unwrapPath(err)
	}
	return b, nil
}

// unwrapPath drops the path an *fs.PathError repeats.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// vars are the variables a step may use, with the line of the step that
// captures each (0 for a data row's cells).
type vars map[string]int

// flows reads setup:, then steps: or flows:. Variables are checked in the
// file's order: a setup step once per run sees what earlier such steps
// capture; a step of a user also sees its data row and what earlier steps
// of its own capture.
func (p *parser) flows(top *yaml.Node, m fields) error {
	sc := &p.f.Scenario
	runVars, userVars := vars{}, vars{}
	if d := sc.Data; d != nil {
		for _, c := range d.Columns {
			userVars[engine.RowVar(c)] = 0
		}
	}
	if n := m.get("setup"); n != nil {
		items, err := p.list(n, "setup")
		if err != nil {
			return err
		}
		for _, item := range items {
			per, err := p.per(item)
			if err != nil {
				return err
			}
			if per == "user" {
				st, err := p.step(item, setupKeys, userVars, false)
				if err != nil {
					return err
				}
				sc.UserSetup = append(sc.UserSetup, st)
				continue
			}
			st, err := p.step(item, setupKeys, runVars, true)
			if err != nil {
				return err
			}
			for _, c := range st.Capture {
				userVars[c.Var] = runVars[c.Var]
			}
			sc.Setup = append(sc.Setup, st)
		}
	}
	steps, flows := m.get("steps"), m.get("flows")
	switch {
	case steps != nil && flows != nil:
		return p.errorf(keyNode(m, "flows"), "give steps: (one flow) or flows: (several), not both; put the steps in a flow")
	case steps != nil:
		st, err := p.stepList(steps, "steps", maps.Clone(userVars))
		sc.Steps = st
		return err
	case flows != nil:
		return p.flowList(flows, userVars)
	}
	return p.errorf(top, "the scenario has no steps; add steps: with at least one step (name: and url:)")
}

func (p *parser) flowList(n *yaml.Node, known vars) error {
	items, err := p.list(n, "flows")
	if err != nil {
		return err
	}
	names := map[string]int{}
	total := 0
	for _, item := range items {
		m, err := p.mapping(item, flowKeys, "a flow")
		if err != nil {
			return err
		}
		f := engine.Flow{Weight: 1}
		nameNode := m.get("name")
		if nameNode == nil {
			return p.errorf(item, "a flow needs a name:")
		}
		if f.Name, err = p.text(nameNode, "name"); err != nil {
			return err
		}
		if line, ok := names[f.Name]; ok {
			return p.errorf(nameNode, "two flows are named %s (the other at line %d); give each its own name", f.Name, line)
		}
		names[f.Name] = nameNode.Line
		if w := m.get("weight"); w != nil {
			if f.Weight, err = p.integer(w, "weight", 1); err != nil {
				return err
			}
		}
		total += f.Weight
		steps := m.get("steps")
		if steps == nil {
			return p.errorf(item, "flow %s has no steps:", f.Name)
		}
		if f.Steps, err = p.stepList(steps, "steps", maps.Clone(known)); err != nil {
			return err
		}
		p.f.Scenario.Flows = append(p.f.Scenario.Flows, f)
	}
	if total > 10000 {
		return p.errorf(n, "the flows' weights add up to %d; keep them to 10000 or less, e.g. as percentages", total)
	}
	return nil
}

func (p *parser) list(n *yaml.Node, key string) ([]*yaml.Node, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, p.errorf(n, "%s is a list of steps (each starting with -), not %s", key, kindName(n))
	}
	if len(n.Content) == 0 {
		return nil, p.errorf(n, "%s is empty; give at least one", key)
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = resolve(c)
	}
	return out, nil
}

func (p *parser) stepList(n *yaml.Node, key string, known vars) ([]engine.Step, error) {
	items, err := p.list(n, key)
	if err != nil {
		return nil, err
	}
	var out []engine.Step
	for _, item := range items {
		st, err := p.step(item, stepKeys, known, false)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// per reads a setup step's per: run (the default) or user.
func (p *parser) per(item *yaml.Node) (string, error) {
	m, err := p.mapping(item, setupKeys, "a setup step")
	if err != nil {
		return "", err
	}
	n := m.get("per")
	if n == nil {
		return "run", nil
	}
	if n.Value != "run" && n.Value != "user" {
		return "", p.errorf(n, "per is run (once per run, the default) or user (once per virtual user), not %s", kindName(n))
	}
	return n.Value, nil
}

// nearest is the allowed key a mistyped one most likely meant: within
// two edits, or "" when none is that close.
func nearest(key string, allowed []string) string {
	best, bestDist := "", 3
	for _, a := range allowed {
		if d := editDistance(strings.ToLower(key), a); d < bestDist {
			best, bestDist = a, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
