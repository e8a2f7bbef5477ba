package engine

import (
	"strings"
	"testing"
)

func TestScenarioValidate(t *testing.T) {
	ok := Step{Name: "a", URL: "http://h/x"}
	cases := []struct {
		name string
		scn  Scenario
		want string // substring of the error; "" means valid
	}{
		{"valid", Scenario{Steps: []Step{ok}}, ""},
		{"no steps", Scenario{}, "no steps"},
		{"bad scheme", Scenario{Steps: []Step{{Name: "a", URL: "ftp://h/"}}}, "scheme must be http or https"},
		{"no host", Scenario{Steps: []Step{{Name: "a", URL: "http:///x"}}}, "no host"},
		{"duplicate", Scenario{Steps: []Step{ok, ok}}, "two steps are named"},
		{"reserved", Scenario{Steps: []Step{{Name: AllSeries, URL: "http://h/"}}}, "reserved"},
		{"unknown var", Scenario{Steps: []Step{{Name: "a", URL: "http://h/{{id}}"}}}, "{{id}}"},
		{"var from setup", Scenario{
			Setup: []Step{{Name: "s", URL: "http://h/", Capture: []Capture{{Var: "id", Field: "id"}}}},
			Steps: []Step{{Name: "a", URL: "http://h/{{id}}", Header: []Header{{"X", "{{id}}"}}}},
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.scn.Validate()
			if c.want == "" && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestParseHeader(t *testing.T) {
	h, err := ParseHeader("Authorization:  Bearer x ")
	if err != nil || h.Key != "Authorization" || h.Value != "Bearer x" {
		t.Fatalf("got %+v, %v", h, err)
	}
	for _, bad := range []string{"NoColon", ": v", "Bad Key: v"} {
		if _, err := ParseHeader(bad); err == nil {
			t.Errorf("ParseHeader(%q) accepted", bad)
		}
	}
}

func TestBuildRequestExpandsVariables(t *testing.T) {
	b, err := buildRequest(Step{
		Name: "s", Method: "POST", URL: "http://example.test:8080/a/{{id}}?q=1",
		Header: []Header{{"Authorization", "Bearer {{tok}}"}},
		Body:   `{"id":"{{id}}"}`,
	}, map[string]string{"id": "42", "tok": "abc"})
	if err != nil {
		t.Fatal(err)
	}
	req := string(b)
	for _, want := range []string{"POST /a/42?q=1 HTTP/1.1\r\n", "Host: example.test:8080\r\n", "Authorization: Bearer abc\r\n",
		"Content-Type: application/json\r\n", "Content-Length: 11\r\n", `{"id":"42"}`} {
		if !strings.Contains(req, want) {
			t.Errorf("request lacks %q:\n%s", want, req)
		}
	}
}

func TestJSONPathLookup(t *testing.T) {
	body := []byte(` {"access":"t1", "n" : {"id":7,"s":"x\u0041", "deep": [1, {"k": [true, null]}]},
		"items":[{"id":"a"},{"id":"b"}], "esc\"aped": "q", "nul":null, "str": "a ] } [ { ,"}`)
	cases := map[string]string{
		"access": "t1", "n.id": "7", "n.s": "xA", "items[1].id": "b", "items[0]": `{"id":"a"}`,
		"n.deep[1].k[0]": "true", `esc"aped`: "q", "str": "a ] } [ { ,",
	}
	for path, want := range cases {
		p, err := parseJSONPath(path)
		if err != nil {
			t.Fatalf("parse %s: %v", path, err)
		}
		v, ok := p.lookup(body)
		if ok {
			v, ok = jsonText(v)
		}
		if !ok || string(v) != want {
			t.Errorf("%s = %q, %v; want %q", path, v, ok, want)
		}
	}
	for _, path := range []string{"missing", "access.x", "nul", "items[2]", "items.id", "n[0]", "n.deep[1].k[1]"} {
		p, err := parseJSONPath(path)
		if err != nil {
			t.Fatalf("parse %s: %v", path, err)
		}
		if v, ok := p.lookup(body); ok {
			if _, ok := jsonText(v); ok {
				t.Errorf("%s found %q", path, v)
			}
		}
	}
	kinds := map[string]string{"access": "string", "n.id": "number", "n": "object", "items": "array", "n.deep[1].k[0]": "boolean", "nul": "null"}
	for path, want := range kinds {
		p, _ := parseJSONPath(path)
		if v, ok := p.lookup(body); !ok || jsonKind(v) != want {
			t.Errorf("kind of %s = %q, %v; want %s", path, v, ok, want)
		}
	}
}

func TestParseJSONPath(t *testing.T) {
	for _, good := range []string{"a", "a.b", "a[0]", "[3].x", "a[0][1].b_c", "data.items[12].id"} {
		if err := ParseJSONPath(good); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
	bad := map[string]string{
		"": "empty", "a..b": "empty key", ".a": "empty key", "a.": "ends with a dot", "a[": "without its ]",
		"a[x]": "not an array index", "a[-1]": "not an array index", "a[]": "not an array index", "a]": "unexpected", "a[0]b": "unexpected",
	}
	for path, want := range bad {
		if err := ParseJSONPath(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one saying %q", path, err, want)
		}
	}
}
