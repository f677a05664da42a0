#!/usr/bin/env bash
# What the Kafka sink's delivery guarantees cost: a file of Nexmark-like bids (JSON) written to
# a Kafka topic as JSON, with checkpoints every second, once per guarantee (at-least-once,
# exactly-once), alternating, RUNS rounds. Exactly-once writes a transaction per checkpoint and
# also keeps the rows of uncommitted transactions in each checkpoint (see
# crates/stc-connectors/src/kafka/sink.rs), which is what this measures against at-least-once.
# The broker is tansu (tools/kafka-broker) on this machine; its CPU is not counted.
# Usage: benchmarks/kafka/sink_guarantees.sh [ROWS] [RUNS]   (defaults 1000000 rows, 3 rounds)
# STC_BENCH_BIN=PATH runs that binary instead of building one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROWS="${1:-1000000}"
RUNS="${2:-3}"
source "$(dirname "${BASH_SOURCE[0]}")/../stc-bin.sh"
bash tools/kafka-broker >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 benchmarks/json/gen_bids.py "$ROWS" "$work/bids.json"
run() { # guarantee, round
  local g=$1 r=$2 topic="bench-$1-$$-$2"
  cat > "$work/job.sql" <<SQL
CREATE TABLE bids (auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, dateTime TIMESTAMP(3))
  WITH ('connector' = 'filesystem', 'path' = '$work/bids.json', 'format' = 'json');
CREATE TABLE out (auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, dateTime TIMESTAMP(3))
  WITH ('connector' = 'kafka', 'topic' = '$topic', 'properties.bootstrap.servers' = '127.0.0.1:9092',
        'format' = 'json', 'sink.delivery-guarantee' = '$g', 'sink.transactional-id-prefix' = '$topic');
INSERT INTO out SELECT * FROM bids;
SQL
  rm -rf "$work/ck"
  /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$BIN" run "$work/job.sql" -p 1 \
    --set "execution.checkpointing.interval=1 s" --set "execution.checkpointing.dir=$work/ck" \
    >/dev/null 2>"$work/err" || { tail -n 5 "$work/err" >&2; exit 1; }
  read -r wall user sys rss < "$work/time"
  python3 -c "
n, w, cpu, rss = $ROWS, $wall, $user + $sys, $rss
print(f'{\"$g\":14s} round $r: wall {w:.2f} s, cpu {cpu:.2f} s, {n / w / 1e3:.0f} K rows/s, {n / cpu / 1e3:.0f} K rows/s per core, peak RSS {rss / 1024:.0f} MB')"
  tail -n 1 "$work/err"
}
echo "file (JSON) -> kafka (JSON), $ROWS rows, parallelism 1, checkpoints every 1 s, profile $PROFILE"
for r in $(seq 1 "$RUNS"); do
  run at-least-once "$r"
  run exactly-once "$r"
done
