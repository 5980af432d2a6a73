#!/usr/bin/env bash
# The Python package's tests: builds the wheel (debug by default, `--release` for the
# benchmarks), installs it into a venv with the oracles from PyPI (backtesting.py 0.6.6,
# vectorbt 1.2.0; python/tests/requirements.txt), and runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=()
if [ "${1:-}" = "--release" ]; then
    PROFILE=(--release)
    shift
fi
VENV=target/py-venv
REQ=python/tests/requirements.txt
if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$REQ" "$VENV/.requirements"; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -r "$REQ"
    cp "$REQ" "$VENV/.requirements"
fi
rm -rf target/wheels
"$VENV/bin/maturin" build -q "${PROFILE[@]}" -o target/wheels -i "$VENV/bin/python"
"$VENV/bin/pip" install -q --force-reinstall --no-deps target/wheels/backtide-*.whl
"$VENV/bin/python" -m pytest -q python/tests "$@"
