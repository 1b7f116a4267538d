#!/usr/bin/env bash
# Runs schemathesis against the whole API (/api/v1/openapi.json) on a throw-away database with
# the hanoi-2021 fixture and an admin token. More examples and a random seed than the test suite.
#   bash scripts/schemathesis.sh [MAX_EXAMPLES] [extra schemathesis options...]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${VIRTUAL_ENV:-$PWD/.venv}/bin"
[ -x "$BIN/python" ] || BIN="$(dirname "$(command -v python3)")"
MAX_EXAMPLES="${1:-100}"
shift || true

WORK="$(mktemp -d)"
export TTHC_DATABASE="$WORK/registry.db" TTHC_SWEEP_INTERVAL_MINUTES=0
cleanup() { [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

"$BIN/tthc" init >/dev/null
"$BIN/tthc" fixtures load hanoi-2021 >/dev/null
printf 'schemathesis-password\n' | "$BIN/tthc" user add schemathesis --role admin --password-stdin >/dev/null
TOKEN="$("$BIN/tthc" token create schemathesis --name schemathesis --expires-days 1 2>/dev/null)"
PORT="$("$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

"$BIN/flask" --app "$PWD/wsgi.py" run --host 127.0.0.1 --port "$PORT" --with-threads >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 50); do
  curl -fs "http://127.0.0.1:$PORT/api/v1/openapi.json" >/dev/null 2>&1 && break
  sleep 0.2
done

# Left out: positive_data_acceptance (a random If-Match is rightly 412), negative_data_rejection
# (booleans take spreadsheet words), missing_required_header (no If-Match is 428 by design) and
# use_after_free (retire is a soft delete); see tests/api/test_schemathesis.py.
# From the temporary directory: schemathesis keeps its own state in the working directory.
cd "$WORK"
"$BIN/schemathesis" run "http://127.0.0.1:$PORT/api/v1/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,ignored_auth,ensure_resource_availability,unsupported_method \
  --max-examples "$MAX_EXAMPLES" --workers 2 --request-timeout 30 \
  --header "Authorization: Bearer $TOKEN" "$@"
