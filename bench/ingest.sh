#!/usr/bin/env bash
# Ingestion benchmark: a release build of the server on a fresh database file (WAL,
# synchronous=FULL), loaded over loopback by wrk with realistic 25-check reports, RUNS times;
# then SQLite alone storing the same rows (benches/sqlite_reference.rs); then the throttle's
# memory with a million distinct client addresses. Prints medians; see PERFORMANCE.md.
#
#   bench/ingest.sh                 # defaults: 3 runs of 10 s, 64 connections
#   RUNS=5 SECONDS_PER_RUN=20 CONNECTIONS=32 bench/ingest.sh
#
# Needs wrk (apt-get install wrk). Traffic goes to 127.0.0.1 only and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
CONNECTIONS=${CONNECTIONS:-64}
THROTTLE_SECONDS=${THROTTLE_SECONDS:-45}

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release --quiet
work=$(mktemp -d)
server_pid=
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT

# Starts the server with the given flags; sets server_pid and url.
start() {
    RUST_LOG=warn,result_aggregation_server=info,result_aggregation_server::http::app=warn \
        target/release/result-aggregation-server --listen 127.0.0.1:0 "$@" 2>"$work/server.log" &
    server_pid=$!
    for _ in $(seq 200); do
        url=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/server.log" | head -1 || true)
        [ -n "$url" ] && return 0
        sleep 0.05
    done
    cat "$work/server.log" >&2; exit 1
}

stop() {
    kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# wrk prints latency as 1.23ms / 456.78us / 1.02s: in milliseconds.
to_ms() {
    awk '{ v = $1; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } print v }'
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "ingestion: $RUNS runs x ${SECONDS_PER_RUN}s, $CONNECTIONS connections, 25-check reports"
: >"$work/rates"; : >"$work/p50"; : >"$work/p99"; : >"$work/rss"
for run in $(seq "$RUNS"); do
    rm -f "$work/bench.db"*
    start --db "$work/bench.db" --rate-limit off
    wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s bench/post.lua \
        "$url/installation_data/" >"$work/wrk.txt"
    rss=$(awk '/VmHWM/ { print $2 }' "/proc/$server_pid/status")
    stop
    requests=$(awk '/requests in/ { print $1 }' "$work/wrk.txt")
    rate=$(awk '/Requests\/sec/ { print $2 }' "$work/wrk.txt")
    p50=$(awk '$1 == "50%" { print $2 }' "$work/wrk.txt" | to_ms)
    p99=$(awk '$1 == "99%" { print $2 }' "$work/wrk.txt" | to_ms)
    refused=$(awk '/Non-2xx/ { print $5 }' "$work/wrk.txt")
    stored=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from attempts').fetchone()[0])" "$work/bench.db")
    echo "  run $run: $rate reports/s, p50 ${p50} ms, p99 ${p99} ms, peak RSS $((rss / 1024)) MiB, $requests answered, ${refused:-0} not 200, $stored stored"
    [ -z "$refused" ] || { echo "some answers were not 200" >&2; exit 1; }
    # Every 200 was durable before it was sent: the database holds at least as many.
    [ "$stored" -ge "$requests" ] || { echo "stored fewer than acknowledged" >&2; exit 1; }
    echo "$rate" >>"$work/rates"; echo "$p50" >>"$work/p50"; echo "$p99" >>"$work/p99"; echo "$rss" >>"$work/rss"
done
server_rate=$(median <"$work/rates")
echo "server median: $server_rate reports/s, p50 $(median <"$work/p50") ms, p99 $(median <"$work/p99") ms, peak RSS $(( $(median <"$work/rss") / 1024 )) MiB"

echo "sqlite alone (benches/sqlite_reference.rs), same rows, WAL, synchronous=FULL:"
: >"$work/batched"; : >"$work/single"
for run in $(seq "$RUNS"); do
    cargo bench --quiet --bench sqlite_reference 2>/dev/null >"$work/ref.txt"
    awk '/100 reports per transaction/ { print $NF > "/dev/stderr" }' "$work/ref.txt" 2>/dev/null || true
    grep '100 reports' "$work/ref.txt" | awk '{ print $(NF-1) }' >>"$work/batched"
    grep '1 report per' "$work/ref.txt" | awk '{ print $(NF-1) }' >>"$work/single"
done
batched=$(median <"$work/batched"); single=$(median <"$work/single")
echo "  100 per transaction: median $batched reports/s; 1 per transaction: median $single reports/s"
awk -v s="$server_rate" -v b="$batched" -v o="$single" 'BEGIN {
    printf "  server / sqlite-100-per-tx = %.2f; server / sqlite-1-per-tx = %.2f\n", s / b, s / o }'

echo "throttle: ${THROTTLE_SECONDS}s of submissions from new addresses via a trusted proxy"
rm -f "$work/bench.db"*
start --db "$work/bench.db" --rate-limit 100/hour --trusted-proxy 127.0.0.1
wrk -t2 -c"$CONNECTIONS" -d"${THROTTLE_SECONDS}s" -s bench/throttle.lua "$url/installation_data/" >"$work/wrk.txt"
rss=$(awk '/VmHWM/ { print $2 }' "/proc/$server_pid/status")
stop
echo "  $(awk '/requests in/ { print $1 }' "$work/wrk.txt") distinct addresses, peak RSS $((rss / 1024)) MiB"
