#!/usr/bin/env bash
# Checkpoint benchmark (fault-tolerance issue):
#  1. throughput of a keyed GROUP BY with 1-second checkpoints against none, in the same run
#     (the ratio is the checkpointing overhead);
#  2. the same for a join whose state grows with every row (GROWING_ROWS rows of a
#     100-character payload): each checkpoint snapshots all of it, asynchronously; `stc run`
#     reports how long processing was paused for snapshots in all; then with incremental
#     checkpoints (`execution.checkpointing.incremental`), which write only the new rows;
#  3. a long-running join holding 2 M rows and growing by 100 K rows/s, for STEADY_SECS
#     seconds: the CPU time the process used, without checkpoints and with complete or
#     incremental 1-second checkpoints (the input is the same: the source is rate-limited);
#  4. snapshot and restore time of a large keyed state (a join's stored rows): the job is
#     stopped with a savepoint once its sources are done, then restored.
# Usage: benchmarks/checkpoint/run.sh [ROWS] [STATE_ROWS] [PAYLOAD] [GROWING_ROWS]
#   defaults: 5000000 rows; 1000000 state rows of a 1000-character payload (≈ 1 GB of state);
#   4000000 growing rows
# STC_BENCH_PROFILE=dev uses the debug build (figures then only mean something as ratios);
# STC_BENCH_BIN=PATH runs that binary instead of building one.
set -euo pipefail
ROWS="${1:-5000000}"
STATE_ROWS="${2:-1000000}"
PAYLOAD="${3:-1000}"
GROWING_ROWS="${4:-4000000}"
# The `bench` profile (release code) is the one the Nexmark harness builds too: one optimised build.
source "$(dirname "${BASH_SOURCE[0]}")/../stc-bin.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s/\${ROWS}/$ROWS/g" benchmarks/checkpoint/throughput.sql > "$work/throughput.sql"
sed "s/\${ROWS}/$STATE_ROWS/g; s/\${PAYLOAD}/$PAYLOAD/g; s/\${RIGHT}/'rows-per-second' = '1'/" \
  benchmarks/checkpoint/big_state.sql > "$work/big_state.sql"
sed "s/\${ROWS}/$GROWING_ROWS/g; s/\${PAYLOAD}/100/g; s/\${RIGHT}/'number-of-rows' = '1'/" \
  benchmarks/checkpoint/big_state.sql > "$work/growing_join.sql"

run() { # label, script, rows, extra args...
  local label=$1 script=$2 rows=$3; shift 3
  /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$BIN" run "$work/$script" -p 2 "$@" \
    2>"$work/err" >/dev/null
  read -r wall user sys rss < "$work/time"
  python3 - "$label" "$rows" "$wall" "$user" "$sys" "$rss" "$(tail -n1 "$work/err")" <<'PY'
import sys
label, n, wall, user, sys_, rss, summary = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:6]), int(sys.argv[6]), sys.argv[7]
cpu = user + sys_
print(f"{label:22s} rows={n} wall={wall:.2f}s cpu={cpu:.2f}s rows/s={n/wall:,.0f} rows/s/core={n/cpu:,.0f} peak_rss={rss/1024:.0f}MB")
print(f"{'':22s} {summary}")
PY
}
echo "== throughput: GROUP BY over 100k keys, parallelism 2 ($PROFILE build)"
run "no checkpoints" throughput.sql "$ROWS"
run "checkpoints every 1 s" throughput.sql "$ROWS" --set "execution.checkpointing.interval=1 s" \
  --set "execution.checkpointing.dir=$work/ck1"
run "no checkpoints (again)" throughput.sql "$ROWS"

echo "== growing state: a join storing $GROWING_ROWS rows, parallelism 2"
run "no checkpoints" growing_join.sql "$GROWING_ROWS"
run "checkpoints every 1 s" growing_join.sql "$GROWING_ROWS" \
  --set "execution.checkpointing.interval=1 s" --set "execution.checkpointing.dir=$work/ckg"
rm -rf "$work/ckg"
run "1 s, incremental" growing_join.sql "$GROWING_ROWS" \
  --set "execution.checkpointing.interval=1 s" --set "execution.checkpointing.dir=$work/cki" \
  --set "execution.checkpointing.incremental=true"
rm -rf "$work/cki"
run "no checkpoints (again)" growing_join.sql "$GROWING_ROWS"

STEADY_SECS="${STEADY_SECS:-20}"
sed "s/\${ROWS}/2000000/g; s/\${RATE}/100000/g; s/\${START}/2000001/g" \
  benchmarks/checkpoint/steady_state.sql > "$work/steady.sql"
steady() { # label, extra args...
  local label=$1; shift
  rm -rf "$work/cks"
  "$BIN" run "$work/steady.sql" -p 2 "$@" >/dev/null 2>"$work/steady.err" &
  local pid=$! ticks
  sleep "$STEADY_SECS"
  ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  kill -TERM "$pid"
  wait "$pid" || true
  python3 - "$label" "$ticks" "$(getconf CLK_TCK)" "$STEADY_SECS" "$(grep -h 'Job stopped' "$work/steady.err")" <<'PY'
import sys
label, ticks, hz, secs, summary = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
print(f"{label:22s} cpu={ticks / hz:.2f}s in the first {secs}s")
if summary:
    print(f"{'':22s} {summary}")
PY
}
echo "== steady state: a join holding 2000000 rows, +100000 rows/s, ${STEADY_SECS} s, parallelism 2"
steady "no checkpoints"
steady "checkpoints every 1 s" --set "execution.checkpointing.interval=1 s" \
  --set "execution.checkpointing.dir=$work/cks"
steady "1 s, incremental" --set "execution.checkpointing.interval=1 s" \
  --set "execution.checkpointing.dir=$work/cks" --set "execution.checkpointing.incremental=true"
steady "no checkpoints (again)"
rm -rf "$work/cks"

echo "== large state: $STATE_ROWS rows x $PAYLOAD chars in a join's state, parallelism 2"
"$BIN" run "$work/big_state.sql" -p 2 --set "execution.checkpointing.dir=$work/ck2" \
  --set "execution.checkpointing.interval=1 h" >"$work/sp.out" 2>"$work/sp.err" &
pid=$!
# Wait until the left source has emitted everything (the job then idles: the right side
# never matches).
python3 - "$pid" "$STATE_ROWS" <<'PY'
import sys, time, os
pid, rows = int(sys.argv[1]), int(sys.argv[2])
# No progress API in `stc run`: poll RSS growth until it is flat for 3 s.
last, flat = 0, 0
while flat < 3:
    time.sleep(1)
    rss = int(open(f"/proc/{pid}/statm").read().split()[1]) * 4096
    flat = flat + 1 if rss == last else 0
    last = rss
print(f"state built, process RSS {last/1e6:.0f} MB")
PY
start=$(date +%s%N)
kill -TERM "$pid"
wait "$pid" || true
end=$(date +%s%N)
grep -h "Savepoint completed" "$work/sp.out" || { cat "$work/sp.err"; exit 1; }
sp=$(sed -n 's/Savepoint completed. Path: //p' "$work/sp.out")
size=$(du -sm "$sp" | cut -f1)
echo "stop-with-savepoint: ${size} MB written in $(( (end - start) / 1000000 )) ms (SIGTERM to exit)"
"$BIN" run "$work/big_state.sql" -p 2 --restore "$sp" \
  --set "execution.checkpointing.dir=$work/ck3" >/dev/null 2>"$work/restore.err" &
pid=$!
for _ in $(seq 1 600); do
  grep -q "restored from" "$work/restore.err" && break
  sleep 0.5
done
grep "restored from" "$work/restore.err" || cat "$work/restore.err"
kill -KILL "$pid" 2>/dev/null || true
