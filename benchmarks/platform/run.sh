#!/usr/bin/env bash
# Platform benchmark: start → first output, and memory of idle jobs; writes
# docs/platform-benchmark.md. Usage: benchmarks/platform/run.sh [IDLE_JOBS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/stc-target}"
# The `bench` profile (release code, in release/) is the one the other benchmarks build.
cargo build --profile bench --locked --bin stc
python3 benchmarks/platform/bench.py "$CARGO_TARGET_DIR/release/stc" "${1:-20}" "${2:-10}"
