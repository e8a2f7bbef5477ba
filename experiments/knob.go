package experiments

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"perflab/server"
)

// Knob is one setting of the twin, declared once in the knob table
// (knobs.go). Everything that names a knob is derived from its entry: the
// flags of the main command and of `perflab serve`, validation and its
// errors, the CSV column, run labels, the dashboard's knob panel and help
// line. Adding a knob is one entry here and the server's own field.
type Knob struct {
	Name string // flag name, settings key and --sweep name
	// Key is the dashboard key that steps the knob (upper case steps
	// back). A knob without a key is set when the twin starts: it is not
	// swept, not changed live and not in run descriptions.
	Key string
	// Values are the allowed values in stepping order; nil means any value
	// Check accepts. With both, Check sees every value and may accept
	// more than Values lists (a URL beside the named values).
	Values  []string
	Default string
	// Placeholder names a value in flag help when there are no Values.
	Placeholder string
	// Title is a short noun phrase for flag help, e.g. "worker processes".
	Title string
	// Help explains the knob in a sentence, on the dashboard.
	Help string
	// Column is the knob's CSV column; "" when runs are not labelled by it.
	Column string
	// Experiments names the experiments that have the knob.
	Experiments []string
	// Check validates a value: any value of a knob without Values, and
	// with Values, the listed ones and any other it accepts.
	Check func(value string) error
	// Apply sets the twin's field from a valid value.
	Apply func(c *server.Config, value string)
}

// Live reports whether the knob changes while the twin runs: it can be
// stepped on the dashboard, swept and changed between runs.
func (k *Knob) Live() bool { return k.Key != "" }

// Validate reports whether value is allowed, naming the flag and the
// allowed values.
func (k *Knob) Validate(value string) error {
	if k.Values != nil && !slices.Contains(k.Values, value) && k.Check == nil {
		return fmt.Errorf("--%s %s is not allowed; use one of %s", k.Name, value, k.ValuesText())
	}
	if k.Check != nil {
		return k.Check(value)
	}
	return nil
}

// ValuesText lists the allowed values, a numeric run compressed to 1..16.
func (k *Knob) ValuesText() string {
	vs := k.Values
	if k.numeric() {
		return vs[0] + ".." + vs[len(vs)-1]
	}
	return strings.Join(vs, ", ")
}

// numeric reports whether the values are the run 1..n.
func (k *Knob) numeric() bool {
	if len(k.Values) == 0 {
		return false
	}
	for i, v := range k.Values {
		if v != strconv.Itoa(i+1) {
			return false
		}
	}
	return true
}

// FlagUsage is the flag's help text, its placeholder in backquotes as the
// flag package expects: "worker processes, `N` in 1..16 (default 1)".
func (k *Knob) FlagUsage() string {
	var values string
	switch {
	case k.numeric():
		values = "`N` in " + k.ValuesText()
	case k.Placeholder != "":
		values = "`" + k.Placeholder + "`"
	case k.Values != nil:
		values = "`" + strings.Join(k.Values, "|") + "`"
	default:
		values = "`" + k.Placeholder + "`"
	}
	return fmt.Sprintf("%s, %s (default %s)", k.Title, values, k.Default)
}

// Next returns the value after cur in the knob's stepping order, wrapping.
func (k *Knob) Next(cur string) string { return k.step(cur, 1) }

// Prev returns the value before cur, wrapping.
func (k *Knob) Prev(cur string) string { return k.step(cur, -1) }

func (k *Knob) step(cur string, by int) string {
	i := slices.Index(k.Values, cur)
	if i < 0 {
		return k.Default
	}
	return k.Values[(i+by+len(k.Values))%len(k.Values)]
}

// In reports whether experiment name has the knob.
func (k *Knob) In(name string) bool { return slices.Contains(k.Experiments, name) }

// KnobNamed finds a knob of the table by name.
func KnobNamed(name string) (*Knob, bool) {
	for _, k := range Knobs {
		if k.Name == name {
			return k, true
		}
	}
	return nil, false
}

// KnobColumns are the table's CSV columns, in table order.
func KnobColumns() []string {
	var cols []string
	for _, k := range Knobs {
		if k.Column != "" {
			cols = append(cols, k.Column)
		}
	}
	return cols
}

// TwinConfig sets the twin's fields from the settings, over base; knobs
// not in s keep base's values.
func TwinConfig(base server.Config, s Settings) (server.Config, error) {
	c := base
	for _, k := range Knobs {
		v, ok := s[k.Name]
		if !ok {
			continue
		}
		if err := k.Validate(v); err != nil {
			return c, err
		}
		k.Apply(&c, v)
	}
	return c, c.Validate()
}
