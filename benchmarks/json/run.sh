#!/usr/bin/env bash
# End-to-end speed of the `json` format: a file of Nexmark-like bids (the row shape of
# crates/stc-connectors/benches/json_decode.rs) read by the filesystem source, decoded, and
# filtered to nothing, at parallelism 1. Reports MiB of input per CPU second (user+sys), i.e.
# per core; file reading and line splitting are included, so decode alone is faster.
# Usage: benchmarks/json/run.sh [ROWS] [RUNS]   (defaults 2000000 rows, 3 runs)
# STC_BENCH_BIN=PATH runs that binary instead of building one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROWS="${1:-2000000}"
RUNS="${2:-3}"
source "$(dirname "${BASH_SOURCE[0]}")/../stc-bin.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 benchmarks/json/gen_bids.py "$ROWS" "$work/bids.json"
cat > "$work/job.sql" <<SQL
CREATE TABLE bids (auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, dateTime TIMESTAMP(3))
  WITH ('connector' = 'filesystem', 'path' = '$work/bids.json', 'format' = 'json');
CREATE TABLE sink (auction BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO sink SELECT auction FROM bids WHERE price < 0;
SQL
bytes=$(stat -c %s "$work/bids.json")
echo "json format, $ROWS rows ($((bytes / 1048576)) MiB), parallelism 1, profile $PROFILE"
for _ in $(seq 1 "$RUNS"); do
  /usr/bin/time -f "%e %U %S" -o "$work/time" "$BIN" run "$work/job.sql" -p 1 >/dev/null 2>"$work/err" \
    || { tail -n 5 "$work/err" >&2; exit 1; }
  read -r wall user sys < "$work/time"
  python3 -c "
b, n, w, cpu = $bytes, $ROWS, $wall, $user + $sys
print(f'wall {w:.2f} s, cpu {cpu:.2f} s: {b / 2**20 / cpu:.0f} MiB/s per core, {n / cpu / 1e3:.0f} K rows/s per core')"
done
