package agents

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"perflab/engine"
)

// intervalMessages records a short real run's interval messages, as an
// agent sends them: a one-step scenario, so two series (all and url).
func intervalMessages(b *testing.B) []Message {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	g, err := engine.New(engine.Scenario{Steps: []engine.Step{{Name: "url", URL: srv.URL}}}, engine.Max{Conns: 8},
		engine.Duration(2*time.Second), engine.IntervalHistograms())
	if err != nil {
		b.Fatal(err)
	}
	var msgs []Message
	g.Observe(func(s *engine.Snapshot) {
		if s.Second > 0 {
			msgs = append(msgs, intervalMessage(s))
		}
	})
	if _, err := g.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	return msgs
}

// BenchmarkIntervalMerge is the controller's cost per agent per second:
// decoding one interval message and merging its series into the run's
// tally and the agent's. It reports the message's size on the wire.
//
//	go test ./experiments/agents -run '^$' -bench IntervalMerge -benchtime 2000x
func BenchmarkIntervalMerge(b *testing.B) {
	msgs := intervalMessages(b)
	m := msgs[len(msgs)-1]
	c := &Controller{merged: engine.NewTally([]string{"url"}, false)}
	a := &runAgent{tally: engine.NewTally([]string{"url"}, false)}
	b.ResetTimer()
	for range b.N {
		c.addTo(a, &m)
	}
	b.ReportMetric(float64(len(marshal(m))), "wire-bytes")
}
