#!/usr/bin/env bash
# Fuzzes every operation of the running server's /api/openapi.json with schemathesis, every check,
# and fails on any 5xx, any answer the document does not describe (status, content type, headers
# or body schema), and any input the server judges otherwise than the document.
#
#   .ci/schemathesis.sh path/to/nexus
#
# Needs `schemathesis` (see .ci/requirements-fuzz.txt) on PATH, or its path in $SCHEMATHESIS.
# Optional: NEXUS_FUZZ_MAX_EXAMPLES (default 60 cases per operation and phase; with every check
# the whole run takes about 3 minutes on an idle 2-core box, far longer while it compiles),
# NEXUS_FUZZ_SEED (to replay a run; every run prints its seed), NEXUS_FUZZ_USER_EXAMPLES (default
# a quarter of that, for the `user` pass), NEXUS_FUZZ_WORKERS (default 1), NEXUS_FUZZ_CHECKS
# (default `all`; a list to run fewer), NEXUS_FUZZ_KEEP=1 (keep the temp dir: server log and
# NDJSON reports).
#
# The server runs on a fresh data directory and a free port, with a little seeded data so that
# path ids 1 and 2 exist for users, projects, activities, updates, messages and notifications.
# The operations run in four passes so that none of them can take the fuzzer's own session
# away from the others, and so that both the admin's and a plain user's paths are exercised:
#
#   1. `main`, as `admin`: every GET, POST and PATCH except the session ones below;
#   2. `user`, as `fuzz_user` (role user, member of project 1), with a quarter of the examples:
#      the same operations, PATCH /api/users/{id}/ included (a user may not change anyone, so
#      it cannot hurt), which reaches the 403s and the visibility rules;
#   3. `deletes`, as `admin`: every DELETE, after the passes above so the seeded objects live
#      through them;
#   4. `session`, the operations that end or weaken the caller's own session, as their own
#      admin, `fuzz_admin`, signing in anew for every case:
#        POST  /api/auth/logout/    ends the session it runs in;
#        POST  /api/auth/password/  ends every other session of the caller;
#        PATCH /api/users/{id}/     may demote or deactivate any user, `admin` and `fuzz_admin`
#                                   included (the server keeps at least one active admin; the
#                                   hooks put `fuzz_admin` back with the other one when needed).
#      See .ci/schemathesis_hooks.py for how each pass signs in.
#
# Rate limits are off (a fuzzer is one very busy client; 429 is covered by the test suite) and the
# login lockout threshold is out of reach, so that the fuzzer's failed logins can never lock out
# the accounts the passes sign in with.
set -euo pipefail

if [[ $# -ne 1 || ! -x "$1" ]]; then
    echo "usage: $0 path/to/nexus" >&2
    exit 2
fi
NEXUS_BIN="$(realpath "$1")"
CI_DIR="$(cd "$(dirname "$0")" && pwd)"
SCHEMATHESIS="${SCHEMATHESIS:-schemathesis}"
MAX_EXAMPLES="${NEXUS_FUZZ_MAX_EXAMPLES:-60}"
# One worker: with two, schemathesis' threads parse Python source at once, which CPython 3.11 (the
# CI's Python) does not survive reliably ("SystemError: AST constructor recursion depth
# mismatch", reported as a run error).
WORKERS="${NEXUS_FUZZ_WORKERS:-1}"
USER_EXAMPLES="${NEXUS_FUZZ_USER_EXAMPLES:-$((MAX_EXAMPLES / 4 + 1))}"
SEED="${NEXUS_FUZZ_SEED:-$(python3 -c 'import secrets; print(secrets.randbits(64))')}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/nexus-fuzz.XXXXXX")"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    [[ -n "${NEXUS_FUZZ_KEEP:-}" ]] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
ADMIN_PASSWORD="admin-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
FUZZ_ADMIN_PASSWORD="fuzzadmin-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
USER_PASSWORD="user-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"

echo "-- starting $NEXUS_BIN on $BASE"
NEXUS_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    NEXUS_AUTH__RATE_LIMIT_PER_SEC=0 \
    NEXUS_API__RATE_LIMIT_PER_SEC=0 \
    NEXUS_AUTH__LOCKOUT_FAILURES=1000000000 \
    "$NEXUS_BIN" serve --data "$WORK/data" --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

server_log_tail() {
    echo "-- server log: last warnings, errors and panics"
    grep -E ' (WARN|ERROR) |panicked|overflowed|fatal' "$WORK/server.log" | tail -n 40 || true
    echo "-- server log: last lines"
    tail -n 5 "$WORK/server.log" || true
}

for _ in $(seq 1 150); do
    if curl -fsS -o /dev/null "$BASE/readyz" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "the server exited during startup" >&2
        server_log_tail
        exit 1
    fi
    sleep 0.2
done
curl -fsS -o /dev/null "$BASE/readyz" || { echo "the server never became ready" >&2; server_log_tail; exit 1; }

# --- seed data -------------------------------------------------------------------------------

# api METHOD PATH TOKEN [JSON]: prints the answer body; fails on any non-2xx.
api() {
    local method=$1 path=$2 token=$3 body=${4:-}
    local args=(-sS --fail-with-body -X "$method" "$BASE$path")
    [[ -n "$token" ]] && args+=(-H "Authorization: Bearer $token")
    [[ -n "$body" ]] && args+=(-H "Content-Type: application/json" --data "$body")
    curl "${args[@]}"
}
field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
login() { api POST /api/auth/login/ "" "{\"username\":\"$1\",\"password\":\"$2\"}" | field access; }

echo "-- seeding"
ADMIN_TOKEN="$(login admin "$ADMIN_PASSWORD")"
USER_ID="$(api POST /api/users/ "$ADMIN_TOKEN" "{\"username\":\"fuzz_user\",\"email\":\"fuzz_user@example.com\",\"password\":\"$USER_PASSWORD\",\"display_name\":\"Fuzz User\",\"role\":\"user\"}" | field id)"
FUZZ_ADMIN_ID="$(api POST /api/users/ "$ADMIN_TOKEN" "{\"username\":\"fuzz_admin\",\"email\":\"fuzz_admin@example.com\",\"password\":\"$FUZZ_ADMIN_PASSWORD\",\"display_name\":\"Fuzz Admin\",\"role\":\"admin\"}" | field id)"
USER_TOKEN="$(login fuzz_user "$USER_PASSWORD")"
P1="$(api POST /api/projects/ "$ADMIN_TOKEN" '{"name":"Line 1 retrofit","description":"New press on line 1","start_date":"2026-11-01","end_date":"2026-12-20"}' | field id)"
api POST "/api/projects/$P1/team/" "$ADMIN_TOKEN" "{\"user_id\":$USER_ID}" >/dev/null
api POST /api/projects/ "$ADMIN_TOKEN" '{"name":"Line 2 audit"}' >/dev/null
api POST /api/activities/ "$ADMIN_TOKEN" "{\"title\":\"Calibrate press\",\"type\":\"maintenance\",\"priority\":\"high\",\"project_id\":$P1,\"assigned_to\":$USER_ID,\"start_time\":\"2026-11-28T08:00:00Z\",\"end_time\":\"2026-11-28T10:00:00Z\"}" >/dev/null
api POST /api/activities/ "$ADMIN_TOKEN" '{"title":"Weekly safety walk","type":"safety"}' >/dev/null
api POST /api/activities/ "$USER_TOKEN" '{"title":"Sort scrap bins"}' >/dev/null
api POST /api/updates/ "$ADMIN_TOKEN" '{"title":"Line 1 stops at noon","content":"For the press retrofit.","type":"production","priority":"high"}' >/dev/null
api POST /api/updates/ "$ADMIN_TOKEN" '{"title":"Canteen menu","content":"Soup on Friday."}' >/dev/null
api POST /api/chat/messages/ "$ADMIN_TOKEN" "{\"receiver_id\":$USER_ID,\"content\":\"Can you take the press calibration?\"}" >/dev/null
api POST /api/chat/messages/ "$USER_TOKEN" '{"receiver_id":1,"content":"Yes, after lunch."}' >/dev/null
api POST /api/chat/messages/ "$ADMIN_TOKEN" "{\"project_id\":$P1,\"content\":\"Kick-off on Monday.\"}" >/dev/null

# --- fuzzing ---------------------------------------------------------------------------------

# Kept for the summary, which must work even if the server dies during the run.
curl -fsS -o "$WORK/openapi.json" "$BASE/api/openapi.json"

# Every check schemathesis has: no 5xx; status, content type, headers and body as documented;
# operations that declare bearer auth refuse requests without it (ignored_auth); undocumented
# methods are 405 with an Allow header; a deleted object is gone (use_after_free) and a created
# one can be read back (ensure_resource_availability); input the document calls invalid is
# refused (negative_data_rejection) and input it calls valid is accepted
# (positive_data_acceptance). No check is left out. The one allowance is in
# .ci/schemathesis.toml: where valid input can still be a 400 for a reason no schema can carry
# (a reference to an object that does not exist, one field against another, the search-box
# language), positive_data_acceptance also takes a 400 on those operations, which that file
# lists with the reason for each.
CHECKS="${NEXUS_FUZZ_CHECKS:-all}"
SESSION_OPS=(--include-name "POST /api/auth/logout/" --include-name "POST /api/auth/password/" --include-name "PATCH /api/users/{id}/")

# run_pass NAME [schemathesis filter options...], with the hooks' identity in the environment.
FAILED_PASSES=()
run_pass() {
    local name=$1
    shift
    echo
    echo "== schemathesis pass: $name"
    local status=0
    (
        cd "$WORK"
        SCHEMATHESIS_HOOKS="$CI_DIR/schemathesis_hooks.py" NEXUS_FUZZ_BASE_URL="$BASE" \
            "$SCHEMATHESIS" --config-file "$CI_DIR/schemathesis.toml" run "$BASE/api/openapi.json" \
            --checks "$CHECKS" \
            --max-examples "$MAX_EXAMPLES" \
            --seed "$SEED" \
            --workers "$WORKERS" \
            --request-timeout 30 \
            --generation-database none \
            --no-color \
            --report ndjson --report-dir "$WORK/report-$name" \
            "$@"
    ) || status=$?
    if [[ $status -ne 0 ]]; then
        FAILED_PASSES+=("$name (exit $status)")
    fi
}

START=$SECONDS
NEXUS_FUZZ_USERNAME=admin NEXUS_FUZZ_PASSWORD="$ADMIN_PASSWORD" \
    run_pass main --exclude-method DELETE \
    --exclude-name "POST /api/auth/logout/" --exclude-name "POST /api/auth/password/" \
    --exclude-name "PATCH /api/users/{id}/"
NEXUS_FUZZ_USERNAME=fuzz_user NEXUS_FUZZ_PASSWORD="$USER_PASSWORD" NEXUS_FUZZ_ROLE=user \
    run_pass user --max-examples "$USER_EXAMPLES" --exclude-method DELETE \
    --exclude-name "POST /api/auth/logout/" --exclude-name "POST /api/auth/password/"
NEXUS_FUZZ_USERNAME=admin NEXUS_FUZZ_PASSWORD="$ADMIN_PASSWORD" \
    run_pass deletes --include-method DELETE
NEXUS_FUZZ_USERNAME=fuzz_admin NEXUS_FUZZ_PASSWORD="$FUZZ_ADMIN_PASSWORD" NEXUS_FUZZ_USER_ID="$FUZZ_ADMIN_ID" \
    NEXUS_FUZZ_FRESH_LOGIN=1 NEXUS_FUZZ_RESCUE_USERNAME=admin NEXUS_FUZZ_RESCUE_PASSWORD="$ADMIN_PASSWORD" \
    run_pass session "${SESSION_OPS[@]}"
ELAPSED=$((SECONDS - START))

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "the server died during the run" >&2
    FAILED_PASSES+=("server exited")
fi
PANICS="$(grep -c 'panicked' "$WORK/server.log" || true)"
if [[ "$PANICS" -gt 0 ]]; then
    FAILED_PASSES+=("$PANICS handler panic(s) in the server log")
fi

echo
echo "== schemathesis summary (seed $SEED, --max-examples $MAX_EXAMPLES, ${ELAPSED}s)"
python3 "$CI_DIR/schemathesis_summary.py" "$WORK" "$WORK/openapi.json" ||
    FAILED_PASSES+=("no summary")

if [[ ${#FAILED_PASSES[@]} -gt 0 ]]; then
    echo "FAILED: ${FAILED_PASSES[*]}"
    server_log_tail
    exit 1
fi
echo "OK"
