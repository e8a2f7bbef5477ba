package engine

import (
	"errors"
	"fmt"
	"net/url"
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

// Capture stores a field of a JSON response body in a variable that later
// steps use as {{Var}} in their URL, headers or body.
type Capture struct {
	Var string
	// Field is a dotted path into a JSON object, e.g. "access" or "data.token".
	Field string
}

// Step is one request of a scenario.
type Step struct {
	// Name labels the step's series in snapshots and CSV rows.
	Name   string
	Method string // GET when empty
	// URL is absolute (http or https); it, Header values and Body may hold
	// {{var}} references to captured variables.
	URL    string
	Header []Header
	Body   string
	// Expect is the status a response must have to pass the step's check;
	// 0 accepts any status below 400.
	Expect int
	// Check names the step's check as counted in the summary, e.g.
	// "status was 200". Empty means the step has no named check, but a
	// status outside Expect still fails the request.
	Check   string
	Capture []Capture
}

// Scenario is what every virtual user does: Setup once before the load
// (its captures are shared by all users), then Steps in order, repeatedly.
type Scenario struct {
	Setup []Step
	Steps []Step
}

// Validate reports the first problem that would stop the scenario from
// running, phrased for the person who wrote it.
func (s Scenario) Validate() error {
	if len(s.Steps) == 0 {
		return errors.New("scenario has no steps")
	}
	if n := len(s.Setup) + len(s.Steps); n > maxSteps {
		return fmt.Errorf("scenario has %d steps; at most %d are supported", n, maxSteps)
	}
	known := map[string]bool{}
	seen := map[string]bool{}
	check := func(where string, st Step) error {
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
		if err := checkURL(st.URL); err != nil {
			return fmt.Errorf("step %s: %w", st.Name, err)
		}
		for _, part := range append([]string{st.URL, st.Body}, headerValues(st.Header)...) {
			for _, v := range templateVars(part) {
				if !known[v] {
					return fmt.Errorf("step %s uses {{%s}}, which no earlier step captures", st.Name, v)
				}
			}
		}
		for _, c := range st.Capture {
			if c.Var == "" || c.Field == "" {
				return fmt.Errorf("step %s: a capture needs a variable and a JSON field", st.Name)
			}
			known[c.Var] = true
		}
		return nil
	}
	for _, st := range s.Setup {
		if err := check("a setup step", st); err != nil {
			return err
		}
	}
	for _, st := range s.Steps {
		if err := check("a step", st); err != nil {
			return err
		}
	}
	return nil
}

// maxSteps bounds a scenario so a sample can carry its step in one byte.
const maxSteps = 255

func checkURL(raw string) error {
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

// templateVars lists the {{var}} names in s, in order.
func templateVars(s string) []string {
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
		b.WriteString(vars[strings.TrimSpace(s[i+2:i+2+j])])
		s = s[i+2+j+2:]
	}
	b.WriteString(s)
	return b.String()
}

// templateStub fills variables with a placeholder so a templated URL can be
// checked for shape before any variable has a value.
func templateStub(s string) string {
	vars := map[string]string{}
	for _, v := range templateVars(s) {
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
