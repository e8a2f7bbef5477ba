# Sourced by the bench scripts that drive the loopback okserver, with
# $addr set: builds okserver and perflab into a temporary directory
# ($bin), starts the server on $addr ($srv), and removes both on exit.
bin=$(mktemp -d)
trap 'kill $srv 2>/dev/null; rm -rf "$bin"' EXIT
go build -o "$bin/okserver" ./engine/bench/okserver
go build -o "$bin/perflab" ./cmd/perflab
"$bin/okserver" -addr "$addr" 2>/dev/null &
srv=$!
sleep 0.5
