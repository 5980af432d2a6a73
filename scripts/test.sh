#!/usr/bin/env bash
# Runs every test: unit, property, integration, end-to-end (nextest), doctests, the REST API
# fuzzed against its OpenAPI document (schemathesis), then the Python package's (a wheel in a
# venv with backtesting.py and vectorbt as oracles).
set -euo pipefail
cd "$(dirname "$0")/.."
# Beside a throwaway PostgreSQL server when its binaries are here (the store's suite and the
# cluster tests use it; without it they say they skipped, unless BACKTIDE_REQUIRE_POSTGRES=1).
pg=()
if [ "${BACKTIDE_REQUIRE_POSTGRES:-}" = 1 ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
    || command -v pg_config >/dev/null 2>&1; then
    pg=(./scripts/with-postgres.sh)
fi
"${pg[@]}" cargo nextest run --workspace --locked --no-fail-fast
cargo test --workspace --locked --doc
# schemathesis, every check, with and without a token, 30 examples per operation (about a
# minute on 2 cores), on the debug binary nextest built for the CLI's tests (a separate
# `cargo build -p backtide-cli` would resolve features differently and rebuild crates).
[ -x target/debug/backtide ] || cargo build -p backtide-cli --locked
BACKTIDE_BIN=target/debug/backtide ./scripts/schemathesis.sh
# On a CI machine with little disk, the Rust test executables (about 1 GB) go before the
# Python step: its wheel links against the libraries beside them, not against them.
if [ "${BACKTIDE_CI_FREE_DISK:-}" = 1 ]; then
    find target/debug/deps -maxdepth 1 -type f -perm -u+x ! -name '*.so' -delete
    rm -f target/debug/backtide
fi
./scripts/test-python.sh
