#!/usr/bin/env bash
# Ingestion benchmark, every figure from the same rounds on the same machine: a release build
# of the server on a fresh database file (WAL, synchronous=FULL), loaded over loopback by wrk
# with bench/post.lua's realistic reports; optionally another build of this server
# (BASELINE_BIN, e.g. an older commit) and the 2016 server (ORIGINAL_START) under the same
# load; then the storage alone (benches/sqlite_reference.rs: rows only, and with tallies).
# Rounds interleave the variants, so machine noise hits them alike; medians and ratios at
# the end. Then the throttle's memory with a million distinct client addresses.
#
#   bench/ingest.sh                                  # 3 rounds of 10 s, 32 connections
#   BASELINE_BIN=/tmp/old/result-aggregation-server \
#   ORIGINAL_START='/tmp/orig2016/run.sh {port} {db}' RUNS=5 bench/ingest.sh
#
# ORIGINAL_START is a command with {port} and {db} in it that serves the 2016 server in the
# foreground until killed (how to set one up: PERFORMANCE.md). Needs wrk. Traffic goes to
# 127.0.0.1 only and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
CONNECTIONS=${CONNECTIONS:-32}
THROTTLE_SECONDS=${THROTTLE_SECONDS:-30}
BASELINE_BIN=${BASELINE_BIN:-}
ORIGINAL_START=${ORIGINAL_START:-}

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release --quiet
bin=target/release/result-aggregation-server
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -- -"$pid" 2>/dev/null; rm -rf "$work"' EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts a command in its own process group; sets pid and url once it answers.
start() {
    local port=$1; shift
    setsid "$@" >"$work/server.log" 2>&1 &
    pid=$!
    url=http://127.0.0.1:$port
    for _ in $(seq 600); do
        curl -s -o /dev/null "$url/" && return 0
        sleep 0.05
    done
    cat "$work/server.log" >&2; exit 1
}

stop() {
    kill -TERM -- -"$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# wrk prints latency as 1.23ms / 456.78us / 1.02s: in milliseconds.
to_ms() {
    awk '{ v = $1; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } print v }'
}

# Loads $url for one round; appends "rate p50 p99 rss" to $work/$1 and prints a line.
load() {
    local name=$1 db=$2 rss=0
    wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s bench/post.lua \
        "$url/installation_data/" >"$work/wrk.txt" &
    local wrk_pid=$!
    # Peak RSS of the whole process group (a WSGI server has several processes).
    while kill -0 "$wrk_pid" 2>/dev/null; do
        local now
        now=$(ps -o rss= -p "$(pgrep -d, -g "$pid")" 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
        [ "$now" -gt "$rss" ] && rss=$now
        sleep 0.5
    done
    wait "$wrk_pid"
    local rate p50 p99 refused requests stored
    rate=$(awk '/Requests\/sec/ { print $2 }' "$work/wrk.txt")
    p50=$(awk '$1 == "50%" { print $2 }' "$work/wrk.txt" | to_ms)
    p99=$(awk '$1 == "99%" { print $2 }' "$work/wrk.txt" | to_ms)
    refused=$(awk '/Non-2xx/ { print $5 }' "$work/wrk.txt")
    requests=$(awk '/requests in/ { print $1 }' "$work/wrk.txt")
    stop
    stored=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from attempts').fetchone()[0])" "$db")
    printf '  %-9s %8.0f reports/s, p50 %6.2f ms, p99 %7.2f ms, peak RSS %4d MiB, %s answered, %s not 200, %s stored\n' \
        "$name" "$rate" "$p50" "$p99" $((rss / 1024)) "$requests" "${refused:-0}" "$stored"
    [ -z "$refused" ] || { echo "some answers were not 200" >&2; exit 1; }
    # Every 200 was durable before it was sent: the database holds at least as many.
    [ "$stored" -ge "$requests" ] || { echo "stored fewer than acknowledged" >&2; exit 1; }
    echo "$rate $p50 $p99 $rss" >>"$work/$name"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "ingestion: $RUNS rounds x ${SECONDS_PER_RUN}s, $CONNECTIONS connections, bench/post.lua reports"
for round in $(seq "$RUNS"); do
    echo "round $round:"
    port=$(free_port); db=$work/server.db; rm -f "$db"*
    start "$port" env RUST_LOG=warn $bin --db "$db" --listen "127.0.0.1:$port" --rate-limit off
    load server "$db"
    if [ -n "$BASELINE_BIN" ]; then
        port=$(free_port); db=$work/baseline.db; rm -f "$db"*
        start "$port" env RUST_LOG=warn "$BASELINE_BIN" --db "$db" --listen "127.0.0.1:$port" --rate-limit off
        load baseline "$db"
    fi
    if [ -n "$ORIGINAL_START" ]; then
        port=$(free_port); db=$work/original.db; rm -f "$db"*
        command=${ORIGINAL_START//\{port\}/$port}; command=${command//\{db\}/$db}
        start "$port" bash -c "$command"
        load original "$db"
    fi
    cargo bench --quiet --bench sqlite_reference 2>/dev/null >"$work/ref.txt"
    v2rows=$(awk '/version 2 rows only/ { print $(NF-1) }' "$work/ref.txt")
    rows=$(awk '/, rows only/ { print $(NF-1) }' "$work/ref.txt")
    tallies=$(awk '/with tallies/ { print $(NF-1) }' "$work/ref.txt")
    printf '  storage alone, 500 per transaction: version 2 rows only %s, rows only %s, with tallies %s reports/s\n' \
        "$v2rows" "$rows" "$tallies"
    echo "$v2rows" >>"$work/v2rows"; echo "$rows" >>"$work/rows"; echo "$tallies" >>"$work/tallies"
done

echo "medians:"
column_median() { awk -v c="$2" '{ print $c }' "$work/$1" | median; }
for name in server baseline original; do
    [ -e "$work/$name" ] || continue
    printf '  %-9s %8.0f reports/s, p50 %.2f ms, p99 %.2f ms, peak RSS %d MiB\n' "$name" \
        "$(column_median "$name" 1)" "$(column_median "$name" 2)" "$(column_median "$name" 3)" \
        $(( $(column_median "$name" 4) / 1024 ))
done
v2rows=$(median <"$work/v2rows"); rows=$(median <"$work/rows"); tallies=$(median <"$work/tallies")
echo "  storage alone: version 2 rows only $v2rows, rows only $rows, with tallies $tallies reports/s"
server=$(column_median server 1)
awk -v s="$server" -v v="$v2rows" -v r="$rows" -v t="$tallies" 'BEGIN {
    printf "  server / version 2 rows only = %.2f; server / rows only = %.2f; with tallies / rows only = %.2f\n", s / v, s / r, t / r }'
for name in baseline original; do
    [ -e "$work/$name" ] || continue
    awk -v s="$server" -v b="$(column_median "$name" 1)" -v n="$name" \
        'BEGIN { printf "  server / %s = %.2f\n", n, s / b }'
done

[ "$THROTTLE_SECONDS" -gt 0 ] || exit 0
echo "throttle: ${THROTTLE_SECONDS}s of submissions from new addresses via a trusted proxy"
port=$(free_port); db=$work/throttle.db; rm -f "$db"*
start "$port" env RUST_LOG=warn $bin --db "$db" --listen "127.0.0.1:$port" --rate-limit 100/hour --trusted-proxy 127.0.0.1
wrk -t2 -c64 -d"${THROTTLE_SECONDS}s" -s bench/throttle.lua "$url/installation_data/" >"$work/wrk.txt"
rss=$(awk '/VmHWM/ { print $2 }' "/proc/$(pgrep -g "$pid" -f result-aggregation-server | head -1)/status")
stop
echo "  $(awk '/requests in/ { print $1 }' "$work/wrk.txt") distinct addresses, peak RSS $((rss / 1024)) MiB"
