#!/usr/bin/env bash
# Memory of a long max-rate run: perflab drives the loopback okserver with
# 64 connections for DURATION (default 10m) while this script samples the
# perflab process's resident set every 10 s.
# Usage: engine/bench/memory.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/../.."
dur=${1:-10m}
addr=127.0.0.1:8093
pl=
. engine/bench/okserver.sh
trap 'kill $srv $pl 2>/dev/null; rm -rf "$bin"' EXIT
"$bin/perflab" --url http://$addr/ -c 64 --duration "$dur" > "$bin/summary.txt" 2>/dev/null &
pl=$!
printf "%8s %10s\n" elapsed rss_mb
start=$(date +%s)
while kill -0 $pl 2>/dev/null; do
	rss=$(awk '/^VmRSS:/ {print $2}' /proc/$pl/status 2>/dev/null || true)
	[ -n "$rss" ] && printf "%7ss %10.1f\n" $(( $(date +%s) - start )) "$(echo "$rss/1024" | bc -l)"
	sleep 10
done
wait $pl || true
grep -E "http_reqs|generator" "$bin/summary.txt"
