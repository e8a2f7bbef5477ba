package scenariofile

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"perflab/engine"
)

// maxSteps is how many steps a scenario may hold (the engine's bound).
const maxSteps = 255

// use is a text that may hold {{var}}, and where it is.
type use struct {
	text string
	at   *yaml.Node
}

// step reads one step. known are the variables it may use; its own
// captures are added to them once it is read. runSetup says the step runs
// once per run, when no user (and so no data row) exists.
func (p *parser) step(item *yaml.Node, keys []string, known vars, runSetup bool) (engine.Step, error) {
	what := "a step"
	if slices.Contains(keys, "per") {
		what = "a setup step"
	}
	m, err := p.mapping(item, keys, what)
	if err != nil {
		return engine.Step{}, err
	}
	st, err := p.stepName(item, m, what)
	if err != nil {
		return st, err
	}
	uses, err := p.request(item, m, &st)
	if err != nil {
		return st, err
	}
	if n := m.get("check"); n != nil {
		checkUses, err := p.check(n, &st)
		if err != nil {
			return st, err
		}
		uses = append(uses, checkUses...)
	}
	if n := m.get("think"); n != nil {
		if st.Think, err = p.think(n); err != nil {
			return st, err
		}
	}
	for _, u := range uses {
		if err := p.known(u, known, runSetup); err != nil {
			return st, err
		}
	}
	if n := m.get("capture"); n != nil {
		if err := p.capture(n, &st, known); err != nil {
			return st, err
		}
	}
	st.Check = checkName(st)
	return st, nil
}

// stepName reads a step's name, which must be new: it names a series.
func (p *parser) stepName(item *yaml.Node, m fields, what string) (engine.Step, error) {
	var st engine.Step
	p.steps++
	if p.steps > maxSteps {
		return st, p.errorf(item, "a scenario holds at most %d steps", maxSteps)
	}
	n := m.get("name")
	if n == nil {
		return st, p.errorf(item, "%s has no name:; give it one (it names the step's series in the CSV and the summary)", what)
	}
	var err error
	if st.Name, err = p.text(n, "name"); err != nil {
		return st, err
	}
	if st.Name == engine.AllSeries {
		return st, p.errorf(n, "the name %q is the total of every step; give the step another", st.Name)
	}
	if line, ok := p.names[st.Name]; ok {
		return st, p.errorf(n, "two steps are named %s (the other at line %d); give each its own name", st.Name, line)
	}
	p.names[st.Name] = n.Line
	return st, nil
}

// request reads what a step sends: method, url, headers and body. It
// returns the texts that may hold {{var}}.
func (p *parser) request(item *yaml.Node, m fields, st *engine.Step) ([]use, error) {
	var err error
	if n := m.get("method"); n != nil {
		if st.Method, err = p.text(n, "method"); err != nil {
			return nil, err
		}
		st.Method = strings.ToUpper(st.Method)
		if strings.ContainsAny(st.Method, " \t\r\n:/{}") {
			return nil, p.errorf(n, "method %q is not an HTTP method (GET, POST, PUT, ...)", st.Method)
		}
	}
	urlNode := m.get("url")
	if urlNode == nil {
		return nil, p.errorf(item, "step %s has no url:; give one, absolute or relative to the base URL", st.Name)
	}
	if st.URL, err = p.url(urlNode); err != nil {
		return nil, err
	}
	uses := []use{{urlNode.Value, urlNode}}
	if n := m.get("headers"); n != nil {
		hm, err := p.anyMapping(n, "headers", "header names and values, e.g. Authorization: Bearer {{access}}")
		if err != nil {
			return nil, err
		}
		for i := 0; i < len(hm); i += 2 {
			k, v := hm[i], hm[i+1]
			if v.Kind != yaml.ScalarNode {
				return nil, p.errorf(v, "header %s needs a text value, not %s", k.Value, kindName(v))
			}
			h, err := engine.ParseHeader(k.Value + ": " + v.Value)
			if err != nil {
				return nil, p.errorf(k, "%v", err)
			}
			st.Header = append(st.Header, h)
			uses = append(uses, use{v.Value, v})
		}
	}
	if n := m.get("body"); n != nil {
		bodyUses, err := p.body(n, st)
		if err != nil {
			return nil, err
		}
		uses = append(uses, bodyUses...)
	}
	return uses, nil
}

// known checks that every {{var}} of u is one the step may use.
func (p *parser) known(u use, known vars, runSetup bool) error {
	for _, v := range engine.TemplateVars(u.text) {
		if _, ok := known[v]; ok {
			continue
		}
		col, isRow := strings.CutPrefix(v, "row.")
		data := p.f.Scenario.Data
		switch {
		case isRow && data == nil:
			return p.errorf(u.at, "{{%s}} is a cell of a data row, and the scenario has no data:; add data: users.csv (a CSV file with a column %s)", v, col)
		case isRow && !slices.Contains(data.Columns, col):
			return p.errorf(u.at, "{{%s}}: data %s has no column %s (its columns: %s)", v, data.Name, col, strings.Join(data.Columns, ", "))
		case isRow && runSetup:
			return p.errorf(u.at, "{{%s}}: this setup step runs once per run, before any user has a row; add per: user to run it once per user", v)
		}
		return p.errorf(u.at, "{{%s}} is never captured before this step; capture it in an earlier step (capture: {%s: FIELD}) or fix the name", v, v)
	}
	return nil
}

// url reads a step's URL, joining a relative one to the base.
func (p *parser) url(n *yaml.Node) (string, error) {
	s, err := p.text(n, "url")
	if err != nil {
		return "", err
	}
	if !strings.Contains(s, "://") {
		if p.f.Base == "" {
			return "", p.errorf(n, "url %s is relative and there is no base URL; give --url BASE, or base: in the file", s)
		}
		s = strings.TrimSuffix(p.f.Base, "/") + "/" + strings.TrimPrefix(s, "/")
	}
	if err := engine.CheckURL(s); err != nil {
		return "", p.errorf(n, "url: %v", strings.TrimPrefix(err.Error(), "URL "))
	}
	return s, nil
}

// anyMapping returns a mapping's key and value nodes, alternating.
func (p *parser) anyMapping(n *yaml.Node, key, want string) ([]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, p.errorf(n, "%s is a mapping of %s, not %s", key, want, kindName(n))
	}
	seen := map[string]int{}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		c = resolve(c)
		out[i] = c
		if i%2 == 1 {
			continue
		}
		if c.Kind != yaml.ScalarNode {
			return nil, p.errorf(c, "%s has a key that is not text", key)
		}
		if line, ok := seen[c.Value]; ok {
			return nil, p.errorf(c, "%s: %s is given twice (first at line %d); keep one", key, c.Value, line)
		}
		seen[c.Value] = c.Line
	}
	return out, nil
}

// body reads a step's body: text, @file, or a mapping or list sent as JSON.
func (p *parser) body(n *yaml.Node, st *engine.Step) ([]use, error) {
	if n.Kind == yaml.ScalarNode {
		// YAML cannot start plain text with @, so "@file" is quoted.
		if name, ok := strings.CutPrefix(n.Value, "@"); ok && n.Tag == "!!str" {
			b, err := p.read(name)
			if err != nil {
				return nil, p.errorf(n, "body @%s: %v", name, err)
			}
			st.Body = string(b)
			return []use{{st.Body, n}}, nil
		}
		st.Body = n.Value
		return []use{{n.Value, n}}, nil
	}
	var b strings.Builder
	var uses []use
	if err := p.writeJSON(&b, n, &uses); err != nil {
		return nil, err
	}
	st.Body, st.BodyJSON = b.String(), true
	return uses, nil
}

// writeJSON writes a YAML value as JSON, keys in the file's order.
func (p *parser) writeJSON(b *strings.Builder, n *yaml.Node, uses *[]use) error {
	n = resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			k := resolve(n.Content[i])
			if k.Kind != yaml.ScalarNode {
				return p.errorf(k, "body: a JSON key must be text")
			}
			writeString(b, k.Value)
			*uses = append(*uses, use{k.Value, k})
			b.WriteByte(':')
			if err := p.writeJSON(b, n.Content[i+1], uses); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := p.writeJSON(b, c, uses); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			b.WriteString("null")
		case "!!bool", "!!int", "!!float":
			var v any
			if err := n.Decode(&v); err != nil {
				return p.errorf(n, "body: %v", err)
			}
			j, err := json.Marshal(v)
			if err != nil {
				return p.errorf(n, "body: %s has no JSON form (%v); quote it to send it as text", n.Value, err)
			}
			b.Write(j)
		default:
			writeString(b, n.Value)
			*uses = append(*uses, use{n.Value, n})
		}
	default:
		return p.errorf(n, "body: %s has no JSON form", kindName(n))
	}
	return nil
}

func writeString(b *strings.Builder, s string) {
	j, _ := json.Marshal(s) // a string always marshals
	b.Write(j)
}

// check reads a step's check: status, contains, json.
func (p *parser) check(n *yaml.Node, st *engine.Step) ([]use, error) {
	m, err := p.mapping(n, checkKeys, "check")
	if err != nil {
		return nil, err
	}
	var uses []use
	if s := m.get("status"); s != nil {
		items := []*yaml.Node{s}
		if s.Kind == yaml.SequenceNode {
			items = s.Content
		}
		if len(items) == 0 {
			return nil, p.errorf(s, "status is empty; give a status or a list, e.g. 200 or [200, 201]")
		}
		for _, item := range items {
			item = resolve(item)
			code, err := strconv.Atoi(item.Value)
			if item.Kind != yaml.ScalarNode || err != nil || code < 100 || code > 599 {
				return nil, p.errorf(item, "status %s is not an HTTP status (100..599); give one or a list, e.g. [200, 201]", kindName(item))
			}
			st.Statuses = append(st.Statuses, code)
		}
	}
	if c := m.get("contains"); c != nil {
		if st.Contains, err = p.text(c, "contains"); err != nil {
			return nil, err
		}
		uses = append(uses, use{st.Contains, c})
	}
	if j := m.get("json"); j != nil {
		jm, err := p.anyMapping(j, "json", "JSON fields and what they must be, e.g. access: string (present, string, number, boolean, object, array or null)")
		if err != nil {
			return nil, err
		}
		kinds := append([]string{"present"}, engine.JSONKinds()...)
		for i := 0; i < len(jm); i += 2 {
			k, v := jm[i], jm[i+1]
			if err := engine.ParseJSONPath(k.Value); err != nil {
				return nil, p.errorf(k, "json: %v", err)
			}
			if v.Kind != yaml.ScalarNode || !slices.Contains(kinds, v.Value) {
				return nil, p.errorf(v, "json %s: %s is not one of %s", k.Value, kindName(v), strings.Join(kinds, ", "))
			}
			kind := v.Value
			if kind == "present" {
				kind = ""
			}
			st.Fields = append(st.Fields, engine.FieldCheck{Path: k.Value, Kind: kind})
		}
	}
	return uses, nil
}

// capture reads a step's captures: VAR: PATH, VAR: {json: PATH} or
// VAR: {header: NAME}.
func (p *parser) capture(n *yaml.Node, st *engine.Step, known vars) error {
	cm, err := p.anyMapping(n, "capture", "variables and where to find them, e.g. access: access or token: {header: X-Token}")
	if err != nil {
		return err
	}
	for i := 0; i < len(cm); i += 2 {
		k, v := cm[i], cm[i+1]
		name := k.Value
		if name == "" || strings.HasPrefix(name, "row.") || strings.ContainsAny(name, "{} \t") {
			return p.errorf(k, "capture: %q cannot name a variable (row. is for data rows; no spaces or braces)", name)
		}
		c := engine.Capture{Var: name}
		source := v
		switch v.Kind {
		case yaml.ScalarNode:
			c.Field = v.Value
		case yaml.MappingNode:
			m, err := p.mapping(v, captureKeys, "capture "+name)
			if err != nil {
				return err
			}
			if len(m.keys) != 1 {
				return p.errorf(v, "capture %s takes one of json: PATH or header: NAME", name)
			}
			source = m.get(m.keys[0].Value)
			if source.Kind != yaml.ScalarNode {
				return p.errorf(source, "capture %s: %s needs text, not %s", name, m.keys[0].Value, kindName(source))
			}
			if m.keys[0].Value == "header" {
				if c.Header = strings.TrimSpace(source.Value); c.Header == "" {
					return p.errorf(source, "capture %s: header needs the name of a response header", name)
				}
			} else {
				c.Field = source.Value
			}
		default:
			return p.errorf(v, "capture %s takes a JSON path (e.g. access or items[0].id) or {header: NAME}, not %s", name, kindName(v))
		}
		if c.Header == "" {
			if err := engine.ParseJSONPath(c.Field); err != nil {
				return p.errorf(source, "capture %s: %v", name, err)
			}
		}
		st.Capture = append(st.Capture, c)
		known[name] = k.Line
	}
	return nil
}

// checkName names a step's check as the summary counts it, from what it
// checks: "status 200, access is a string, captured access".
func checkName(st engine.Step) string {
	var parts []string
	switch len(st.Statuses) {
	case 0:
	case 1:
		parts = append(parts, fmt.Sprintf("status %d", st.Statuses[0]))
	default:
		codes := make([]string, len(st.Statuses))
		for i, c := range st.Statuses {
			codes[i] = strconv.Itoa(c)
		}
		parts = append(parts, "status "+strings.Join(codes, "|"))
	}
	if st.Contains != "" {
		text := st.Contains
		if r := []rune(text); len(r) > 30 {
			text = string(r[:29]) + "…"
		}
		parts = append(parts, fmt.Sprintf("body contains %q", text))
	}
	for _, f := range st.Fields {
		if f.Kind == "" {
			parts = append(parts, f.Path+" present")
		} else {
			parts = append(parts, f.Path+" is "+f.Kind)
		}
	}
	if len(st.Capture) > 0 {
		vars := make([]string, len(st.Capture))
		for i, c := range st.Capture {
			vars[i] = c.Var
		}
		parts = append(parts, "captured "+strings.Join(vars, ", "))
	}
	return strings.Join(parts, ", ")
}
