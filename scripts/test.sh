#!/usr/bin/env bash
# Runs every test: unit, property, integration, end-to-end (nextest), then doctests.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo nextest run --workspace --locked --no-fail-fast
cargo test --workspace --locked --doc
