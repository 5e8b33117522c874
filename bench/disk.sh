#!/usr/bin/env bash
# What the statistics cost on disk: a database made by `generate` (DB, default the 1M one
# bench/stats.sh keeps), against the same data with every table that is derived from the
# raw rows dropped. Both are VACUUMed copies, so free pages count for neither. Prints the
# size of each part and the ratios: raw rows only, + the statistics tallies, + what fixed it.
#
#   bench/disk.sh                      # /tmp/ras-1m.db
#   DB=/tmp/ras-100k.db bench/disk.sh
set -euo pipefail
DB=${DB:-/tmp/ras-1m.db}
[ -e "$DB" ] || { echo "no $DB: make it with bench/stats.sh or generate" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

size() { stat -c %s "$1"; }
sqlite3 "$DB" "VACUUM INTO '$work/all.db'"
cp "$work/all.db" "$work/stats.db"
sqlite3 "$work/stats.db" "DROP TABLE learner_checks; DROP TABLE fix_tally; DROP TABLE fix_time_tally;
    DROP TABLE fix_version_tally; VACUUM;"
cp "$work/stats.db" "$work/raw.db"
sqlite3 "$work/raw.db" "DROP TABLE failure_tally; DROP TABLE failure_day_tally;
    DROP TABLE failure_error_tally; DROP TABLE learner_tally; DROP TABLE workshop_tally; VACUUM;"
raw=$(size "$work/raw.db"); stats=$(size "$work/stats.db"); all=$(size "$work/all.db")
echo "$DB: $(sqlite3 "$DB" 'select count(*) from submissions') submissions"
awk -v r="$raw" -v s="$stats" -v a="$all" 'BEGIN {
    printf "  raw rows only:                       %6.1f MiB\n", r / 1048576
    printf "  + statistics tallies:                %6.1f MiB  (%.2f x the raw rows)\n", s / 1048576, s / r
    printf "  + what fixed it (per-learner state): %6.1f MiB  (%.2f x the raw rows)\n", a / 1048576, a / r }'
echo "  largest parts:"
sqlite3 "$work/all.db" "SELECT printf('    %-36s %7.1f MiB', name, sum(pgsize) / 1048576.0)
    FROM dbstat GROUP BY name ORDER BY sum(pgsize) DESC LIMIT 12"
