package scenariofile

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io/fs"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"perflab/engine"
)

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
