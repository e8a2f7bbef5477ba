package threshold

import (
	"math"
	"strings"
	"testing"
	"time"

	"perflab/engine"
)

func run() *engine.Snapshot {
	f := engine.Figures{Requests: 1000, Errors: 5, Answered: 998, RPS: 250, Min: time.Millisecond, Mean: 40 * time.Millisecond,
		P50: 30 * time.Millisecond, P90: 80 * time.Millisecond, P95: 120 * time.Millisecond, P99: 240 * time.Millisecond,
		P999: 400 * time.Millisecond, Max: 900 * time.Millisecond}
	svc := f
	svc.P99 = 15 * time.Millisecond
	likes := engine.Series{Name: "likes", Run: f, RunService: svc}
	likes.Run.P95 = 60 * time.Millisecond
	return &engine.Snapshot{Done: true, All: engine.Series{Name: engine.AllSeries, Run: f, RunService: svc},
		Steps:  []engine.Series{{Name: "signin"}, likes},
		Checks: []engine.Check{{Name: "status was 200", Step: "likes", Passed: 995, Failed: 5}}}
}

func TestEvaluate(t *testing.T) {
	cases := []struct {
		expr  string
		ok    bool
		value string
	}{
		{"p(99)<250ms", true, "240.00ms"},
		{"p(99)<0.2s", false, "240.00ms"},
		{"p(99.9) <= 400", true, "400.00ms"},
		{"avg<100ms", true, "40.00ms"},
		{"med>=30ms", true, "30.00ms"},
		{"max<500ms", false, "900.00ms"},
		{"http_req_failed<1%", true, "0.50%"},
		{"http_req_failed<0.001", false, "0.50%"},
		{"checks>99%", true, "99.50%"},
		{"rps>1000", false, "250.0/s"},
		{"rps>=200/s", true, "250.0/s"},
		{"p(95){step:likes}<100ms", true, "60.00ms"},
		{"p(95){step:nosuch}<100ms", false, "no data"},
		{"service.p(99)<20ms", true, "15.00ms"},
		{"p(99) != 240ms", false, "240.00ms"},
	}
	for _, c := range cases {
		th, err := Parse(c.expr)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		r := th.Evaluate(run())
		if r.OK != c.ok || r.Text() != c.value {
			t.Errorf("%s: ok %v value %s, want %v %s", c.expr, r.OK, r.Text(), c.ok, c.value)
		}
	}
}

func TestMalformedNamesTheBadToken(t *testing.T) {
	cases := map[string]string{
		"p(99)":                      "no comparison",
		"p(97)<250ms":                `percentile "p(97)"`,
		"p99<250ms":                  `unknown figure "p99"`,
		"<250ms":                     "no figure",
		"p(99)<":                     "no limit",
		"p(99)<fast":                 `limit "fast"`,
		"p(99)<>250ms":               `unknown operator "<>"`,
		"http_req_failed<150%":       "",
		"http_req_failed<2":          `limit "2"`,
		"checks>lots%":               `limit "lots%"`,
		"rps>many":                   `limit "many"`,
		"p(95){route:x}<50ms":        `tag "{route:x}"`,
		"service.http_req_failed<1%": "service. applies to latency",
	}
	for expr, want := range cases {
		_, err := Parse(expr)
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", expr, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error naming %s", expr, err, want)
		}
	}
}

func TestNoAnswersIsNoData(t *testing.T) {
	th, _ := Parse("p(99)<1s")
	r := th.Evaluate(&engine.Snapshot{All: engine.Series{Name: engine.AllSeries, Run: engine.Figures{Requests: 10, Errors: 10}}})
	if r.OK || !math.IsNaN(r.Value) {
		t.Fatalf("%+v: a run with no answers passes no latency threshold", r)
	}
}
