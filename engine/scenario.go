package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Header is one request header line.
type Header struct {
	Key, Value string
}

// ParseHeader reads a "Key: Value" line as given on the command line.
func ParseHeader(line string) (Header, error) {
	k, v, ok := strings.Cut(line, ":")
	k = strings.TrimSpace(k)
	if !ok || k == "" || strings.ContainsAny(k, " \t\r\n") {
		return Header{}, fmt.Errorf("header %q is not of the form 'Key: Value'", line)
	}
	v = strings.TrimSpace(v)
	if strings.ContainsAny(v, "\r\n") {
		return Header{}, fmt.Errorf("header %q holds a line break", line)
	}
	return Header{Key: k, Value: v}, nil
}

// Capture stores a value of a step's answer in a variable that later
// steps use as {{Var}} in their URL, headers, body or checks.
type Capture struct {
	Var string
	// Field is a JSON path into the answer's body: object keys joined by
	// dots, array indexes in brackets, e.g. "access", "data.token" or
	// "items[0].id".
	Field string
	// Header, given instead of Field, names a response header (in any
	// case) whose value is captured.
	Header string
}

// FieldCheck requires a JSON field in a step's answer.
type FieldCheck struct {
	Path string // a JSON path, as Capture.Field
	Kind string // "" for any value, else one of JSONKinds()
}

// Think is a pause drawn uniformly from Min to Max each time; Min == Max
// is a fixed pause.
type Think struct {
	Min, Max time.Duration
}

// Step is one request of a scenario.
type Step struct {
	// Name labels the step's series in snapshots and CSV rows.
	Name   string
	Method string // GET when empty
	// URL is absolute (http or https); it, Header values, Body and
	// Contains may hold {{var}} references to captured variables and,
	// with data rows, {{row.COLUMN}}.
	URL    string
	Header []Header
	Body   string
	// BodyJSON says Body is JSON text: a {{var}} inside it is replaced
	// by its value escaped for a JSON string.
	BodyJSON bool
	// Expect is the status a response must have to pass the step's check;
	// 0 accepts any status below 400.
	Expect int
	// Statuses, when set, are the statuses that pass, in place of Expect.
	Statuses []int
	// Contains, when set, must appear in the answer's body.
	Contains string
	// Fields are JSON fields the answer must hold.
	Fields []FieldCheck
	// Check names the step's check as counted in the summary, e.g.
	// "status was 200". Empty means the step has no named check, but a
	// status outside Expect still fails the request.
	Check   string
	Capture []Capture
	// Think pauses the user after the step.
	Think Think
}

// Flow is one path through a service: a list of steps a user repeats.
// The users of a scenario with several flows share them in proportion to
// their weights.
type Flow struct {
	Name   string
	Weight int // 1 or more
	Steps  []Step
}

// Rows are data for the users: each user takes a row when it starts, and
// its steps use the row's cells as {{row.COLUMN}}.
type Rows struct {
	Name    string // where the rows came from, for messages
	Columns []string
	Rows    [][]string
	// Unique gives each row to one user only; users that find none left
	// do not run. Otherwise users beyond the last row start again at the
	// first.
	Unique bool
}

// Scenario is what every virtual user does: Setup once before the load
// (its captures are shared by all users); UserSetup once per user before
// its first iteration (retried at its next iteration until it passes);
// then the steps of its flow in order, repeatedly.
type Scenario struct {
	Setup     []Step
	UserSetup []Step
	// Steps are the one flow, or Flows several; not both.
	Steps []Step
	Flows []Flow
	Data  *Rows
}

// flows lists the scenario's flows: Steps as one flow when Flows is empty.
func (s Scenario) flows() []Flow {
	if len(s.Flows) > 0 {
		return s.Flows
	}
	return []Flow{{Weight: 1, Steps: s.Steps}}
}

// RowVar is the variable a data row's cell is known by in templates.
func RowVar(column string) string { return "row." + column }

// Validate reports the first problem that would stop the scenario from
// running, phrased for the person who wrote it.
func (s Scenario) Validate() error {
	if len(s.Steps) > 0 && len(s.Flows) > 0 {
		return errors.New("scenario has both steps and flows; put the steps in a flow")
	}
	flows := s.flows()
	n := len(s.Setup) + len(s.UserSetup)
	for _, f := range flows {
		if len(f.Steps) == 0 {
			if f.Name == "" {
				return errors.New("scenario has no steps")
			}
			return fmt.Errorf("flow %s has no steps", f.Name)
		}
		if f.Weight < 1 {
			return fmt.Errorf("flow %s has weight %d; weights are whole numbers from 1", f.Name, f.Weight)
		}
		n += len(f.Steps)
	}
	if n > maxSteps {
		return fmt.Errorf("scenario has %d steps; at most %d are supported", n, maxSteps)
	}
	if _, err := flowCycle(flows); err != nil {
		return err
	}
	if err := s.Data.validate(); err != nil {
		return err
	}
	seen := map[string]bool{}
	check := func(where string, st Step, known map[string]bool) error {
		if st.Name == "" {
			return fmt.Errorf("%s has no name", where)
		}
		if st.Name == AllSeries {
			return fmt.Errorf("%s: the name %q is reserved for the total", where, AllSeries)
		}
		if seen[st.Name] {
			return fmt.Errorf("two steps are named %q; give each step its own name", st.Name)
		}
		seen[st.Name] = true
		if err := st.validate(known); err != nil {
			return fmt.Errorf("step %s: %w", st.Name, err)
		}
		return nil
	}
	known := map[string]bool{}
	for _, st := range s.Setup {
		if err := check("a setup step", st, known); err != nil {
			return err
		}
	}
	if s.Data != nil {
		for _, c := range s.Data.Columns {
			known[RowVar(c)] = true
		}
	}
	for _, st := range s.UserSetup {
		if err := check("a setup step", st, known); err != nil {
			return err
		}
	}
	for _, f := range flows {
		inFlow := maps.Clone(known)
		for _, st := range f.Steps {
			if err := check("a step", st, inFlow); err != nil {
				return err
			}
		}
	}
	return nil
}

// validate checks one step, given the variables earlier steps capture,
// and adds its own captures to known.
func (st Step) validate(known map[string]bool) error {
	if err := CheckURL(st.URL); err != nil {
		return err
	}
	for _, part := range append([]string{st.URL, st.Body, st.Contains}, headerValues(st.Header)...) {
		for _, v := range TemplateVars(part) {
			if !known[v] {
				if strings.HasPrefix(v, "row.") {
					return fmt.Errorf("uses {{%s}}, which no data row has here (rows are the users': a setup step once per run has none)", v)
				}
				return fmt.Errorf("uses {{%s}}, which no earlier step captures", v)
			}
		}
	}
	for _, code := range append([]int{st.Expect}, st.Statuses...) {
		if code != 0 && (code < 100 || code > 599) {
			return fmt.Errorf("status %d is not an HTTP status (100..599)", code)
		}
	}
	if st.Think.Min < 0 || st.Think.Max < st.Think.Min {
		return fmt.Errorf("think %s..%s is not a range from 0 up", st.Think.Min, st.Think.Max)
	}
	for _, f := range st.Fields {
		if _, err := parseJSONPath(f.Path); err != nil {
			return err
		}
		if f.Kind != "" && !slices.Contains(jsonKinds, f.Kind) {
			return fmt.Errorf("JSON field %s: %q is not a JSON type (%s)", f.Path, f.Kind, strings.Join(jsonKinds, ", "))
		}
	}
	for _, c := range st.Capture {
		if c.Var == "" || (c.Field == "") == (c.Header == "") {
			return errors.New("a capture needs a variable and either a JSON field or a header")
		}
		if c.Field != "" {
			if _, err := parseJSONPath(c.Field); err != nil {
				return err
			}
		}
		known[c.Var] = true
	}
	return nil
}

func (r *Rows) validate() error {
	if r == nil {
		return nil
	}
	if len(r.Columns) == 0 || len(r.Rows) == 0 {
		return fmt.Errorf("data %s has no rows; give a header line and a row per user", r.Name)
	}
	for i, c := range r.Columns {
		if c == "" || slices.Contains(r.Columns[:i], c) {
			return fmt.Errorf("data %s: column %d needs a name of its own", r.Name, i+1)
		}
	}
	for i, row := range r.Rows {
		if len(row) != len(r.Columns) {
			return fmt.Errorf("data %s: row %d has %d cells for %d columns", r.Name, i+1, len(row), len(r.Columns))
		}
	}
	return nil
}

// maxFlowCycle bounds the flows' weights (after dividing by their common
// divisor): the users are dealt flows from a table this long.
const maxFlowCycle = 10000

// flowCycle deals flows in proportion to their weights, spread evenly (the
// smooth weighted round robin): entry k of the result is the flow of the
// k-th user, or of the k-th iteration in the open model.
func flowCycle(flows []Flow) ([]uint8, error) {
	g := 0
	for _, f := range flows {
		g = gcd(g, f.Weight)
	}
	total := 0
	for _, f := range flows {
		total += f.Weight / g
	}
	if total > maxFlowCycle {
		return nil, fmt.Errorf("the flows' weights add up to %d; keep them to %d or less, e.g. as percentages", total, maxFlowCycle)
	}
	cycle := make([]uint8, total)
	current := make([]int, len(flows))
	for k := range cycle {
		best := 0
		for i, f := range flows {
			current[i] += f.Weight / g
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		cycle[k] = uint8(best)
	}
	return cycle, nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// maxSteps bounds a scenario so a sample can carry its step in one byte.
const maxSteps = 255

// CheckURL checks that a step's URL, {{var}} references aside, is an
// absolute http or https URL with a host and a valid port.
func CheckURL(raw string) error {
	u, err := url.Parse(templateStub(raw))
	if err != nil {
		return fmt.Errorf("URL %q does not parse: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("URL %q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("URL %q has no host", raw)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("URL %q: port %s is not a TCP port (1..65535)", raw, p)
		}
	}
	return nil
}

func headerValues(hs []Header) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Value
	}
	return out
}

// TemplateVars lists the {{var}} names in s, in order.
func TemplateVars(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			return out
		}
		j := strings.Index(s[i+2:], "}}")
		if j < 0 {
			return out
		}
		out = append(out, strings.TrimSpace(s[i+2:i+2+j]))
		s = s[i+2+j+2:]
	}
}

// expand replaces every {{var}} in s with its value in vars.
func expand(s string, vars map[string]string) string {
	return expandWith(s, vars, func(v string) string { return v })
}

// expandJSON is expand for JSON text: each value is escaped as the
// content of a JSON string, which is where a {{var}} of a JSON body sits.
func expandJSON(s string, vars map[string]string) string {
	return expandWith(s, vars, func(v string) string {
		b, _ := json.Marshal(v) // a string always marshals
		return string(b[1 : len(b)-1])
	})
}

func expandWith(s string, vars map[string]string, value func(string) string) string {
	if !strings.Contains(s, "{{") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			break
		}
		j := strings.Index(s[i+2:], "}}")
		if j < 0 {
			break
		}
		b.WriteString(s[:i])
		b.WriteString(value(vars[strings.TrimSpace(s[i+2:i+2+j])]))
		s = s[i+2+j+2:]
	}
	b.WriteString(s)
	return b.String()
}

// templateStub fills variables with a placeholder so a templated URL can be
// checked for shape before any variable has a value.
func templateStub(s string) string {
	vars := map[string]string{}
	for _, v := range TemplateVars(s) {
		vars[v] = "x"
	}
	return expand(s, vars)
}

func (st Step) usesVars() bool {
	if strings.Contains(st.URL, "{{") || strings.Contains(st.Body, "{{") {
		return true
	}
	for _, h := range st.Header {
		if strings.Contains(h.Value, "{{") {
			return true
		}
	}
	return false
}

// Closed is the closed arrival model: VUs virtual users, each running the
// scenario's steps back to back and pausing Think between iterations, as
// k6's looping users with a sleep. The target's latency sets the rate.
type Closed struct {
	VUs   int
	Think time.Duration
}

// Open is the open arrival model: requests start at Rate per second
// whatever the target does. Latency counts from each request's intended
// start, so a stalled target shows in the percentiles instead of silently
// slowing the generator down.
type Open struct {
	Rate float64
	// MaxInFlight caps the requests outstanding at once (and so the
	// connections); 0 means DefaultMaxInFlight.
	MaxInFlight int
}

// Max keeps Conns connections busy, each sending its next request as soon
// as the previous answer arrives.
type Max struct {
	Conns int
}

// Model is one of Closed, Open or Max.
type Model interface {
	validate() error
	String() string
}

// DefaultMaxInFlight is the open model's default cap on outstanding requests.
const DefaultMaxInFlight = 10000

func (m Closed) validate() error {
	if m.VUs < 1 {
		return fmt.Errorf("virtual users must be at least 1, got %d", m.VUs)
	}
	if m.Think < 0 {
		return fmt.Errorf("think time must not be negative, got %s", m.Think)
	}
	return nil
}

func (m Open) validate() error {
	if !(m.Rate > 0) {
		return fmt.Errorf("rate must be above 0 requests/s, got %g", m.Rate)
	}
	if m.MaxInFlight < 0 {
		return fmt.Errorf("max in-flight must not be negative, got %d", m.MaxInFlight)
	}
	return nil
}

func (m Max) validate() error {
	if m.Conns < 1 {
		return fmt.Errorf("connections must be at least 1, got %d", m.Conns)
	}
	return nil
}

func (m Closed) String() string {
	return fmt.Sprintf("closed, %d VUs, think %s", m.VUs, m.Think)
}
func (m Open) String() string { return fmt.Sprintf("open, %g req/s", m.Rate) }
func (m Max) String() string  { return fmt.Sprintf("max, %d connections", m.Conns) }
