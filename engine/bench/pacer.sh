#!/usr/bin/env bash
# How precisely the open model starts its requests: perflab at RATE
# requests a second against one loopback fasthttp endpoint that answers
# "ok", 10 s a run, for each engine path, alternating for ROUNDS rounds.
# Per run it prints the send lag (how late requests started against the
# schedule), the gap between the corrected and the service-time medians,
# the whole perflab process's CPU over the run (pacer, aggregator and
# start-up included), in cores, and the part of it the event loop's pacer
# spent spinning to start requests on time.
# Usage: engine/bench/pacer.sh [ROUNDS] [RATE...]   (default 3 rounds, 2000 10000;
# PACER_DURATION=D, e.g. 5s, sets the runs' length; SERVER_CPUS=LIST and
# GENERATOR_CPUS=LIST, taskset's CPU lists, keep the server and perflab
# apart, e.g. SERVER_CPUS=0 GENERATOR_CPUS=1 on two cores; PACER_REALTIME=1
# runs the loop path with --realtime-pacer, whose column then says whether
# the system granted it)
# Needs python3 to read the summary JSON.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
shift || true
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(2000 10000)
dur=${PACER_DURATION:-10s}
addr=127.0.0.1:8089
. engine/bench/okserver.sh
gen=("$bin/perflab")
rt=()
[ -z "${PACER_REALTIME:-}" ] || rt=(--realtime-pacer)
[ -z "${GENERATOR_CPUS:-}" ] || gen=(taskset -c "$GENERATOR_CPUS" "$bin/perflab")
printf "%-6s %-6s %-10s %11s %11s %11s %10s %11s %9s %s\n" round rate engine "lag p50 us" "lag p99 us" "p50 gap us" "cpu cores" "spin cores" "req/s" "pacer"
for r in $(seq "$rounds"); do
	for rate in "${rates[@]}"; do
		order=(loop goroutine)
		((r % 2 == 0)) && order=(goroutine loop)
		for e in "${order[@]}"; do
			TIMEFORMAT='%U %S %R'
			extra=()
			[ "$e" = goroutine ] || extra=("${rt[@]}")
			{ time "${gen[@]}" --url http://$addr/ --rate "$rate" --duration "$dur" --engine "$e" "${extra[@]}" --summary-json "$bin/s.json" >/dev/null 2>&1; } 2>"$bin/time"
			python3 - "$bin/s.json" "$r" "$rate" "$e" "$(cat "$bin/time")" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["runs"][0]
user, system, real = map(float, sys.argv[5].split())
g, s = d["generator"], d["series"][0]
gap = (s["latency_ms"]["p50"] - s["service_ms"]["p50"]) * 1000
print("%-6s %-6s %-10s %11.0f %11.0f %11.0f %10.3f %11.3f %9.0f %s" % (sys.argv[2], sys.argv[3], sys.argv[4],
      g["send_lag_p50_ms"] * 1000, g["send_lag_p99_ms"] * 1000, gap, (user + system) / real, g.get("pacer_spin_cores", 0), s["rate"],
      g.get("pacer_priority", "")))
PY
		done
	done
done
