#!/usr/bin/env bash
# Statistics at scale: a database of SUBMISSIONS realistic reports (made once with the
# `generate` subcommand, timed, and kept at $DB), then the latency of the overview, a
# workshop view and one package's detail (latest and all attempts), each for
# SECONDS_PER_URL with one connection, while a second wrk keeps ingesting; and the start-up
# time on that database.
#
#   bench/stats.sh                         # 1,000,000 submissions in /tmp/ras-1m.db
#   SUBMISSIONS=100000 DB=/tmp/ras-100k.db bench/stats.sh
#   GENERATE_ARGS="--workshops 40" DB=/tmp/ras-1m-40.db bench/stats.sh   # a few huge workshops
#
# Needs wrk. Traffic goes to 127.0.0.1 only and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
SUBMISSIONS=${SUBMISSIONS:-1000000}
DB=${DB:-/tmp/ras-1m.db}
SECONDS_PER_URL=${SECONDS_PER_URL:-10}
STARTS=${STARTS:-5}

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release --quiet
bin=target/release/result-aggregation-server
work=$(mktemp -d)
server_pid=
load_pid=
trap '[ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null; [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT

if [ ! -e "$DB" ]; then
    # shellcheck disable=SC2086 # GENERATE_ARGS is a list of flags
    /usr/bin/time -f "generate: %e s, peak RSS %M KiB" \
        $bin generate --db "$DB" --submissions "$SUBMISSIONS" ${GENERATE_ARGS:-}
fi
echo "database: $(du -m "$DB" | cut -f1) MiB"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port

# Start-up: from exec to the first answered request, STARTS times (the first start also
# migrates an older file; it is reported apart).
for run in $(seq 0 "$STARTS"); do
    t0=$(date +%s%N)
    RUST_LOG=warn $bin --db "$DB" --listen "127.0.0.1:$port" --rate-limit off 2>>"$work/server.log" &
    server_pid=$!
    until curl -sf "$url/healthz" >/dev/null 2>&1; do sleep 0.002; done
    t1=$(date +%s%N)
    kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=
    ms=$(( (t1 - t0) / 1000000 ))
    if [ "$run" = 0 ]; then echo "first start (migrations included): ${ms} ms"; else echo "$ms" >>"$work/starts"; fi
done
echo "start-up to first answered request, median of $STARTS: $(sort -n "$work/starts" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }') ms"

RUST_LOG=warn $bin --db "$DB" --listen "127.0.0.1:$port" --rate-limit off 2>>"$work/server.log" &
server_pid=$!
until curl -sf "$url/healthz" >/dev/null 2>&1; do sleep 0.01; done
# The workshop with most learners, and the package that fails most (its detail includes
# what fixed it).
workshop=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select workshop_id from user_system_info group by 1 order by count(*) desc limit 1').fetchone()[0])" "$DB")
package=$(curl -s "$url/view/?export=json" | python3 -c 'import json, sys; print(json.load(sys.stdin)["most_failed_package_names"][0]["name"])')
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
echo "ingestion goes on meanwhile: wrk -c4 POSTing reports"
wrk -t1 -c4 -d$((SECONDS_PER_URL * 20))s -s bench/post.lua "$url/installation_data/" >"$work/load.txt" &
load_pid=$!
sleep 1
for path in "/view/?export=json" "/view/?export=json&all_attempts=1" \
    "/view/$(enc "$workshop")/?export=json" "/view/$(enc "$workshop")/?export=json&all_attempts=1" \
    "/view/detail/?package_one_name=$(enc "$package")&export=json" \
    "/view/detail/?package_one_name=$(enc "$package")&export=json&all_attempts=1" \
    "/view/detail/?package_one_name=$(enc "$package")&workshop_id=$(enc "$workshop")&export=json" \
    "/view/" "/view/detail/?package_one_name=$(enc "$package")" \
    "/fixes/?export=json" "/fixes/?workshop_id=$(enc "$workshop")&min_learners=1&export=json" \
    "/fixes/"; do
    wrk -t1 -c1 -d"${SECONDS_PER_URL}s" --latency "$url$path" >"$work/wrk.txt"
    p50=$(awk '$1 == "50%" { print $2 }' "$work/wrk.txt")
    p99=$(awk '$1 == "99%" { print $2 }' "$work/wrk.txt")
    echo "  GET $path: p50 $p50, p99 $p99, $(awk '/requests in/ { print $1 }' "$work/wrk.txt") requests"
done
kill -INT "$load_pid"; wait "$load_pid" 2>/dev/null || true; load_pid=
echo "  (ingestion meanwhile: $(awk '/Requests\/sec/ { print $2 }' "$work/load.txt") reports/s)"
echo "  peak RSS of the server: $(( $(awk '/VmHWM/ { print $2 }' "/proc/$server_pid/status") / 1024 )) MiB"
