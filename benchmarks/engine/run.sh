#!/usr/bin/env bash
# Engine benchmark of the foundation issue: CSV → filter+projection → blackhole and
# CSV → 1-minute TUMBLE COUNT/SUM by key → blackhole, at parallelism 1.
# Usage: benchmarks/engine/run.sh [EVENTS]   (default 10000000; run from the repository root)
# Prints wall time, CPU time and events/s per core (events / CPU seconds) per query.
# With STC_BENCH_FLINK=1 it then runs the same queries on Apache Flink 2.3 (the venv of
# tools/flink-golden) for the baseline of the same run. STC_BENCH_BIN=PATH runs a given binary
# (to compare two builds).
set -euo pipefail
N="${1:-10000000}"
PROFILE="${STC_BENCH_PROFILE:-release}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/stc-target}"
mkdir -p benchmarks/engine/data
if [ ! -f benchmarks/engine/data/events.csv ] || [ "$(wc -l < benchmarks/engine/data/events.csv)" != "$N" ]; then
  python3 benchmarks/engine/gen_events.py "$N" benchmarks/engine/data/events.csv
fi
# The binary's path as cargo reports it (the bench profile builds into release/, dev into debug/).
BIN="${STC_BENCH_BIN:-$(cargo build --profile "$PROFILE" --bin stc --message-format=json 2>/dev/null \
  | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)}"
[ -x "$BIN" ] || { echo "run.sh: building stc failed" >&2; cargo build --profile "$PROFILE" --bin stc; exit 1; }
for q in filter_project tumble_agg; do
  /usr/bin/time -f "%e %U %S %M" -o /tmp/stc-bench-time "$BIN" run "benchmarks/engine/$q.sql" -p 1 2>/tmp/stc-bench-err >/dev/null
  read -r wall user sys rss < /tmp/stc-bench-time
  python3 - "$q" "$N" "$wall" "$user" "$sys" "$rss" <<'PY'
import sys
q, n, wall, user, sys_, rss = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:6]), int(sys.argv[6])
cpu = user + sys_
print(f"{q:16s} events={n} wall={wall:.2f}s cpu={cpu:.2f}s events/s={n/wall:,.0f} events/s/core={n/cpu:,.0f} peak_rss={rss/1024:.0f}MB")
PY
done
if [ "${STC_BENCH_FLINK:-0}" = 1 ]; then
  venv="${STC_FLINK_VENV:-/var/tmp/stc-flink-venv}"
  if [ ! -x "$venv/bin/python" ]; then
    echo "Flink is not installed at $venv: run tools/flink-golden once (it installs apache-flink 2.3)" >&2
    exit 2
  fi
  JAVA_HOME="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}" \
    "$venv/bin/python" benchmarks/engine/flink_bench.py "$N" filter_project tumble_agg 2>/dev/null
fi
