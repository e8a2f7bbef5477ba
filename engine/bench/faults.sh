#!/usr/bin/env bash
# perflab against servers that misbehave on purpose (engine/bench/faultserver),
# with wrk beside it where wrk applies: what each reports, how long each run
# takes and the most memory it held.
# Usage: engine/bench/faults.sh [PERFLAB]   (default: build ./cmd/perflab; wrk optional)
set -uo pipefail
cd "$(dirname "$0")/../.."
bin=$(mktemp -d)
trap 'kill $srv 2>/dev/null; rm -rf "$bin"' EXIT
go build -o "$bin/faultserver" ./engine/bench/faultserver || exit 1
if [ $# -gt 0 ]; then cp "$1" "$bin/perflab"; else go build -o "$bin/perflab" ./cmd/perflab || exit 1; fi

# serve MODE: start the fault server, set $srv and $url.
serve() {
	"$bin/faultserver" -mode "$1" 2> "$bin/server.txt" &
	srv=$!
	for _ in $(seq 50); do
		url=$(sed -n 's/.* on \(http[^ ]*\)$/\1/p' "$bin/server.txt" 2>/dev/null)
		[ -n "$url" ] && return
		sleep 0.1
	done
	echo "faultserver $1 did not start" >&2
	exit 1
}
# stopserver: stop it and print what it did.
stopserver() {
	kill -INT $srv; wait $srv 2>/dev/null
	grep '^faultserver:' "$bin/server.txt"
}
# measure ARGS...: run perflab, print its summary's figures, wall time and peak RSS.
measure() {
	/usr/bin/time -f "wall %e s, peak RSS %M KB, exit %x" "$bin/perflab" --url "$url" "$@" > "$bin/out.txt" 2> "$bin/err.txt"
	grep -E "http_req_failed|http_reqs|unfinished|retries|errors by kind" "$bin/out.txt"
	grep -E "^perflab: (no request|every request)|^wall" "$bin/err.txt"
}

echo "== drops every second request (perflab -c 64, 10 s)"
serve drop; measure -c 64 --duration 10s; stopserver
if command -v wrk > /dev/null; then
	echo "== the same with wrk -t2 -c64 -d10s"
	serve drop; wrk -t2 -c64 -d10s "$url" | grep -E "requests in|Socket errors"; stopserver
fi
echo "== resets each connection after its first answer (perflab -c 64, 10 s, GET then POST)"
serve reset; measure -c 64 --duration 10s; stopserver
serve reset; measure -c 64 --duration 10s --method POST --body '{"like":1}'; stopserver
echo "== closes connections idle for 100 ms (perflab --vus 50 --think 200ms, 10 s)"
serve idle; measure --vus 50 --think 200ms --duration 10s; stopserver
echo "== accepts and never answers (perflab -c 64, 5 s)"
serve never; measure -c 64 --duration 5s; stopserver
echo "== an endless chunked body (perflab -c 50, 5 s)"
serve endless; measure -c 50 --duration 5s; stopserver
echo "== never accepts, SIGTERM 2 s into -c 10000"
serve noaccept
"$bin/perflab" --url "$url" -c 10000 --duration 60s > /dev/null 2>&1 &
pl=$!
sleep 2
kill -TERM $pl
t0=$(date +%s.%N)
wait $pl
echo "stopped $(echo "$(date +%s.%N) - $t0" | bc | xargs printf '%.2f') s after SIGTERM"
kill -INT $srv; wait $srv 2>/dev/null
