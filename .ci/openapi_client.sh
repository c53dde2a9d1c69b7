#!/usr/bin/env bash
# Proves /api/openapi.json works for an integrator, with the tools one would reach for:
#   1. openapi-spec-validator: the served document is valid OpenAPI 3.1;
#   2. openapi-python-client: a Python client generates from it, with no warning (a warning
#      means an operation or a type was left out);
#   3. .ci/openapi_client_flow.py: through that client, against a running server, sign in,
#      create an activity, read it, patch it with `version`, get a 409 on a stale version, list
#      and filter, and page through a list.
#
#   .ci/openapi_client.sh path/to/nexus
#
# Needs both tools (pinned in .ci/requirements-fuzz.txt) in the venv $NEXUS_FUZZ_VENV (default
# /var/tmp/nexus-fuzz-venv, the one .ci/run makes for fuzzing), or on PATH.
# NEXUS_OPENAPI_KEEP=1 keeps the temp dir (server log, document, generated client).
#
# The server runs as in .ci/schemathesis.sh: a fresh data directory, a free port, and an admin
# password of its own. Its limits stay at their defaults: the flow is one ordinary client.
set -euo pipefail

if [[ $# -ne 1 || ! -x "$1" ]]; then
    echo "usage: $0 path/to/nexus" >&2
    exit 2
fi
NEXUS_BIN="$(realpath "$1")"
CI_DIR="$(cd "$(dirname "$0")" && pwd)"
FUZZ_VENV="${NEXUS_FUZZ_VENV:-/var/tmp/nexus-fuzz-venv}"
# openapi-python-client runs ruff (one of its dependencies) on what it generates, from PATH.
if [[ -d "$FUZZ_VENV/bin" ]]; then
    export PATH="$FUZZ_VENV/bin:$PATH"
    PYTHON="$FUZZ_VENV/bin/python3"
else
    PYTHON=python3
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/nexus-openapi.XXXXXX")"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    [[ -n "${NEXUS_OPENAPI_KEEP:-}" ]] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
ADMIN_PASSWORD="admin-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"

echo "-- starting $NEXUS_BIN on $BASE"
NEXUS_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    "$NEXUS_BIN" serve --data "$WORK/data" --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

fail() {
    echo "FAILED: $*" >&2
    echo "-- server log: last lines" >&2
    tail -n 20 "$WORK/server.log" >&2 || true
    exit 1
}

for _ in $(seq 1 150); do
    if curl -fsS -o /dev/null "$BASE/readyz" 2>/dev/null; then
        break
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || fail "the server exited during startup"
    sleep 0.2
done
curl -fsS -o /dev/null "$BASE/readyz" || fail "the server never became ready"

echo "== openapi-spec-validator"
curl -fsS -o "$WORK/openapi.json" "$BASE/api/openapi.json" || fail "no /api/openapi.json"
openapi-spec-validator "$WORK/openapi.json" || fail "the document is not valid OpenAPI"

echo "== openapi-python-client generate"
(
    cd "$WORK"
    openapi-python-client generate --path openapi.json --output-path nexus_client --meta none \
        --fail-on-warning
) || fail "the client did not generate cleanly"

echo "== a flow through the generated client"
PYTHONPATH="$WORK" "$PYTHON" "$CI_DIR/openapi_client_flow.py" "$BASE" admin "$ADMIN_PASSWORD" ||
    fail "the flow through the generated client broke"

kill -0 "$SERVER_PID" 2>/dev/null || fail "the server died during the flow"
echo "OK"
