package scenariofile

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"perflab/engine"
	"perflab/engine/threshold"
)

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
