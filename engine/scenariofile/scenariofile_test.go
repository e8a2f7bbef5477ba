package scenariofile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"perflab/engine"
)

// files are what scenarios in these tests find beside them.
var files = map[string]string{
	"users.csv":  "email,password\nruby@gmail.com,12345678\nminji@example.com,pw2\n",
	"empty.csv":  "",
	"header.csv": "email,password\n",
	"ragged.csv": "email,password\na,b\nc\n",
	"body.json":  `{"from":"file"}`,
}

func readFile(name string) ([]byte, error) {
	s, ok := files[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return []byte(s), nil
}

func parse(text string) (*File, error) {
	return Parse("flow.yaml", []byte(text), Options{ReadFile: readFile})
}

// okSteps is a valid steps: section, for files wrong elsewhere.
const okSteps = "steps:\n  - name: a\n    url: http://h/a\n"

// malformed are files with one mistake each: the line it is on and what
// the message must say.
var malformed = []struct {
	name string
	text string
	line int
	want string
}{
	{"empty file", "", 0, "the file is empty"},
	{"not a mapping", "- a\n- b\n", 1, "a scenario file is a mapping"},
	{"yaml syntax", "steps:\n  - name: a\n   url: x\n", 3, "not valid YAML"},
	{"tab indentation", "steps:\n\t- name: a\n", 2, "not valid YAML"},
	{"unknown top key", "base: http://h\nstep:\n  - name: a\n", 2, `unknown key "step" in a scenario; did you mean steps?`},
	{"unknown step key", "steps:\n  - name: a\n    url: http://h/\n    header: {A: b}\n", 4, `unknown key "header" in a step; did you mean headers?`},
	{"unknown check key", "steps:\n  - name: a\n    url: http://h/\n    check:\n      code: 200\n", 5, `unknown key "code" in check`},
	{"key twice", "vus: 2\nvus: 3\n" + okSteps, 2, "vus is given twice (first at line 1)"},
	{"no steps", "vus: 2\n", 1, "the scenario has no steps"},
	{"empty steps", "steps: []\n", 1, "steps is empty"},
	{"steps not a list", "steps:\n  name: a\n", 2, "steps is a list of steps"},
	{"steps and flows", okSteps + "flows:\n  - name: f\n    steps:\n      - name: b\n        url: http://h/\n", 4, "give steps: (one flow) or flows: (several), not both"},
	{"missing url", "steps:\n  - name: a\n    method: POST\n", 2, "step a has no url:"},
	{"missing name", "steps:\n  - url: http://h/\n", 2, "a step has no name:"},
	{"name all", "steps:\n  - name: all\n    url: http://h/\n", 2, `"all" is the total`},
	{"duplicate step", "steps:\n  - name: a\n    url: http://h/\n  - name: a\n    url: http://h/b\n", 4, "two steps are named a (the other at line 2)"},
	{"relative url, no base", "steps:\n  - name: a\n    url: /api/x\n", 3, "url /api/x is relative and there is no base URL; give --url BASE, or base: in the file"},
	{"bad scheme", "steps:\n  - name: a\n    url: ftp://h/\n", 3, "scheme must be http or https"},
	{"bad base", "base: h:80\n" + okSteps, 1, "base:"},
	{"bad method", "steps:\n  - name: a\n    method: GE T\n    url: http://h/\n", 3, "is not an HTTP method"},
	{"var never captured", "steps:\n  - name: a\n    url: http://h/\n    headers:\n      Authorization: Bearer {{access}}\n", 5, "{{access}} is never captured before this step"},
	{"var captured later", "steps:\n  - name: a\n    url: http://h/{{id}}\n  - name: b\n    url: http://h/\n    capture: {id: id}\n", 3, "{{id}} is never captured"},
	{"var of another flow", "flows:\n  - name: f\n    steps:\n      - name: a\n        url: http://h/\n        capture: {id: id}\n  - name: g\n    steps:\n      - name: b\n        url: http://h/{{id}}\n", 10, "{{id}} is never captured"},
	{"var in a JSON body", "steps:\n  - name: a\n    url: http://h/\n    body:\n      email: x\n      token: \"{{tok}}\"\n", 6, "{{tok}} is never captured"},
	{"var in contains", "steps:\n  - name: a\n    url: http://h/\n    check:\n      contains: \"{{who}}\"\n", 5, "{{who}} is never captured"},
	{"row without data", "steps:\n  - name: a\n    url: http://h/{{row.email}}\n", 3, "the scenario has no data:"},
	{"row column missing", "data: users.csv\nsteps:\n  - name: a\n    url: http://h/{{row.phone}}\n", 4, "data users.csv has no column phone (its columns: email, password)"},
	{"row in a run setup", "data: users.csv\nsetup:\n  - name: s\n    url: http://h/{{row.email}}\nsteps:\n  - name: a\n    url: http://h/\n", 4, "add per: user"},
	{"user var in a run setup", "setup:\n  - name: s\n    per: user\n    url: http://h/\n    capture: {tok: access}\n  - name: t\n    url: http://h/{{tok}}\n" + okSteps, 7, "{{tok}} is never captured"},
	{"bad per", "setup:\n  - name: s\n    per: iteration\n    url: http://h/\n" + okSteps, 3, "per is run (once per run, the default) or user"},
	{"per on a step", "steps:\n  - name: a\n    per: user\n    url: http://h/\n", 3, `unknown key "per" in a step`},
	{"capture path", "steps:\n  - name: a\n    url: http://h/\n    capture:\n      id: items[x].id\n", 5, "capture id: JSON path \"items[x].id\": [x] is not an array index"},
	{"capture path dots", "steps:\n  - name: a\n    url: http://h/\n    capture:\n      id: data..id\n", 5, "has an empty key"},
	{"capture path unclosed", "steps:\n  - name: a\n    url: http://h/\n    capture:\n      id: {json: \"items[0\"}\n", 5, "without its ]"},
	{"capture two sources", "steps:\n  - name: a\n    url: http://h/\n    capture:\n      id: {json: id, header: X-Id}\n", 5, "takes one of json: PATH or header: NAME"},
	{"capture row var", "steps:\n  - name: a\n    url: http://h/\n    capture:\n      row.x: id\n", 5, "cannot name a variable"},
	{"capture a list", "steps:\n  - name: a\n    url: http://h/\n    capture:\n      id: [a, b]\n", 5, "takes a JSON path"},
	{"json check path", "steps:\n  - name: a\n    url: http://h/\n    check:\n      json: {\"a.\": present}\n", 5, "ends with a dot"},
	{"json check type", "steps:\n  - name: a\n    url: http://h/\n    check:\n      json:\n        id: integer\n", 6, `json id: "integer" is not one of present, string, number, boolean, object, array, null`},
	{"status text", "steps:\n  - name: a\n    url: http://h/\n    check:\n      status: ok\n", 5, "is not an HTTP status"},
	{"status out of range", "steps:\n  - name: a\n    url: http://h/\n    check:\n      status: [200, 700]\n", 5, "700"},
	{"data file missing", "data: nosuch.csv\n" + okSteps, 1, "data nosuch.csv: file does not exist"},
	{"data file empty", "data: empty.csv\n" + okSteps, 1, "data empty.csv is empty"},
	{"data header only", "data:\n  file: header.csv\n" + okSteps, 2, "data header.csv has a header line and no rows"},
	{"data ragged", "data: ragged.csv\n" + okSteps, 1, "data ragged.csv: line 3: wrong number of fields"},
	{"data no file", "data:\n  unique: true\n" + okSteps, 2, "data needs file:"},
	{"data unique word", "data:\n  file: users.csv\n  unique: yes please\n" + okSteps, 3, "unique is true or false"},
	{"body file missing", "steps:\n  - name: a\n    url: http://h/\n    body: \"@nosuch.json\"\n", 4, "body @nosuch.json: file does not exist"},
	{"header value a map", "steps:\n  - name: a\n    url: http://h/\n    headers:\n      X: {a: b}\n", 5, "header X needs a text value"},
	{"think no unit", "steps:\n  - name: a\n    url: http://h/\n    think: 5\n", 4, "think 5: give a unit, e.g. 5s or 5ms"},
	{"think range word", "steps:\n  - name: a\n    url: http://h/\n    think: 1s..soon\n", 4, `"soon" is not a duration`},
	{"think range backwards", "steps:\n  - name: a\n    url: http://h/\n    think: 2s..1s\n", 4, "runs backwards"},
	{"run think range", "vus: 2\nthink: 1s..2s\n" + okSteps, 2, "think between iterations is one duration"},
	{"vus zero", "vus: 0\n" + okSteps, 1, "vus must be at least 1, got 0"},
	{"vus words", "vus: many\n" + okSteps, 1, "vus must be a whole number"},
	{"rate zero", "rate: 0\n" + okSteps, 1, "rate must be a number of requests a second above 0"},
	{"vus and rate", "vus: 5\nrate: 10\n" + okSteps, 2, "rate and vus (line 1) choose different load models"},
	{"think with rate", "rate: 10\nthink: 1s\n" + okSteps, 2, "think is the pause of virtual users"},
	{"duration zero", "duration: 0s\n" + okSteps, 1, "duration must be above 0"},
	{"duration and stages", "duration: 10s\nstages: 5s:10\n" + okSteps, 2, "stages and duration (line 1)"},
	{"bad threshold", "thresholds:\n  - p(99)<250ms\n  - p(42)<1s\n" + okSteps, 3, "threshold:"},
	{"weight zero", "flows:\n  - name: f\n    weight: 0\n    steps:\n      - name: a\n        url: http://h/\n", 3, "weight must be at least 1"},
	{"flow without name", "flows:\n  - weight: 2\n    steps:\n      - name: a\n        url: http://h/\n", 2, "a flow needs a name:"},
	{"flow without steps", "flows:\n  - name: f\n", 2, "flow f has no steps:"},
	{"flows twice", "flows:\n  - name: f\n    steps:\n      - name: a\n        url: http://h/\n  - name: f\n    steps:\n      - name: b\n        url: http://h/\n", 6, "two flows are named f (the other at line 2)"},
	{"weights too large", "flows:\n  - name: f\n    weight: 9000\n    steps:\n      - name: a\n        url: http://h/\n  - name: g\n    weight: 1003\n    steps:\n      - name: b\n        url: http://h/\n", 2, "weights add up to 10003"},
}

// TestMalformedFiles: every mistake is reported at its line, saying
// what is wrong, before anything runs.
func TestMalformedFiles(t *testing.T) {
	for _, c := range malformed {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse(c.text)
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %v, want a file error at line %d saying %q", err, c.line, c.want)
			}
			prefix := "flow.yaml: "
			if c.line > 0 {
				prefix = fmt.Sprintf("flow.yaml:%d: ", c.line)
			}
			if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error\n  %v\nwant it to start %q and say %q", err, prefix, c.want)
			}
		})
	}
}

// shopFile uses every kind of key a scenario file has.
const shopFile = `
name: shop
base: http://shop.test:8080/api/
vus: 20
think: 1s
duration: 2m
timeout: 5s
thresholds: ["p(99)<250ms", "checks>99%"]
data:
  file: users.csv
  unique: true
setup:
  - name: config
    url: /config
    capture: {version: version}
  - name: signin
    per: user
    method: post
    url: /auths/signin/
    body:
      email: "{{row.email}}"
      password: "{{row.password}}"
      remember: true
      tries: 3
      tags: [a, null]
    check:
      status: [200, 201]
      json: {access: string, user.id: number, refresh: present}
    capture:
      access: access
      session: {header: Set-Cookie}
flows:
  - name: browse
    weight: 3
    steps:
      - name: list
        url: /items?v={{version}}
        headers:
          Authorization: Bearer {{access}}
        check:
          contains: '"items"'
        capture: {first: "items[0].id"}
        think: 0.5s..1.5s
      - name: item
        url: http://cdn.test/items/{{first}}
  - name: buy
    steps:
      - name: order
        method: PUT
        url: /orders
        body: "@body.json"
`

func TestParseAFlow(t *testing.T) {
	f, err := Parse("shop.yaml", []byte(shopFile), Options{ReadFile: readFile})
	if err != nil {
		t.Fatal(err)
	}
	want := engine.Scenario{
		Setup: []engine.Step{{Name: "config", URL: "http://shop.test:8080/api/config", Check: "captured version",
			Capture: []engine.Capture{{Var: "version", Field: "version"}}}},
		UserSetup: []engine.Step{{
			Name: "signin", Method: "POST", URL: "http://shop.test:8080/api/auths/signin/",
			Body:     `{"email":"{{row.email}}","password":"{{row.password}}","remember":true,"tries":3,"tags":["a",null]}`,
			BodyJSON: true, Statuses: []int{200, 201},
			Fields:  []engine.FieldCheck{{Path: "access", Kind: "string"}, {Path: "user.id", Kind: "number"}, {Path: "refresh"}},
			Capture: []engine.Capture{{Var: "access", Field: "access"}, {Var: "session", Header: "Set-Cookie"}},
			Check:   "status 200|201, access is string, user.id is number, refresh present, captured access, session",
		}},
		Flows: []engine.Flow{
			{Name: "browse", Weight: 3, Steps: []engine.Step{
				{Name: "list", URL: "http://shop.test:8080/api/items?v={{version}}", Header: []engine.Header{{Key: "Authorization", Value: "Bearer {{access}}"}},
					Contains: `"items"`, Capture: []engine.Capture{{Var: "first", Field: "items[0].id"}},
					Think: engine.Think{Min: 500 * time.Millisecond, Max: 1500 * time.Millisecond}, Check: `body contains "\"items\"", captured first`},
				{Name: "item", URL: "http://cdn.test/items/{{first}}"},
			}},
			{Name: "buy", Weight: 1, Steps: []engine.Step{{Name: "order", Method: "PUT", URL: "http://shop.test:8080/api/orders", Body: `{"from":"file"}`}}},
		},
		Data: &engine.Rows{Name: "users.csv", Columns: []string{"email", "password"}, Unique: true,
			Rows: [][]string{{"ruby@gmail.com", "12345678"}, {"minji@example.com", "pw2"}}},
	}
	if !reflect.DeepEqual(f.Scenario, want) {
		t.Errorf("scenario\n%+v\nwant\n%+v", f.Scenario, want)
	}
	l := f.Load
	if f.Title != "shop" || f.Base != "http://shop.test:8080/api/" || l.VUs != 20 || l.Think != time.Second || l.Duration != 2*time.Minute ||
		l.Timeout != 5*time.Second || len(l.Thresholds) != 2 || l.Lines["vus"] != 4 || l.Lines["thresholds"] != 8 || l.Lines["rate"] != 0 {
		t.Errorf("file %+v, load %+v", f, l)
	}
}

func TestBaseFromCommandLine(t *testing.T) {
	text := "base: http://file.test\nstages: [10s:5, 20s:5]\nsteps:\n  - name: a\n    url: x/y\n"
	f, err := Parse("s.yaml", []byte(text), Options{Base: "http://flag.test:81"})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Scenario.Steps[0].URL; got != "http://flag.test:81/x/y" || f.Load.Stages != "10s:5,20s:5" || f.Title != "s" {
		t.Fatalf("url %s, stages %q, title %q", got, f.Load.Stages, f.Title)
	}
	if _, err := Parse("s.yaml", []byte(text), Options{Base: "localhost:80"}); err == nil || !strings.Contains(err.Error(), "s.yaml: --url") {
		t.Fatalf("a bad --url: %v", err)
	}
}

// JSON is YAML: a scenario written as JSON reads the same.
func TestJSONScenario(t *testing.T) {
	f, err := parse(`{"vus": 3, "steps": [{"name": "a", "url": "http://h/a", "check": {"status": 200}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if f.Load.VUs != 3 || f.Scenario.Steps[0].Statuses[0] != 200 || f.Scenario.Steps[0].Check != "status 200" {
		t.Fatalf("%+v", f)
	}
}

// The README's scenario examples are files that parse.
func TestReadmeExamplesParse(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(b), "```yaml\n")[1:]
	if len(blocks) < 2 {
		t.Fatalf("the README has %d YAML examples, want the likes file and a flow of one's own", len(blocks))
	}
	beside := func(name string) ([]byte, error) {
		if name == "users.csv" {
			return []byte("email,password\na@b.c,pw\n"), nil
		}
		return []byte(`{"item": 1}`), nil
	}
	for i, block := range blocks {
		text, _, _ := strings.Cut(block, "```")
		if _, err := Parse(fmt.Sprintf("README example %d", i+1), []byte(text), Options{Base: "http://h", ReadFile: beside}); err != nil {
			t.Errorf("%v", err)
		}
	}
}
