package main

import (
	"testing"
	"time"

	"perflab/engine"
)

func TestLoadModelKeepsWhatIsNotGiven(t *testing.T) {
	plan := engine.Closed{VUs: 50, Think: time.Second}
	cases := []struct {
		args []string
		want engine.Model
	}{
		{nil, plan},
		{[]string{"--vus", "20"}, engine.Closed{VUs: 20, Think: time.Second}},
		{[]string{"--think", "200ms"}, engine.Closed{VUs: 50, Think: 200 * time.Millisecond}},
		{[]string{"--vus", "5", "--think", "0s"}, engine.Closed{VUs: 5}},
		{[]string{"-c", "8"}, engine.Max{Conns: 8}},
		{[]string{"--rate", "30"}, engine.Open{Rate: 30}},
	}
	for _, c := range cases {
		o, err := parseRoot(c.args, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := loadModel(o, plan)
		if err != nil || got != c.want {
			t.Errorf("%v: got %v (%v), want %v", c.args, got, err, c.want)
		}
	}
}
