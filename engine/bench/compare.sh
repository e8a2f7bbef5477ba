#!/usr/bin/env bash
# Throughput of perflab beside wrk and bombardier on one loopback fasthttp
# endpoint, 64 connections, 10 s each, alternating tools for ROUNDS rounds
# so drift on a shared machine hits every tool alike.
# Usage: engine/bench/compare.sh [ROUNDS]   (needs wrk and bombardier on PATH)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
conns=64
dur=10
addr=127.0.0.1:8089
bin=$(mktemp -d)
trap 'kill $srv 2>/dev/null; rm -rf "$bin"' EXIT
go build -o "$bin/okserver" ./engine/bench/okserver
go build -o "$bin/perflab" ./cmd/perflab
"$bin/okserver" -addr $addr 2>/dev/null &
srv=$!
sleep 0.5
for cmd in wrk bombardier; do
	command -v $cmd >/dev/null || { echo "$cmd not found: apt-get install -y wrk; go install github.com/codesenberg/bombardier@v1.2.6" >&2; exit 2; }
done
printf "%-6s %-11s %10s\n" round tool "req/s"
for r in $(seq "$rounds"); do
	w=$(wrk -t2 -c$conns -d${dur}s http://$addr/ | awk '/Requests\/sec/ {print $2}')
	printf "%-6s %-11s %10.0f\n" "$r" wrk "$w"
	b=$(bombardier -c $conns -d ${dur}s -p r -o json http://$addr/ 2>/dev/null | sed -n 's/.*"rps":{"mean":\([0-9.]*\).*/\1/p')
	printf "%-6s %-11s %10.0f\n" "$r" bombardier "$b"
	p=$("$bin/perflab" --url http://$addr/ -c $conns --duration ${dur}s 2>/dev/null | awk '/http_reqs/ {sub("/s","",$3); print $3}')
	printf "%-6s %-11s %10.0f\n" "$r" perflab "$p"
done
