package scenarios_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"perflab/engine"
	"perflab/engine/scenariofile"
	"perflab/experiments"
	"perflab/experiments/scenarios"
)

// The embedded files are the study's flows: the same requests, checks
// and load plan as the built-in experiments send.
func TestEmbeddedScenariosAreTheExperiments(t *testing.T) {
	const base = "http://twin.test:8000"
	if got := scenarios.Names(); !reflect.DeepEqual(got, []string{"likes", "static"}) {
		t.Fatalf("embedded scenarios %v, want likes and static", got)
	}
	for _, e := range []*experiments.Experiment{experiments.Likes, experiments.Static} {
		t.Run(e.Name, func(t *testing.T) {
			name, data, ok := scenarios.Read(e.Name)
			if !ok {
				t.Fatalf("no embedded scenario %s", e.Name)
			}
			f, err := scenariofile.Parse(name, data, scenariofile.Options{Base: base})
			if err != nil {
				t.Fatal(err)
			}
			if f.Load.VUs != e.Plan.VUs || f.Load.Think != e.Plan.Think || f.Load.Duration != e.Plan.Duration {
				t.Errorf("load %+v, want the experiment's plan %+v", f.Load, e.Plan)
			}
			want := e.Plan.Scenario(experiments.Site{API: base, Page: base})
			got := f.Scenario
			if len(got.Setup) != len(want.Setup) || len(got.Steps) != len(want.Steps) || len(got.UserSetup) != 0 || len(got.Flows) != 0 {
				t.Fatalf("file has %d setup, %d steps; the experiment %d and %d", len(got.Setup), len(got.Steps), len(want.Setup), len(want.Steps))
			}
			pairs := append(zip(got.Setup, want.Setup), zip(got.Steps, want.Steps)...)
			for _, p := range pairs {
				sameRequest(t, p[0], p[1])
			}
		})
	}
}

func zip(a, b []engine.Step) [][2]engine.Step {
	var out [][2]engine.Step
	for i := range a {
		out = append(out, [2]engine.Step{a[i], b[i]})
	}
	return out
}

// sameRequest compares what two steps send and accept, JSON bodies by
// value; check names may differ.
func sameRequest(t *testing.T, file, exp engine.Step) {
	t.Helper()
	method := func(m string) string {
		if m == "" {
			return "GET"
		}
		return m
	}
	statuses := file.Statuses
	if file.Expect != 0 {
		statuses = append(statuses, file.Expect)
	}
	headers := func(hs []engine.Header) map[string]string {
		m := map[string]string{}
		for _, h := range hs {
			if h.Key != "Content-Type" { // a JSON body sets it either way
				m[h.Key] = h.Value
			}
		}
		return m
	}
	if file.Name != exp.Name || method(file.Method) != method(exp.Method) || file.URL != exp.URL ||
		!reflect.DeepEqual(statuses, []int{exp.Expect}) || !reflect.DeepEqual(file.Capture, exp.Capture) ||
		!reflect.DeepEqual(headers(file.Header), headers(exp.Header)) {
		t.Errorf("step\n%+v\nwant the experiment's\n%+v", file, exp)
	}
	if file.Body != "" || exp.Body != "" {
		var a, b any
		if json.Unmarshal([]byte(file.Body), &a) != nil || json.Unmarshal([]byte(exp.Body), &b) != nil || !reflect.DeepEqual(a, b) {
			t.Errorf("step %s sends %s; the experiment %s", file.Name, file.Body, exp.Body)
		}
	}
}
