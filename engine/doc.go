// Package engine generates HTTP load and measures it.
//
// A Generator runs a Scenario (setup steps once, then steps in a loop)
// under an arrival model: Closed (virtual users with think time), Open
// (a constant start rate, latency counted from the schedule) or Max
// (connections as fast as they go). Each worker owns its keep-alive
// connection and logs samples privately; an aggregator drains the logs four
// times a second into HDR histograms and publishes immutable Snapshots.
// Reporters in engine/report turn snapshots into a summary, a progress
// line or CSV rows.
package engine
