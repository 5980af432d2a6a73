#!/usr/bin/env bash
# The Python package's benchmarks: a release wheel in the test venv (backtesting.py 0.6.6
# and vectorbt 1.2.0 pinned in python/tests/requirements.txt) and the release CLI, on the
# same fixed-seed data in the same run (python/bench/bench.py). `--quick` for a tenth.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p backtide-cli
VENV=target/py-venv
REQ=python/tests/requirements.txt
if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$REQ" "$VENV/.requirements"; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -r "$REQ"
    cp "$REQ" "$VENV/.requirements"
fi
"$VENV/bin/pip" install -q pyarrow
rm -rf target/wheels
"$VENV/bin/maturin" build -q --release -o target/wheels -i "$VENV/bin/python"
"$VENV/bin/pip" install -q --force-reinstall --no-deps target/wheels/backtide-*.whl
"$VENV/bin/python" python/bench/bench.py "$@"
