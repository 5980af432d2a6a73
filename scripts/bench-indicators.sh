#!/usr/bin/env bash
# Indicator throughput against TA-Lib 0.8.2 (PyPI) on the same 1M bars in the same process
# (python/bench/indicators.py): a release wheel in the test venv, TA-Lib beside it.
# `--bars N` for another size.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=target/py-venv
REQ=python/tests/requirements.txt
if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$REQ" "$VENV/.requirements"; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -r "$REQ"
    cp "$REQ" "$VENV/.requirements"
fi
"$VENV/bin/pip" install -q ta-lib==0.8.2
rm -rf target/wheels
"$VENV/bin/maturin" build -q --release -o target/wheels -i "$VENV/bin/python"
"$VENV/bin/pip" install -q --force-reinstall --no-deps target/wheels/backtide-*.whl
"$VENV/bin/python" python/bench/indicators.py "$@"
