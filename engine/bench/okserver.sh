# Sourced by the bench scripts that drive the loopback okserver, with
# $addr set: builds okserver and perflab into a temporary directory
# ($bin), starts the server on $addr ($srv), and removes both on exit.
# SERVER_CPUS=LIST (taskset's list, e.g. 0) keeps the server on those
# CPUs, so that it does not take the generator's.
bin=$(mktemp -d)
trap 'kill $srv 2>/dev/null; rm -rf "$bin"' EXIT
go build -o "$bin/okserver" ./engine/bench/okserver
go build -o "$bin/perflab" ./cmd/perflab
server=("$bin/okserver" -addr "$addr")
[ -z "${SERVER_CPUS:-}" ] || server=(taskset -c "$SERVER_CPUS" "${server[@]}")
"${server[@]}" 2>/dev/null &
srv=$!
sleep 0.5
