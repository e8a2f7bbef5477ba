#!/usr/bin/env bash
# Throughput of perflab beside wrk and bombardier on one loopback fasthttp
# endpoint, 64 connections (COMPARE_CONNS=N overrides), 10 s each (COMPARE_DURATION=N seconds
# overrides), alternating tools for ROUNDS rounds,
# every other round in reverse order, so drift on a shared machine hits
# every tool alike. The tool "scenario"
# is perflab sending the same request from a one-step scenario file
# (--scenario), to show the file path costs nothing against plain --url.
# Usage: engine/bench/compare.sh [ROUNDS] [TOOL...]
#   TOOLs: wrk bombardier perflab goroutine scenario (default: wrk
#   bombardier perflab scenario; wrk and bombardier must be on PATH when
#   chosen). perflab takes its default engine path (the event loop here);
#   goroutine is perflab on its goroutine path, for before and after.
# Each run's CPU (user + system, from the shell's time) per request is
# printed beside its rate, and at the end the median over rounds of
# perflab's rate over each other tool's, with the range.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
shift || true
tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(wrk bombardier perflab scenario)
conns=${COMPARE_CONNS:-64}
dur=${COMPARE_DURATION:-10}
addr=127.0.0.1:8089
for cmd in "${tools[@]}"; do
	case $cmd in
	wrk | bombardier) command -v $cmd >/dev/null || { echo "$cmd not found: apt-get install -y wrk; go install github.com/codesenberg/bombardier@v1.2.6" >&2; exit 2; } ;;
	perflab | goroutine | scenario) ;;
	*) echo "unknown tool $cmd: choose from wrk bombardier perflab goroutine scenario" >&2; exit 2 ;;
	esac
done
. engine/bench/okserver.sh
cat >"$bin/one.yaml" <<EOF
steps:
  - name: url
    url: http://$addr/
EOF
printf "%-6s %-11s %10s %14s\n" round tool "req/s" "cpu us/req"
TIMEFORMAT='%U %S'
for r in $(seq "$rounds"); do
	order=("${tools[@]}")
	if ((r % 2 == 0)); then
		order=()
		for ((i = ${#tools[@]} - 1; i >= 0; i--)); do order+=("${tools[i]}"); done
	fi
	for tool in "${order[@]}"; do
		{ time case $tool in
		wrk) wrk -t2 -c$conns -d${dur}s http://$addr/ | awk '/Requests\/sec/ {print $2}' ;;
		bombardier) bombardier -c $conns -d ${dur}s -p r -o json http://$addr/ 2>/dev/null | sed -n 's/.*"rps":{"mean":\([0-9.]*\).*/\1/p' ;;
		perflab) "$bin/perflab" --url http://$addr/ -c $conns --duration ${dur}s 2>/dev/null | awk '/http_reqs/ {sub("/s","",$3); print $3}' ;;
		goroutine) "$bin/perflab" --engine goroutine --url http://$addr/ -c $conns --duration ${dur}s 2>/dev/null | awk '/http_reqs/ {sub("/s","",$3); print $3}' ;;
		scenario) "$bin/perflab" --scenario "$bin/one.yaml" -c $conns --duration ${dur}s 2>/dev/null | awk '/http_reqs/ {sub("/s","",$3); print $3}' ;;
		esac >"$bin/out"; } 2>"$bin/time"
		v=$(cat "$bin/out")
		cpu=$(awk -v rps="$v" -v d=$dur '{printf "%.2f", ($1 + $2) * 1e6 / (rps * d)}' "$bin/time")
		printf "%-6s %-11s %10.0f %14s\n" "$r" "$tool" "$v" "$cpu" | tee -a "$bin/results"
	done
done
# Per round, perflab's req/s over each other tool's; the median over rounds
# and the range, which is what a shared machine's drift leaves.
echo
awk '
	{ rps[$1, $2] = $3; cpu[$2] += $4; n[$2]++; rounds[$1] = 1; tools[$2] = 1 }
	END {
		for (t in tools) printf "%-11s mean cpu %.2f us/req over %d runs\n", t, cpu[t] / n[t], n[t]
		for (o in tools) {
			if (o == "perflab") continue
			k = 0
			for (r in rounds) if (rps[r, "perflab"] > 0 && rps[r, o] > 0) ratio[++k] = rps[r, "perflab"] / rps[r, o]
			if (k == 0) continue
			for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (ratio[j] < ratio[i]) { x = ratio[i]; ratio[i] = ratio[j]; ratio[j] = x }
			med = (k % 2) ? ratio[(k + 1) / 2] : (ratio[k / 2] + ratio[k / 2 + 1]) / 2
			printf "perflab / %-10s median %.2f over %d rounds, range %.2f to %.2f\n", o, med, k, ratio[1], ratio[k]
		}
	}' "$bin/results"
