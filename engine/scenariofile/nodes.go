package scenariofile

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"perflab/engine"
)

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

func keyNode(m fields, key string) *yaml.Node {
	for _, k := range m.keys {
		if k.Value == key {
			return k
		}
	}
	return nil
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
