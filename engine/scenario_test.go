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

func TestCaptureField(t *testing.T) {
	body := []byte(`{"access":"t1","n":{"id":7,"s":"x"},"nul":null}`)
	cases := map[string]string{"access": "t1", "n.id": "7", "n.s": "x"}
	for field, want := range cases {
		if got, ok := captureField(body, field); !ok || got != want {
			t.Errorf("captureField(%s) = %q, %v; want %q", field, got, ok, want)
		}
	}
	for _, field := range []string{"missing", "access.x", "nul"} {
		if _, ok := captureField(body, field); ok {
			t.Errorf("captureField(%s) found a value", field)
		}
	}
}
