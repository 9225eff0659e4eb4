#!/usr/bin/env bash
# Correctness smoke of the performance instruments (no timing is judged): every criterion
# bench runs once, and the load generator runs each mode briefly against rnats-server,
# failing if it reports lost messages or errors. Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo bench -q -p rnats-bench --benches -- --test >/dev/null
cargo build --release -q -p rnats-server --bin rnats-server
cargo build --release -q -p rnats-bench --bin loadgen

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
STORE=$(mktemp -d /tmp/rnats-smoke.XXXXXX)
target/release/rnats-server -a 127.0.0.1 -p "$PORT" -js -sd "$STORE" >/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$STORE"' EXIT
for _ in $(seq 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.1
done

run() {
    local out
    out=$(target/release/loadgen --url "127.0.0.1:$PORT" --timeout 20 "$@")
    echo "$out" | grep '^RESULT'
    if echo "$out" | grep -q 'complete=no'; then
        echo "loadgen lost messages: $*" >&2
        exit 1
    fi
}
run --mode pubsub --pubs 1 --subs 0 --msgs 20000 --size 16
run --mode pubsub --pubs 2 --subs 3 --msgs 20000 --size 128
run --mode reqrep --pubs 1 --msgs 2000 --size 128
run --mode idle --conns 200 --hold 0
run --mode latency --rate 5000 --msgs 2000 --size 128
run --mode js --storage file --pubs 2 --msgs 5000 --size 128
run --mode js --storage memory --pubs 1 --msgs 5000 --size 128

# Across a route: a two-node cluster, publishers on one node, subscribers on the other.
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
APORT=$(free) AROUTE=$(free) BPORT=$(free)
target/release/rnats-server -a 127.0.0.1 -p "$APORT" --cluster "nats://127.0.0.1:$AROUTE" \
    --cluster_name smoke >/dev/null 2>&1 &
A=$!
target/release/rnats-server -a 127.0.0.1 -p "$BPORT" --cluster nats://127.0.0.1:-1 \
    --cluster_name smoke --routes "nats://127.0.0.1:$AROUTE" >/dev/null 2>&1 &
B=$!
trap 'kill $SERVER $A $B 2>/dev/null || true; rm -rf "$STORE"' EXIT
for port in "$APORT" "$BPORT"; do
    for _ in $(seq 50); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
        sleep 0.1
    done
done
sleep 1.5 # the route forms (B dials A at once, and again each second until A is up)
out=$(target/release/loadgen --url "127.0.0.1:$APORT" --sub-url "127.0.0.1:$BPORT" --settle-ms 300 \
    --timeout 20 --mode pubsub --pubs 1 --subs 2 --msgs 20000 --size 128)
echo "$out" | grep '^RESULT'
if echo "$out" | grep -q 'complete=no'; then
    echo "loadgen lost messages across the route" >&2
    exit 1
fi
