package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// readmeSchema is the summary's JSON schema as the README documents it.
func readmeSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "<!-- summary-json-schema -->\n```json\n")
	body, _, ok2 := strings.Cut(rest, "\n```")
	if !ok || !ok2 {
		t.Fatal("the README has no summary-json-schema block")
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(body))
	if err != nil {
		t.Fatalf("the README's schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("summary.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("summary.json")
	if err != nil {
		t.Fatalf("the README's schema does not compile: %v", err)
	}
	return s
}

// TestSummaryJSONFollowsTheSchema runs perflab with thresholds, one
// passing and one failing, and validates the JSON summary against the
// README's schema: exit 99, the failing threshold with its value.
func TestSummaryJSONFollowsTheSchema(t *testing.T) {
	schema := readmeSchema(t)
	url := target(t)
	out := filepath.Join(t.TempDir(), "summary.json")
	for _, model := range [][]string{{"-c", "2"}, {"--rate", "50"}, {"--rate", "50", "--realtime-pacer"}} {
		args := append([]string{"--url", url, "--duration", "1s", "--summary-json", out,
			"--threshold", "http_req_failed<1%", "--threshold", "p(99)<1us"}, model...)
		_, stderr, code := perflab(t, args...)
		if code != exitThresholds || !strings.Contains(stderr, "threshold check(s) failed") {
			t.Fatalf("%v: exit %d, %q; want 99 and the failure said", model, code, stderr)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(doc); err != nil {
			t.Fatalf("%v: the summary does not follow the README's schema: %v\n%s", model, err, data)
		}
		var s struct {
			ThresholdsOK bool `json:"thresholds_ok"`
			Runs         []struct {
				Thresholds []struct {
					Expr string  `json:"expr"`
					OK   bool    `json:"ok"`
					V    float64 `json:"value"`
				} `json:"thresholds"`
			} `json:"runs"`
		}
		json.Unmarshal(data, &s)
		if s.ThresholdsOK || len(s.Runs) != 1 || len(s.Runs[0].Thresholds) != 2 || !s.Runs[0].Thresholds[0].OK || s.Runs[0].Thresholds[1].OK {
			t.Fatalf("%v: %s: want the error rate ok and p(99)<1us failed", model, data)
		}
	}
}

func TestThresholdsThroughTheBinary(t *testing.T) {
	url := target(t)
	stdout, stderr, code := perflab(t, "--url", url, "-c", "2", "--duration", "1s", "--threshold", "p(99)<5s", "--threshold", "http_req_failed<1%")
	if code != 0 || !strings.Contains(stdout, "ok     p(99)<5s") {
		t.Fatalf("passing thresholds: exit %d, %q\n%s", code, stderr, stdout)
	}
	stdout, _, code = perflab(t, "--url", url, "-c", "2", "--duration", "1s", "--threshold", "rps>1000000")
	if code != exitThresholds || !strings.Contains(stdout, "FAILED rps>1000000") {
		t.Fatalf("failing threshold: exit %d\n%s", code, stdout)
	}
	bad := map[string]string{
		"p(99)":          "no comparison",
		"p(99)<=>1s":     "unknown operator",
		"p(42)<1s":       `percentile "p(42)"`,
		"latency<1s":     `unknown figure "latency"`,
		"p(99)<soon":     `limit "soon"`,
		"checks>1.5":     `limit "1.5"`,
		"avg{host:a}<1s": `tag "{host:a}"`,
	}
	for expr, want := range bad {
		_, stderr, code := perflab(t, "--url", url, "--threshold", expr)
		if code != 2 || !strings.Contains(stderr, want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("--threshold %q: exit %d, %q; want 2 and one line naming %s", expr, code, stderr, want)
		}
	}
	for _, args := range [][]string{{"--abort-on-fail"}, {"--abort-grace", "3s", "--threshold", "avg<1s"}, {"--abort-on-fail", "--threshold", "avg<1s", "--abort-grace", "0s"}} {
		if _, stderr, code := perflab(t, append([]string{"--url", url}, args...)...); code != 2 {
			t.Errorf("%v: exit %d, %q; want 2", args, code, stderr)
		}
	}
}
