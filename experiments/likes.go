package experiments

import (
	"time"

	"perflab/engine"
	"perflab/server"
)

// Likes is the study's experiment 2: GET /api/logbooks/likes/ under 50
// users with a second of think, across worker counts and sync/async,
// then with the Redis cache.
var Likes = &Experiment{
	Name:  "likes",
	Title: "likes: workers, async, cache",
	Lesson: "The DB path was the bottleneck: more workers and async only lengthened the queue " +
		"(async also paid thread hand-offs); caching the list in Redis removed it.",
	Plan: Plan{
		VUs:      50,
		Think:    time.Second,
		Duration: 30 * time.Second,
		Measured: "likes",
		Scenario: func(site Site) engine.Scenario {
			return engine.Scenario{
				Setup: []engine.Step{{
					Name: "signin", Method: "POST", URL: site.API + "/api/auths/signin/",
					Header:  []engine.Header{{Key: "Content-Type", Value: "application/json"}},
					Body:    `{"email":"` + server.FixtureEmail + `","password":"` + server.FixturePassword + `"}`,
					Expect:  200,
					Check:   "login succeeded",
					Capture: []engine.Capture{{Var: "access", Field: "access"}},
				}},
				Steps: []engine.Step{{
					Name: "likes", URL: site.API + "/api/logbooks/likes/",
					Header: []engine.Header{{Key: "Authorization", Value: "Bearer {{access}}"}},
					Expect: 200, Check: "status was 200",
				}},
			}
		},
	},
	// SEED.md, experiment 2: k6, 50 VUs, 30 s. The uncached runs used the
	// N+1 view; the cached ones the prefetching one behind the cache.
	Claims: []Claim{
		{Text: "more workers do not help", Knob: "workers", From: "min", To: "max", When: Settings{"cache": "off"}, Slower: true},
		{Text: "async is slower than sync at 4 workers", Knob: "mode", From: "sync", To: "async", When: Settings{"workers": "4", "cache": "off"}, Slower: true},
		{Text: "the cache cuts latency", Knob: "cache", From: "off", To: "on"},
	},
	Study: []StudyCell{
		likesCell("sync", "1", "off", 100.58, 48.96, 215.89, 353.07, 2230, 41.54),
		likesCell("sync", "2", "off", 96.37, 40.28, 150.94, 220.58, 2360, 41.61),
		likesCell("sync", "3", "off", 150.29, 30.51, 194.32, 594.89, 2970, 39.65),
		likesCell("sync", "4", "off", 152.9, 33.39, 192, 0, 0, 39.3),
		likesCell("async", "1", "off", 87.61, 0, 0, 0, 0, 0),
		likesCell("async", "2", "off", 129.59, 0, 0, 0, 0, 0),
		likesCell("async", "4", "off", 237.62, 0, 0, 0, 0, 0),
		likesCell("sync", "4", "on", 45.64, 27.29, 74.61, 0, 0, 45.7),
		likesCell("async", "4", "on", 74.07, 0, 0, 0, 0, 0),
	},
}

func likesCell(mode, workers, cache string, mean, p50, p90, p95, max, rps float64) StudyCell {
	label := mode + ", " + workers + " worker"
	if workers != "1" {
		label += "s"
	}
	if cache == "on" {
		label += ", cached"
	} else {
		label += ", no cache"
	}
	query := server.QueryNaive
	if cache == "on" {
		query = server.QueryPrefetch
	}
	return StudyCell{
		When:  Settings{"mode": mode, "workers": workers, "cache": cache},
		Under: Settings{"query": query, "profile": server.ProfileDjango},
		Label: label, Mean: ms(mean), P50: ms(p50), P90: ms(p90), P95: ms(p95), Max: ms(max), RPS: rps,
	}
}
