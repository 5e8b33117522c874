#!/usr/bin/env bash
# What advice costs a POST (issue 22): the latency of submissions whose failures are checks
# many learners failed (bench/post.lua with POST_FAILURES=common), on a database of a million reports, for this
# build and for BASELINE_BIN (a build without advice, e.g. main's), each on a fresh copy of
# the same database, rounds interleaved so machine noise hits both alike; medians at the end.
# Each round loads each build at every level of CONNECTIONS for SECONDS_PER_RUN, long enough
# for the server to take at least one new advice snapshot in the background (it logs each).
#
#   BASELINE_BIN=/tmp/main/result-aggregation-server bench/advice.sh
#   DB=/tmp/ras-1m.db RUNS=5 SECONDS_PER_RUN=60 CONNECTIONS="1 4 32" BASELINE_BIN=... bench/advice.sh
#
# DB is made with `generate --submissions 1000000` when missing (minutes) and kept. Needs
# wrk; traffic goes to 127.0.0.1 only and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
DB=${DB:-/tmp/ras-1m.db}
RUNS=${RUNS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-60}
CONNECTIONS=${CONNECTIONS:-"1 32"}
BIN=${BIN:-target/release/result-aggregation-server}
: "${BASELINE_BIN:?set BASELINE_BIN to a build without advice (main before it)}"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
[ "$BIN" != target/release/result-aggregation-server ] || cargo build --release --quiet
work=$(mktemp -d -p "$(dirname "$DB")")
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
if [ ! -e "$DB" ]; then
    "$BIN" generate --db "$DB" --submissions 1000000
fi

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
to_ms() {
    awk '{ v = $1; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } print v }'
}
# One report as the load sends them, for the first answer.
first_report() {
    python3 - <<'PY'
import json
print(json.dumps({"user_system_info": {"system": "Windows", "distribution_name": "Windows",
    "python_version": "3.11.7"}, "successful_installs": [],
    "failed_installs": [{"name": "Git Bash (git-bash)", "version": None,
                         "error_description": "not found"}], "unique_user_id": None}))
PY
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "database: $DB, $(du -m "$DB" | cut -f1) MiB; $RUNS rounds, ${SECONDS_PER_RUN}s per level, connections: $CONNECTIONS"
for round in $(seq "$RUNS"); do
    echo "round $round:"
    for name in advice baseline; do
        bin=$BIN; [ "$name" = baseline ] && bin=$BASELINE_BIN
        cp "$DB" "$work/copy.db"; rm -f "$work/copy.db-wal" "$work/copy.db-shm"
        # The copy's pages on disk first, or their write-back stalls the load's fsyncs.
        sync
        port=$(free_port); url=http://127.0.0.1:$port
        RUST_LOG=warn,result_aggregation_server::storage::advice=debug \
            "$bin" --db "$work/copy.db" --listen "127.0.0.1:$port" --rate-limit off 2>"$work/log" &
        pid=$!
        until curl -sf "$url/healthz" >/dev/null 2>&1; do sleep 0.05; done
        # The first answer after start-up waits for the first snapshot: timed apart.
        first=$(curl -s -o "$work/answer" -w '%{time_total}' -H 'Content-Type: application/json' \
            --data "$(first_report)" "$url/installation_data/")
        entries=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1])).get("advice", [])))' "$work/answer")
        line="  $name: first answer $(awk -v t="$first" 'BEGIN { printf "%.0f", t * 1000 }') ms ($entries advice entries)"
        for c in $CONNECTIONS; do
            POST_FAILURES=common wrk -t1 -c"$c" -d"${SECONDS_PER_RUN}s" --latency -s bench/post.lua \
                "$url/installation_data/" >"$work/wrk.txt"
            rate=$(awk '/Requests\/sec/ { print $2 }' "$work/wrk.txt")
            p50=$(awk '$1 == "50%" { print $2 }' "$work/wrk.txt" | to_ms)
            p99=$(awk '$1 == "99%" { print $2 }' "$work/wrk.txt" | to_ms)
            ! grep -q Non-2xx "$work/wrk.txt" || { cat "$work/wrk.txt" >&2; exit 1; }
            line="$line; c=$c: p50 $p50 ms, p99 $p99 ms, $rate/s"
            echo "$p50 $p99 $rate" >>"$work/$name-$c"
        done
        kill -TERM "$pid"; wait "$pid" || true; pid=
        echo "$line"
        grep -o 'a snapshot of .*' "$work/log" | sed 's/^/    /' || true
    done
done
echo "medians:"
for c in $CONNECTIONS; do
    for name in advice baseline; do
        printf '  c=%-3s %-8s p50 %.3f ms, p99 %.3f ms, %.0f reports/s\n' "$c" "$name" \
            "$(awk '{ print $1 }' "$work/$name-$c" | median)" \
            "$(awk '{ print $2 }' "$work/$name-$c" | median)" \
            "$(awk '{ print $3 }' "$work/$name-$c" | median)"
    done
    awk -v a="$(awk '{ print $1 }' "$work/advice-$c" | median)" \
        -v b="$(awk '{ print $1 }' "$work/baseline-$c" | median)" -v c="$c" \
        'BEGIN { printf "  c=%-3s advice - baseline: p50 %+.3f ms\n", c, a - b }'
done
