#!/usr/bin/env bash
# Stateful-operator benchmark (the stateful-SQL issue): events/s and events/s per core for a
# regular join with growing state, an interval join, a lookup join against PostgreSQL with a
# ~90 % cache hit rate, and an updating Top-N, each at parallelism 1 and 2.
#
# Usage: benchmarks/stateful/run.sh [EVENTS] [QUERY...]
#   EVENTS (default 2000000) is the number of input rows of each job (a join reads half from
#   each side); QUERY is any of regular_join interval_join lookup_join top_n (default: all).
# Needs the PostgreSQL of the development machine (127.0.0.1:5432, database test) for the
# lookup join: the script creates the dimension table (2·EVENTS rows) and drops it after.
# /core = events / CPU seconds of the stc process (PostgreSQL's own CPU is not counted).
# STC_BENCH_PROFILE=dev uses the debug build (figures then only mean something as ratios);
# STC_BENCH_BIN=PATH runs that binary instead of building one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
EVENTS="${1:-2000000}"
[ $# -gt 0 ] && shift
QUERIES=("$@")
[ ${#QUERIES[@]} -gt 0 ] || QUERIES=(regular_join interval_join lookup_join top_n)
source "$(dirname "${BASH_SOURCE[0]}")/../stc-bin.sh"
work=$(mktemp -d)
DIM="stc_bench_users_$$"
psql_() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres -d test "$@"; }
cleanup() {
  rm -rf "$work"
  if [[ " ${QUERIES[*]} " == *" lookup_join "* ]]; then psql_ -c "DROP TABLE IF EXISTS $DIM" || true; fi
}
trap cleanup EXIT
if [[ " ${QUERIES[*]} " == *" lookup_join "* ]]; then
  psql_ -c "CREATE TABLE $DIM (id BIGINT PRIMARY KEY, name VARCHAR(32), country VARCHAR(2));
            INSERT INTO $DIM SELECT g, 'user-' || g, chr(65 + (g % 26)::int) || chr(65 + (g % 7)::int)
              FROM generate_series(0, 2 * $EVENTS) g; ANALYZE $DIM"
fi
echo "stc stateful operators, $EVENTS events, $(nproc) cores, profile $PROFILE, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| query | p | events/s | events/s per core | peak RSS | rows written | wall s | CPU s |"
echo "|---|---|---|---|---|---|---|---|"
for q in "${QUERIES[@]}"; do
  [ -f "benchmarks/stateful/$q.sql" ] || { echo "run.sh: no query $q" >&2; exit 2; }
  sed "s/\${EVENTS}/$EVENTS/g; s/\${HALF}/$((EVENTS / 2))/g; s/\${DIM}/$DIM/g" \
    "benchmarks/stateful/$q.sql" > "$work/$q.sql"
  for p in 1 2; do
    if ! /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$BIN" run "$work/$q.sql" -p "$p" \
        2>"$work/err" >/dev/null; then
      echo "run.sh: $q at parallelism $p failed:" >&2
      tail -n 5 "$work/err" >&2
      exit 1
    fi
    read -r wall user sys rss < "$work/time"
    python3 - "$q" "$p" "$EVENTS" "$wall" "$user" "$sys" "$rss" "$(tail -n 1 "$work/err")" <<'PY'
import re, sys
q, p, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
wall, user, sys_ = map(float, sys.argv[4:7])
rss = int(sys.argv[7])
# The job's summary line: "Job finished in 1.2 s: 2000 records read, 1000 written (...)".
m = re.search(r"(\d+) written", sys.argv[8])
written = m.group(1) if m else "?"
def k(x):
    return f"{x / 1e6:.2f} M" if x >= 1e6 else f"{x / 1e3:.0f} K"
cpu = user + sys_
print(f"| {q} | {p} | {k(n / wall)} | {k(n / cpu)} | {rss // 1024} MB | {written} | {wall:.2f} | {cpu:.2f} |")
PY
  done
done
