#!/usr/bin/env bash
# The Nexmark benchmark: every query q0..q22 that stc runs, over EVENTS events at parallelism 1
# and 2, side by side with Apache Flink 2.3 (PyPI) on the same events; writes docs/benchmarks.md.
#
# Usage (from anywhere): benchmarks/nexmark/run.sh [--no-flink] [EVENTS] [QUERY...]
#   EVENTS defaults to 10000000; QUERY e.g. q0 q5 (default: all).
# Needs the PyFlink venv of tools/flink-golden for the Flink side (run that once) and Java 17.
# Builds stc with --profile bench (release code; STC_BENCH_PROFILE overrides).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
flags=()
if [ "${1:-}" = "--no-flink" ]; then flags+=(--no-flink); shift; fi
events="${1:-10000000}"
[ $# -gt 0 ] && shift
profile="${STC_BENCH_PROFILE:-bench}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/stc-target}"
# The path of the binary as cargo reports it (the target directory may be remapped).
bin="$(cargo build --profile "$profile" --bin stc --message-format=json 2>/dev/null \
  | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)"
[ -x "$bin" ] || { echo "run.sh: building stc failed" >&2; cargo build --profile "$profile" --bin stc; exit 1; }
exec python3 benchmarks/nexmark/bench.py --stc "$bin" --events "$events" --profile "$profile" \
  --command "${STC_BENCH_PROFILE:+STC_BENCH_PROFILE=$profile }benchmarks/nexmark/run.sh ${flags[*]:-}${flags[*]:+ }$events${*:+ $*}" "${flags[@]}" "$@"
