#!/usr/bin/env bash
# Multi-asset portfolio benchmark: Backtide vs vectorbt 1.2.0.
#
# 1. Creates (once) target/bench-venv with the pinned Python stack of
#    scripts/bench/requirements.txt (vectorbt 1.2.0 + vectorbt-rust, numba, numpy, pandas,
#    pyarrow). It is rebuilt only when that file or the base interpreter changes.
# 2. Primes numba's on-disk cache (vectorbt compiles with cache=True into the venv) with a
#    tiny run of each strategy, so every timed process sees the same warm cache; the
#    one-off compile cost is reported by vbt_portfolio.py --warmup instead.
# 3. Runs `cargo bench -p backtide-cli --bench portfolio` with BACKTIDE_BENCH_PYTHON set to
#    the venv's interpreter (an absolute path: cargo runs benches from the crate folder).
#
# Usage: scripts/bench-portfolio.sh [--check] [extra `cargo bench` arguments]
#   --check   first compare vbt_portfolio.py with shared/golden/portfolio (bit for bit)
# Environment: BENCH_BASE_PYTHON picks the interpreter the venv is made from
# (default: python3.11, else python3; the goldens were made with 3.11.7).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

VENV="$ROOT/target/bench-venv"
REQ="$ROOT/scripts/bench/requirements.txt"
STAMP="$VENV/.backtide-stamp"

check=0
if [[ "${1:-}" == "--check" ]]; then
    check=1
    shift
fi

base="${BENCH_BASE_PYTHON:-}"
if [[ -z "$base" ]]; then
    if command -v python3.11 >/dev/null 2>&1; then base=python3.11; else base=python3; fi
fi
base_version="$("$base" -c 'import sys; print(sys.version.split()[0])')"

# The stamp records what the venv was built from; a mismatch rebuilds it from scratch.
want_stamp="python=$base_version req=$(sha256sum "$REQ" | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/python" || ! -f "$STAMP" || "$(cat "$STAMP")" != "$want_stamp" ]]; then
    echo "bench-portfolio: creating $VENV (Python $base_version)" >&2
    rm -rf "$VENV"
    "$base" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"

    # Prime numba's cache (and smoke-test the script) on a small synthetic universe.
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    "$VENV/bin/python" scripts/bench/gen_universe.py "$tmp/u" --assets 4 --bars 400 \
        --calendar daily >/dev/null
    for strategy in "equal_weight --rebalance monthly" \
        "momentum_rotation --lookback 20 --top 2 --rebalance monthly"; do
        # shellcheck disable=SC2086 # word splitting of the strategy arguments is wanted
        "$VENV/bin/python" scripts/bench/vbt_portfolio.py "$tmp/u" $strategy >/dev/null
    done
    echo "$want_stamp" >"$STAMP"
fi
"$VENV/bin/python" -c 'import vectorbt, vectorbt_rust, pandas, numpy, pyarrow; print(
    "bench-portfolio: vectorbt", vectorbt.__version__, "| vectorbt-rust", vectorbt_rust.__version__,
    "| numpy", numpy.__version__, "| pandas", pandas.__version__, "| pyarrow", pyarrow.__version__)' >&2

if [[ $check -eq 1 ]]; then
    "$VENV/bin/python" scripts/bench/check_golden.py
fi

export BACKTIDE_BENCH_PYTHON="$VENV/bin/python"
exec cargo bench -p backtide-cli --bench portfolio "$@"
