#!/usr/bin/env bash
# Runs the same loadgen scenarios against rnats-server and the reference nats-server,
# both on free loopback ports, and prints a side-by-side table (medians of RUNS runs,
# ratio rnats/reference). See benches/README.md.
#
#   benches/compare.sh            # RUNS=3 by default
#   RUNS=2 REF=/usr/sbin/nats-server benches/compare.sh
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
REF=${REF:-/usr/sbin/nats-server}
TIMEOUT=${TIMEOUT:-60}
LOG=$(mktemp -d /tmp/rnats-compare.XXXXXX)

cargo build --release -q -p rnats-server --bin rnats-server
cargo build --release -q -p rnats-bench --bin loadgen
RNATS=target/release/rnats-server
LOADGEN=target/release/loadgen

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

wait_port() {
    for _ in $(seq 50); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "server on port $1 did not come up" >&2
    exit 1
}

# start_pair [js]: starts rnats and the reference on free ports (with JetStream, each in
# a store directory of its own, when asked); sets RPORT and GPORT.
start_pair() {
    local rargs=() gargs=()
    if [ "${1:-}" = js ]; then
        mkdir -p "$LOG/js-rnats" "$LOG/js-ref"
        rargs=(-js -sd "$LOG/js-rnats")
        gargs=(-js -sd "$LOG/js-ref")
    fi
    RPORT=$(free_port)
    "$RNATS" -a 127.0.0.1 -p "$RPORT" "${rargs[@]}" >>"$LOG/rnats.log" 2>&1 &
    PIDS+=($!)
    RPIDS=($!)
    GPORT=$(free_port)
    while [ "$GPORT" = "$RPORT" ]; do GPORT=$(free_port); done
    "$REF" -a 127.0.0.1 -p "$GPORT" "${gargs[@]}" >>"$LOG/ref.log" 2>&1 &
    PIDS+=($!)
    GPIDS=($!)
    wait_port "$RPORT"
    wait_port "$GPORT"
    RTARGET=$RPORT
    GTARGET=$GPORT
}

# start_cluster_pairs: two-node clusters of each kind (the second node routed to the
# first); RTARGET and GTARGET become "publisher port,subscriber port".
start_cluster_pairs() {
    local bin port route sub subroute target
    for kind in rnats ref; do
        if [ $kind = rnats ]; then bin=$RNATS; else bin=$REF; fi
        port=$(free_port) route=$(free_port) sub=$(free_port) subroute=$(free_port)
        "$bin" -a 127.0.0.1 -p "$port" --cluster "nats://127.0.0.1:$route" --cluster_name bench \
            >>"$LOG/$kind-cluster.log" 2>&1 &
        PIDS+=($!)
        "$bin" -a 127.0.0.1 -p "$sub" --cluster "nats://127.0.0.1:$subroute" --cluster_name bench \
            --routes "nats://127.0.0.1:$route" >>"$LOG/$kind-cluster.log" 2>&1 &
        PIDS+=($!)
        wait_port "$port"
        wait_port "$sub"
        target="$port,$sub"
        if [ $kind = rnats ]; then
            RTARGET=$target RPIDS=("${PIDS[@]: -2}")
        else
            GTARGET=$target GPIDS=("${PIDS[@]: -2}")
        fi
    done
    sleep 2 # the routes form (dials are retried every second)
}

start_pair
echo "rnats on 127.0.0.1:$RPORT, reference ($("$REF" --version)) on 127.0.0.1:$GPORT, $RUNS runs each, logs in $LOG"

# name | loadgen arguments | metrics to tabulate
SCENARIOS=(
    "pub16_1p0s|--mode pubsub --pubs 1 --subs 0 --msgs 2000000 --size 16|pub_msgs_s"
    "pub128_1p0s|--mode pubsub --pubs 1 --subs 0 --msgs 2000000 --size 128|pub_msgs_s"
    "pubsub16_1p1s|--mode pubsub --pubs 1 --subs 1 --msgs 2000000 --size 16|pub_msgs_s sub_msgs_s"
    "pubsub128_1p1s|--mode pubsub --pubs 1 --subs 1 --msgs 1000000 --size 128|pub_msgs_s sub_msgs_s sub_mb_s"
    "pubsub1k_1p1s|--mode pubsub --pubs 1 --subs 1 --msgs 500000 --size 1024|pub_msgs_s sub_msgs_s sub_mb_s"
    "pubsub16k_1p1s|--mode pubsub --pubs 1 --subs 1 --msgs 100000 --size 16384|sub_mb_s"
    "fanout128_1p4s|--mode pubsub --pubs 1 --subs 4 --msgs 500000 --size 128|pub_msgs_s sub_msgs_s"
    "fanout128_1p100w|--mode pubsub --pubs 1 --subs 100 --subject bench.x --sub-subject bench.> --msgs 20000 --size 128|sub_msgs_s"
    "queue128_1p4q|--mode pubsub --pubs 1 --subs 4 --queue q --msgs 500000 --size 128|pub_msgs_s sub_msgs_s"
    "fanin16_4p1s|--mode pubsub --pubs 4 --subs 1 --msgs 1000000 --size 16|pub_msgs_s sub_msgs_s"
    "reqrep128_1r|--mode reqrep --pubs 1 --msgs 20000 --size 128 --threads 1|p50_us p90_us p99_us max_us"
    "latency128_10k|--mode latency --rate 10000 --msgs 50000 --size 128 --threads 1|p50_us p99_us p999_us"
)

# Runs one scenario once against a target (a port, or "port,subscriber port" for a
# cluster); prints the RESULT line (or FAILED).
run() {
    local target=$1 args=$2 out urls
    urls="--url 127.0.0.1:${target%%,*}"
    if [ "${target#*,}" != "$target" ]; then
        urls="$urls --sub-url 127.0.0.1:${target#*,} --settle-ms 200"
    fi
    # shellcheck disable=SC2086
    if out=$(timeout $((TIMEOUT + 15)) "$LOADGEN" $urls --timeout "$TIMEOUT" $args 2>&1); then
        echo "$out" | grep '^RESULT'
    else
        echo "FAILED $(echo "$out" | tr '\n' ' ')"
    fi
}

field() { # field KEY LINE
    echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# cpu_s PID...: the CPU seconds (user + system) the processes have used so far.
cpu_s() {
    for pid in "$@"; do awk '{ print $14 + $15 }' "/proc/$pid/stat"; done |
        awk -v hz="$(getconf CLK_TCK)" '{ t += $1 } END { printf "%.2f", t / hz }'
}

# peak_rss PID...: the largest peak resident set (KiB) of the processes.
peak_rss() {
    for pid in "$@"; do awk '/^VmHWM/ { print $2 }' "/proc/$pid/status"; done | sort -n | tail -1
}

# usage GROUP: a table row with the CPU seconds and peak memory each server (pair) used
# over the scenarios of GROUP.
usage() {
    local rc gc rr gr
    rc=$(cpu_s "${RPIDS[@]}") gc=$(cpu_s "${GPIDS[@]}")
    rr=$(peak_rss "${RPIDS[@]}") gr=$(peak_rss "${GPIDS[@]}")
    printf '%-16s %-11s %12s %12s %7s\n' "$1_servers" cpu_s "$rc" "$gc" \
        "$(awk -v a="$rc" -v b="$gc" 'BEGIN { printf "%.2f", a / b }')" >>"$TABLE"
    printf '%-16s %-11s %12s %12s %7s\n' "$1_servers" peak_rss_kib "$rr" "$gr" \
        "$(awk -v a="$rr" -v b="$gr" 'BEGIN { printf "%.2f", a / b }')" >>"$TABLE"
}

TABLE="$LOG/table"
printf '%-16s %-11s %12s %12s %7s   %-32s %s\n' scenario metric rnats reference ratio "rnats runs" "reference runs" >"$TABLE"
# bench SCENARIO...: runs each scenario RUNS times against both servers, tabulates medians.
bench() {
    for s in "$@"; do
        IFS='|' read -r name args metrics <<<"$s"
        echo "== $name: loadgen $args" >&2
        R=()
        G=()
        for _ in $(seq "$RUNS"); do
            # Interleave the servers so drifting background load hits both alike.
            R+=("$(run "$RTARGET" "$args")")
            G+=("$(run "$GTARGET" "$args")")
            echo "   rnats:     ${R[-1]}" >&2
            echo "   reference: ${G[-1]}" >&2
        done
        for m in $metrics; do
            rv=() gv=()
            for l in "${R[@]}"; do v=$(field "$m" "$l"); rv+=("${v:-NaN}"); done
            for l in "${G[@]}"; do v=$(field "$m" "$l"); gv+=("${v:-NaN}"); done
            rm=$(printf '%s\n' "${rv[@]}" | grep -v NaN | median)
            gm=$(printf '%s\n' "${gv[@]}" | grep -v NaN | median)
            ratio=$(awk -v a="$rm" -v b="$gm" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }')
            printf '%-16s %-11s %12s %12s %7s   %-32s %s\n' "$name" "$m" "$rm" "$gm" "$ratio" \
                "$(
                    IFS=,
                    echo "${rv[*]}"
                )" "$(
                    IFS=,
                    echo "${gv[*]}"
                )" >>"$TABLE"
        done
    done
}
bench "${SCENARIOS[@]}"
usage core

# JetStream: a fresh pair of servers with JetStream, each with its own store directory.
# rnats fsyncs every batch before acking it; the reference (by default) does not.
JS_SCENARIOS=(
    "js_file128_1p|--mode js --storage file --pubs 1 --msgs 200000 --size 128|acks_s p50_us p99_us"
    "js_file128_4p|--mode js --storage file --pubs 4 --msgs 200000 --size 128|acks_s p50_us p99_us"
    "js_mem128_1p|--mode js --storage memory --pubs 1 --msgs 200000 --size 128|acks_s p50_us p99_us"
)
start_pair js
bench "${JS_SCENARIOS[@]}"
usage js

# Clusters: publishers on one server, subscribers on the other, every message over a
# route.
CLUSTER_SCENARIOS=(
    "route128_1p1s|--mode pubsub --pubs 1 --subs 1 --msgs 1000000 --size 128|sub_msgs_s"
    "route1k_1p1s|--mode pubsub --pubs 1 --subs 1 --msgs 500000 --size 1024|sub_mb_s"
    "routeq128_1p4q|--mode pubsub --pubs 1 --subs 4 --queue q --msgs 500000 --size 128|sub_msgs_s"
)
start_cluster_pairs
bench "${CLUSTER_SCENARIOS[@]}"
usage cluster

# Memory: a fresh server of each kind holding IDLE_CONNS idle connections with one
# subscription each; its resident set size once they are all set up.
IDLE_CONNS=${IDLE_CONNS:-10000}
idle_rss() { # idle_rss BINARY -> RSS in KiB with the idle connections open
    local bin=$1 port pid out rss
    port=$(free_port)
    "$bin" -a 127.0.0.1 -p "$port" >"$LOG/idle-$(basename "$bin").log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_port "$port"
    out="$LOG/idle-loadgen.out"
    "$LOADGEN" --url "127.0.0.1:$port" --mode idle --conns "$IDLE_CONNS" --hold 5 >"$out" 2>&1 &
    local lg=$!
    for _ in $(seq 600); do
        grep -q '^RESULT' "$out" && break
        kill -0 "$lg" 2>/dev/null || break
        sleep 0.1
    done
    rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
    grep -q '^RESULT' "$out" || rss=FAILED
    wait "$lg" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    echo "$rss"
}
echo "== idle: $IDLE_CONNS connections with a subscription each" >&2
RRSS=$(idle_rss "$RNATS")
GRSS=$(idle_rss "$REF")
ratio=$(awk -v a="$RRSS" -v b="$GRSS" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", a / b }')
printf '%-16s %-11s %12s %12s %7s\n' "idle${IDLE_CONNS}" rss_kib "$RRSS" "$GRSS" "$ratio" >>"$TABLE"

echo
cat "$TABLE"
echo "(medians of $RUNS runs; for *_us metrics lower is better, for rates higher is better)"
if grep -q -i 'slow consumer' "$LOG/rnats.log" "$LOG/ref.log" 2>/dev/null; then
    echo "note: slow consumer reported in server logs under $LOG"
fi
