package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// A step's answer passes when its status is one the step accepts, its
// body holds the text the step looks for and the JSON fields it names,
// and every value it captures is there. A worker checks in that order and
// notes in why the first check that failed, as a number, so checking
// costs no allocation; failure turns the number into words for the dry
// run and for a setup step that failed.
const (
	passed       = -1
	failedStatus = 0
	failedBody   = 1
	// failedField+k is the step's JSON field k; failedField+len(Fields)+k
	// its capture k.
	failedField = 2
)

// statusOutcome classifies an answer by its status and what the step
// accepts.
func (st *Step) statusOutcome(status int) Outcome {
	if len(st.Statuses) == 0 {
		return statusOutcome(status, st.Expect)
	}
	switch {
	case slices.Contains(st.Statuses, status):
		return OutcomeOK
	case status >= 400:
		return OutcomeStatus
	}
	return OutcomeCheck
}

// checkBody holds the answer to the step's text and JSON field checks.
func (w *worker) checkBody(ss *stepState) bool {
	r := ss.r
	if r.step.Contains != "" && !bytes.Contains(w.resp.Body(), w.contains(ss)) {
		w.why = failedBody
		return false
	}
	if len(r.fields) == 0 {
		return true
	}
	body := w.resp.Body()
	valid := json.Valid(body)
	for k, p := range r.fields {
		v, ok := p.lookup(body)
		if !valid || !ok || (r.step.Fields[k].Kind != "" && jsonKind(v) != r.step.Fields[k].Kind) {
			w.why = failedField + k
			return false
		}
	}
	return true
}

// contains returns the body check's text, expanding its variables only
// when one has changed.
func (w *worker) contains(ss *stepState) []byte {
	if ss.r.contains != nil {
		return ss.r.contains
	}
	if ss.containsBuilt != w.version {
		ss.contains = []byte(expand(ss.r.step.Contains, w.vars))
		ss.containsBuilt = w.version
	}
	return ss.contains
}

// capture stores the step's captures in the worker's variables; it
// reports false at the first one the answer lacks. A value that did not
// change costs no allocation.
func (w *worker) capture(ss *stepState) bool {
	st := &ss.r.step
	body := w.resp.Body()
	valid := -1
	for k, c := range st.Capture {
		var v []byte
		ok := false
		if c.Header != "" {
			v, ok = w.header(c.Header)
		} else {
			if valid < 0 {
				valid = 0
				if json.Valid(body) {
					valid = 1
				}
			}
			if valid == 1 {
				if v, ok = ss.r.captures[k].lookup(body); ok {
					v, ok = jsonText(v)
				}
			}
		}
		if !ok {
			w.why = failedField + len(st.Fields) + k
			return false
		}
		if old, had := w.vars[c.Var]; !had || old != string(v) {
			w.vars[c.Var] = string(v)
			w.version++
		}
	}
	return true
}

// header returns the answer's header of that name, in any case.
func (w *worker) header(name string) ([]byte, bool) {
	for k, v := range w.resp.Header.All() {
		if strings.EqualFold(string(k), name) {
			return v, true
		}
	}
	return nil, false
}

// failure says in words what went wrong with step i's last request,
// whose sample is s.
func (w *worker) failure(i int, s sample) string {
	st := &w.g.steps[i]
	if s.outcome != OutcomeOK && s.outcome != OutcomeStatus && s.outcome != OutcomeCheck {
		return s.outcome.String()
	}
	body := w.resp.Body()
	switch k := w.why; {
	case k == passed:
		return ""
	case k == failedStatus:
		return fmt.Sprintf("status %d, expected %s", s.status, st.expectedStatus())
	case k == failedBody:
		return fmt.Sprintf("the body does not contain %q", expand(st.Contains, w.vars))
	case k-failedField < len(st.Fields):
		f := st.Fields[k-failedField]
		if !json.Valid(body) {
			return fmt.Sprintf("JSON field %s: the body is not JSON", f.Path)
		}
		p, _ := parseJSONPath(f.Path)
		v, ok := p.lookup(body)
		if !ok {
			return fmt.Sprintf("the body has no JSON field %s", f.Path)
		}
		return fmt.Sprintf("JSON field %s is %s %s, not %s %s", f.Path, article(jsonKind(v)), jsonKind(v), article(f.Kind), f.Kind)
	default:
		c := st.Capture[k-failedField-len(st.Fields)]
		if c.Header != "" {
			return fmt.Sprintf("the answer has no header %s to capture as {{%s}}", c.Header, c.Var)
		}
		if !json.Valid(body) {
			return fmt.Sprintf("the body is not JSON, so it has no field %s to capture as {{%s}}", c.Field, c.Var)
		}
		return fmt.Sprintf("the body has no JSON field %s to capture as {{%s}} (or it is null)", c.Field, c.Var)
	}
}

// expectedStatus says which statuses pass the step.
func (st *Step) expectedStatus() string {
	codes := st.Statuses
	if len(codes) == 0 && st.Expect != 0 {
		codes = []int{st.Expect}
	}
	switch len(codes) {
	case 0:
		return "a status below 400"
	case 1:
		return "status " + strconv.Itoa(codes[0])
	}
	words := make([]string, len(codes))
	for i, c := range codes {
		words[i] = strconv.Itoa(c)
	}
	return "one of statuses " + strings.Join(words, ", ")
}

func article(kind string) string {
	if kind == "array" || kind == "object" {
		return "an"
	}
	return "a"
}

// checkName names what a step checks, as the summary counts it: its own
// Check name, else the captures it must make ("captured access"); "" when
// it checks nothing.
func (st *Step) checkName() string {
	if st.Check != "" || len(st.Capture) == 0 {
		return st.Check
	}
	vars := make([]string, len(st.Capture))
	for i, c := range st.Capture {
		vars[i] = c.Var
	}
	return "captured " + strings.Join(vars, ", ")
}
