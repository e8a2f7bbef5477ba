package scenariofile

import (
	"maps"

	"go.yaml.in/yaml/v3"

	"perflab/engine"
)

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
