package tui

import (
	"fmt"
	"strings"

	"perflab/experiments"
)

const (
	whyWidth  = 28
	whyHeight = 2 + 7
	// whyDBRows are the database server's own rows, shown on PostgreSQL.
	whyDBRows = 3
)

// whyHeightFor is the why panel's height with the figures in force.
func whyHeightFor(why experiments.ServerFigures) int {
	if why.HasDBServer() {
		return whyHeight + whyDBRows
	}
	return whyHeight
}

// whyLines renders the twin's side of the last second into inner width
// w: what explains the latency the generator sees.
func whyLines(st *Styles, why experiments.ServerFigures, w int) []string {
	row := func(label, value string) string {
		return padRight(label, w-visibleWidth(value)) + value
	}
	cache := st.Dim.Render("no lookups")
	if why.CacheLookups > 0 {
		cache = st.Value.Render(fmt.Sprintf("%.0f %%", why.CacheHitPct))
	}
	redis := fmt.Sprint(why.RedisErrors)
	if why.RedisErrors > 0 {
		redis = st.Bad.Render(redis)
	}
	busy := fmt.Sprintf("%d/%d", why.BusyWorkers, why.Workers)
	if why.Workers > 0 && why.BusyWorkers >= why.Workers {
		busy = st.Warn.Render(busy)
	}
	cpus := make([]string, len(why.CPUPerWorker))
	for i, c := range why.CPUPerWorker {
		cpus[i] = fmt.Sprintf("%.0f", c*100)
	}
	cpu := "-"
	if len(cpus) > 0 {
		cpu = fit(strings.Join(cpus, " "), w-12) + " %"
	}
	lines := []string{
		row("DB queries/req", st.Value.Render(fmt.Sprintf("%.1f", why.QueriesPerRequest))),
		row("cache hit", cache),
		row("busy workers", busy),
		row("task queue", fmt.Sprint(why.QueueDepth)),
		row("redis errors", redis),
		row("CPU/worker", cpu),
		row("restarts", fmt.Sprint(why.Restarts)),
	}
	if why.HasDBServer() {
		lines = append(lines,
			row("PG xact/s", st.Value.Render(fmt.Sprintf("%.0f", why.DBTransactionsPS))),
			row("PG conns", fmt.Sprintf("%d, %.0f new/s", why.DBConnections, why.DBConnectionsPS)),
			row("PG time/req", st.Value.Render(fmt.Sprintf("%.1f ms", why.DBTimePerRequest))),
		)
	}
	return lines
}
