#!/usr/bin/env bash
# Throughput of perflab beside wrk and bombardier on one loopback fasthttp
# endpoint, 64 connections, 10 s each, alternating tools for ROUNDS rounds,
# every other round in reverse order, so drift on a shared machine hits
# every tool alike. The tool "scenario"
# is perflab sending the same request from a one-step scenario file
# (--scenario), to show the file path costs nothing against plain --url.
# Usage: engine/bench/compare.sh [ROUNDS] [TOOL...]
#   TOOLs: wrk bombardier perflab scenario (default: all four; wrk and
#   bombardier must be on PATH when chosen)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
shift || true
tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(wrk bombardier perflab scenario)
conns=64
dur=10
addr=127.0.0.1:8089
bin=$(mktemp -d)
trap 'kill $srv 2>/dev/null; rm -rf "$bin"' EXIT
for cmd in "${tools[@]}"; do
	case $cmd in
	wrk | bombardier) command -v $cmd >/dev/null || { echo "$cmd not found: apt-get install -y wrk; go install github.com/codesenberg/bombardier@v1.2.6" >&2; exit 2; } ;;
	perflab | scenario) ;;
	*) echo "unknown tool $cmd: choose from wrk bombardier perflab scenario" >&2; exit 2 ;;
	esac
done
go build -o "$bin/okserver" ./engine/bench/okserver
go build -o "$bin/perflab" ./cmd/perflab
cat >"$bin/one.yaml" <<EOF
steps:
  - name: url
    url: http://$addr/
EOF
"$bin/okserver" -addr $addr 2>/dev/null &
srv=$!
sleep 0.5
printf "%-6s %-11s %10s\n" round tool "req/s"
for r in $(seq "$rounds"); do
	order=("${tools[@]}")
	if ((r % 2 == 0)); then
		order=()
		for ((i = ${#tools[@]} - 1; i >= 0; i--)); do order+=("${tools[i]}"); done
	fi
	for tool in "${order[@]}"; do
		case $tool in
		wrk) v=$(wrk -t2 -c$conns -d${dur}s http://$addr/ | awk '/Requests\/sec/ {print $2}') ;;
		bombardier) v=$(bombardier -c $conns -d ${dur}s -p r -o json http://$addr/ 2>/dev/null | sed -n 's/.*"rps":{"mean":\([0-9.]*\).*/\1/p') ;;
		perflab) v=$("$bin/perflab" --url http://$addr/ -c $conns --duration ${dur}s 2>/dev/null | awk '/http_reqs/ {sub("/s","",$3); print $3}') ;;
		scenario) v=$("$bin/perflab" --scenario "$bin/one.yaml" -c $conns --duration ${dur}s 2>/dev/null | awk '/http_reqs/ {sub("/s","",$3); print $3}') ;;
		esac
		printf "%-6s %-11s %10.0f\n" "$r" "$tool" "$v"
	done
done
