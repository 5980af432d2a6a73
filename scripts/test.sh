#!/usr/bin/env bash
# Runs every test: unit, property, integration, end-to-end (nextest), doctests, then the
# Python package's (a wheel in a venv with backtesting.py and vectorbt as oracles).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo nextest run --workspace --locked --no-fail-fast
cargo test --workspace --locked --doc
./scripts/test-python.sh
