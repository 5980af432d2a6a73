#!/usr/bin/env bash
# Fuzzes the REST API (`backtide serve`) with schemathesis against its own /openapi.json,
# every check on: once with the server open, once with the server behind a bearer token
# (schemathesis then sends the token, and its ignored_auth check tries without it).
#
#   BACKTIDE_BIN=target/release/backtide scripts/schemathesis.sh [extra schemathesis args]
#
# Environment: BACKTIDE_BIN (default target/debug/backtide, build it first),
# SCHEMATHESIS_MAX_EXAMPLES (30), SCHEMATHESIS_SEED (20240601), SCHEMATHESIS_WORKERS (1; with
# more, hypothesis' threads can trip CPython 3.11's "AST constructor recursion depth mismatch"),
# SCHEMATHESIS_REQUEST_TIMEOUT (seconds, 10), SCHEMATHESIS_REPORT_DIR
# (target/schemathesis-report; one folder per pass with JUnit/NDJSON and the server log).
# Exits non-zero when either pass reported a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BIN=${BACKTIDE_BIN:-target/debug/backtide}
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac
if [ ! -x "$BIN" ]; then
    echo "no backtide binary at $BIN (cargo build, or set BACKTIDE_BIN)" >&2
    exit 2
fi
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-30}
SEED=${SCHEMATHESIS_SEED:-20240601}
WORKERS=${SCHEMATHESIS_WORKERS:-1}
REQUEST_TIMEOUT=${SCHEMATHESIS_REQUEST_TIMEOUT:-10}
REPORTS=${SCHEMATHESIS_REPORT_DIR:-target/schemathesis-report}

# The venv, rebuilt whenever the pinned requirements change.
VENV=target/schemathesis-venv
REQ=python/tests/requirements-schemathesis.txt
if [ ! -x "$VENV/bin/schemathesis" ] || ! cmp -s "$REQ" "$VENV/.requirements"; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -r "$REQ"
    cp "$REQ" "$VENV/.requirements"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/backtide-schemathesis.XXXXXX")
SERVER_PID=
stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        # Jobs get --grace seconds to stop; the server is started with a short one.
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=
}
cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server NAME [serve args...]: a fresh data folder per pass; sets PORT and SERVER_PID.
start_server() {
    local name=$1
    shift
    PORT=$(free_port)
    mkdir -p "$REPORTS/$name"
    env -u BACKTIDE_TOKEN NO_COLOR=1 "$BIN" serve --addr "127.0.0.1:$PORT" --data-dir "$WORK/$name-data" \
        --workers 1 --max-wait 5 --grace 1 "$@" >"$REPORTS/$name/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/readyz" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "backtide serve exited before it was ready; its log:" >&2
            cat "$REPORTS/$name/server.log" >&2
            exit 2
        fi
        sleep 0.1
    done
    echo "backtide serve did not answer /readyz within 30 s" >&2
    exit 2
}

# seed_data NAME [curl args...]: finished jobs (a backtest, a portfolio backtest, a sweep) and
# an uploaded model,
# so that the `{id}` operations reach past 404. Their ids go into the pass' config as
# dictionaries that schemathesis draws from most of the time (still generating ids the rest).
seed_data() {
    local name=$1
    shift
    local base="http://127.0.0.1:$PORT" backtest portfolio sweep model
    backtest=$(curl -sS --fail-with-body "$@" -X POST "$base/v1/backtests?wait=5" -H 'Content-Type: application/json' \
        -d '{"dataset":"GOOG","strategy":{"name":"sma_cross","params":{"fast":10,"slow":20}}}' | json_field id)
    portfolio=$(curl -sS --fail-with-body "$@" -X POST "$base/v1/backtests?wait=5" -H 'Content-Type: application/json' \
        -d '{"dataset":"STOCKS","strategy":{"name":"equal_weight","params":{"rebalance":"monthly"}}}' | json_field id)
    sweep=$(curl -sS --fail-with-body "$@" -X POST "$base/v1/sweeps?wait=5" -H 'Content-Type: application/json' \
        -d '{"dataset":"GOOG","strategy":{"name":"sma_cross"},"grid":{"fast":[5,10],"slow":[20,30]}}' | json_field id)
    model=$(curl -sS --fail-with-body "$@" -X POST "$base/v1/models?name=tiny" \
        -F model=@testdata/models/tiny.onnx -F features=@testdata/models/tiny.features.json | json_field id)
    cat >"$WORK/$name.toml" <<TOML
# Written by scripts/schemathesis.sh for one pass.
[cache]
enabled = false

# Every check (what --checks all would do, but a check named on the command line would
# override the per-operation settings below).
[checks]
enabled = true

[dictionaries.jobs]
values = ["$backtest", "$portfolio", "$sweep"]

[dictionaries.models]
values = ["$model", "tiny"]

[dictionaries.datasets]
values = ["GOOG", "EURUSD", "STOCKS"]

[[operations]]
include-path-regex = '^/v1/jobs/\\{id\\}'
parameters = { "path.id" = { dictionary = "jobs", probability = 0.8 } }

[[operations]]
include-path-regex = '^/v1/models/\\{id\\}'
parameters = { "path.id" = { dictionary = "models", probability = 0.8 } }

[[operations]]
include-path-regex = '^/v1/datasets/\\{id\\}'
parameters = { "path.id" = { dictionary = "datasets", probability = 0.8 } }

# positive_data_acceptance expects every request that the schema allows to be accepted.
# These four bodies are only partly a matter of schema, so schema-valid ones are mostly
# (rightly) refused with 422: an upload's bytes must be a valid bar file (a raw one also
# needs ?name=, which the schema cannot tie to the media type) or a loadable ONNX model;
# a job names a dataset that must exist, and its strategy's parameters and bounds depend
# on the strategy named (GET /v1/strategies), with rules across fields (fast < slow,
# portfolio-only broker settings). Every other check stays on for them, and this one for
# every other operation.
[[operations]]
include-path-regex = '^/v1/(datasets|models|backtests|sweeps)$'
include-method = "POST"
checks.positive_data_acceptance.enabled = false

# A result's `sort` is any profile's statistic in the schema, but a job accepts it only
# when the job is a sweep (a backtest has no combinations to sort) and the statistic is
# of the sweep's own profile: which job an id names is beyond a schema.
[[operations]]
include-path-regex = '^/v1/jobs/\\{id\\}/result$'
include-method = "GET"
checks.positive_data_acceptance.enabled = false
TOML
}

json_field() {
    python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# run_pass NAME SCHEMA [schemathesis args...]: fuzzes the running server from SCHEMA (a URL
# or a file); returns schemathesis' status. Runs inside $WORK so that the hypothesis and
# schemathesis caches stay out of the checkout.
run_pass() {
    local name=$1 schema=$2
    shift 2
    echo "== schemathesis: $name (port $PORT, max examples $MAX_EXAMPLES, seed $SEED)"
    local started=$SECONDS status=0
    (
        cd "$WORK"
        "$ROOT/$VENV/bin/schemathesis" --config-file "$WORK/$name.toml" --no-color run "$schema" \
            --url "http://127.0.0.1:$PORT" \
            --max-examples "$MAX_EXAMPLES" \
            --seed "$SEED" \
            --generation-database none \
            --workers "$WORKERS" \
            --request-timeout "$REQUEST_TIMEOUT" \
            --report junit,ndjson \
            --report-dir "$REPORTS/$name" \
            "$@"
    ) || status=$?
    echo "== $name: exit $status after $((SECONDS - started)) s"
    return "$status"
}

rm -rf "$REPORTS"
mkdir -p "$REPORTS"
REPORTS=$(cd "$REPORTS" && pwd)
FAILED=0

# Each pass fuzzes the document its server serves: without a token it declares no security
# requirement and no 401; with one, every protected operation declares both.
start_server open
seed_data open
run_pass open "http://127.0.0.1:$PORT/openapi.json" "$@" || FAILED=1
stop_server

TOKEN="schemathesis-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
start_server token --token "$TOKEN"
seed_data token -H "Authorization: Bearer $TOKEN"
run_pass token "http://127.0.0.1:$PORT/openapi.json" --header "Authorization: Bearer $TOKEN" "$@" || FAILED=1
stop_server

if [ "$FAILED" -ne 0 ]; then
    echo "schemathesis found failures; reports in $REPORTS" >&2
fi
exit "$FAILED"
