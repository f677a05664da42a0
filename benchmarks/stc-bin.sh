# Sourced by the benchmark scripts: sets PROFILE (STC_BENCH_PROFILE, default `bench`: release
# code) and BIN, the stc binary to time: STC_BENCH_BIN if set (a prebuilt binary, e.g. to
# compare two builds in one run), else the one cargo builds for PROFILE, at the path cargo
# reports (the bench profile builds into release/, dev into debug/).
PROFILE="${STC_BENCH_PROFILE:-bench}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/stc-target}"
if [ -n "${STC_BENCH_BIN:-}" ]; then
  BIN="$STC_BENCH_BIN"
else
  BIN="$(cargo build --profile "$PROFILE" --bin stc --message-format=json 2>/dev/null \
    | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)"
  [ -x "$BIN" ] || { echo "building stc failed" >&2; cargo build --profile "$PROFILE" --bin stc; exit 1; }
fi
