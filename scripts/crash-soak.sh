#!/usr/bin/env bash
# Crash soak: the kill -9 test of tests/api/crash.rs for many cycles (default 1,000).
#
#   scripts/crash-soak.sh [CYCLES] [SEED]
#
# Builds the debug test binary, runs a snapshot of it and of `nexus` (so a rebuild meanwhile
# cannot swap the binary under the soak), and prints: cycles survived, writes acknowledged,
# writes verified. The full log is kept in $SOAK_LOG (default /tmp/nexus-crash-soak.log).
set -euo pipefail
cd "$(dirname "$0")/.."

cycles="${1:-${NEXUS_CRASH_CYCLES:-1000}}"
seed="${2:-${NEXUS_CRASH_SEED:-}}"
log="${SOAK_LOG:-/tmp/nexus-crash-soak.log}"
target="${CARGO_TARGET_DIR:-target}"

test_bin="$(cargo test --locked --test api --no-run --message-format=json 2>/dev/null |
    grep -o '"executable":"[^"]*/api-[^"]*"' | tail -1 | cut -d'"' -f4)"
[ -x "$test_bin" ] || { echo "cannot find the api test binary" >&2; exit 1; }
snapshot="$(mktemp -d)"
trap 'rm -rf "$snapshot"' EXIT
cp "$test_bin" "$snapshot/api"
cp "$target/debug/nexus" "$snapshot/nexus"

echo "crash soak: $cycles cycles; log in $log"
status=0
env NEXUS_TEST_BIN="$snapshot/nexus" NEXUS_CRASH_CYCLES="$cycles" \
    ${seed:+NEXUS_CRASH_SEED="$seed"} \
    "$snapshot/api" crash::acknowledged_writes_survive_kill_9_whole_and_nothing_half_written_appears --exact --nocapture --test-threads=1 >"$log" 2>&1 ||
    status=$?

last="$(grep '^crash cycle ' "$log" | tail -1 || true)"
survived="$(sed -n 's/^crash cycle \([0-9]*\)\/.*/\1/p' <<<"$last")"
acknowledged="$(sed -n 's/.*totals: acknowledged \([0-9]*\),.*/\1/p' <<<"$last")"
verified="$(sed -n 's/.*, verified \([0-9]*\),.*/\1/p' <<<"$last")"
unanswered="$(sed -n 's/.*, unanswered \([0-9]*\) (committed \([0-9]*\)).*/\1 (\2 found committed)/p' <<<"$last")"
echo "== crash soak summary"
echo "seed:                 $(sed -n 's/.*seed \([0-9]*\).*/\1/p' "$log" | head -1)"
echo "cycles survived:      ${survived:-0} of $cycles"
echo "writes acknowledged:  ${acknowledged:-0}"
echo "writes verified:      ${verified:-0}"
echo "writes unanswered:    ${unanswered:-0}"
if [ "$status" -ne 0 ]; then
    echo "FAILED; the failure:"
    grep -A8 'panicked' "$log" | head -40
fi
exit "$status"
