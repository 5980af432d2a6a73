#!/usr/bin/env bash
# Side-by-side benchmark: Backtide vs backtesting.py 0.6.6 vs vectorbt 1.2.0, whole processes.
#
# 1. Creates (once) target/peers-venv with scripts/bench/peers/requirements.txt (the pins
#    of scripts/bench/requirements.txt plus backtesting.py 0.6.6 and its dependencies). It
#    is rebuilt only when those files or the base interpreter change.
# 2. Builds Backtide (`cargo build --release -p backtide-cli`) and runs a copy of the
#    binary, so a concurrent build cannot swap it in the middle of the measurements.
# 3. Generates (once) fixed-seed random-walk minute bars under target/peers-data/, as CSV
#    and Parquet (`time,Open,High,Low,Close,Volume`; the generator of the Rust benches).
# 4. Runs scripts/bench/peers/compare.py: each workload's rows 3 times, interleaved, as
#    fresh processes (wall time, CPU time, peak RSS from os.wait4), and prints Markdown.
#
# Workloads (--quick divides every bar count by 10):
#   1. one sma_cross 10/30 backtest, commission 0.1 %, on 1M bars;
#   2. a 1,000-combination sma_cross sweep on 100k bars (backtesting.py: a 20-combination
#      subset, extrapolated; vectorbt reduced and extrapolated if it would not fit memory);
#   3. workload 1 with its result written as JSON.
#
# Usage: scripts/bench-peers.sh [--quick] [extra compare.py arguments, e.g. --repeat 5,
#        --workloads 1,3, --no-cold, --mem-limit-gib 12]
# Environment: BENCH_BASE_PYTHON picks the interpreter the venv is made from
# (default: python3.11, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

VENV="$ROOT/target/peers-venv"
REQ="$ROOT/scripts/bench/peers/requirements.txt"
REQ_BASE="$ROOT/scripts/bench/requirements.txt"
STAMP="$VENV/.backtide-stamp"
DATA="$ROOT/target/peers-data"
GEN="$ROOT/scripts/bench/peers/gen_bars.py"

quick=0
if [[ "${1:-}" == "--quick" ]]; then
    quick=1
    shift
fi

base="${BENCH_BASE_PYTHON:-}"
if [[ -z "$base" ]]; then
    if command -v python3.11 >/dev/null 2>&1; then base=python3.11; else base=python3; fi
fi
base_version="$("$base" -c 'import sys; print(sys.version.split()[0])')"

# 1. The venv; the stamp records what it was built from, a mismatch rebuilds it.
want_stamp="python=$base_version req=$(cat "$REQ" "$REQ_BASE" | sha256sum | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/python" || ! -f "$STAMP" || "$(cat "$STAMP")" != "$want_stamp" ]]; then
    echo "bench-peers: creating $VENV (Python $base_version)" >&2
    rm -rf "$VENV"
    "$base" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
    echo "$want_stamp" >"$STAMP"
fi
PY="$VENV/bin/python"

# 2. Backtide, release build; the copy keeps one binary for the whole invocation.
cargo build --release -p backtide-cli >&2
mkdir -p "$DATA"
cp target/release/backtide "$DATA/backtide"

# 3. Data: name, bars, seed (seeds of crates/cli/benches: 7 for the 1M-bar run, 11 for the
#    100k-bar sweep). Regenerated when the generator changes.
gen_stamp="gen=$(sha256sum "$GEN" | cut -d' ' -f1)"
if [[ ! -f "$DATA/.stamp" || "$(cat "$DATA/.stamp")" != "$gen_stamp" ]]; then
    rm -f "$DATA"/bars_*.csv "$DATA"/bars_*.parquet
    echo "$gen_stamp" >"$DATA/.stamp"
fi
if [[ $quick -eq 1 ]]; then sets="100000:7 10000:11 2000:3"; else sets="1000000:7 100000:11 2000:3"; fi
for s in $sets; do
    n="${s%%:*}"
    seed="${s##*:}"
    if [[ ! -f "$DATA/bars_$n.csv" || ! -f "$DATA/bars_$n.parquet" ]]; then
        "$PY" "$GEN" "$DATA" "bars_$n" "$n" "$seed"
    fi
done

# 4. Header and measurements.
echo "## Backtide vs backtesting.py vs vectorbt$([[ $quick -eq 1 ]] && echo ' (--quick: 1/10 of the bars)')"
echo
echo '```'
echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(uname -sr)"
free -g
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min)"
echo "backtide: $("$DATA/backtide" --version | cut -d' ' -f2) ($(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates 2>/dev/null || echo '+dirty')), $(rustc --version)"
"$PY" -c 'import sys, importlib.metadata as m; print("python:  ", sys.version.split()[0], "|", " | ".join(
    f"{p} {m.version(p)}" for p in ("backtesting", "vectorbt", "vectorbt-rust", "numba", "numpy", "pandas", "bokeh", "pyarrow")))'
for s in $sets; do
    n="${s%%:*}"
    awk -v n="$n" -v seed="${s##*:}" -v c="$(stat -c %s "$DATA/bars_$n.csv")" \
        -v p="$(stat -c %s "$DATA/bars_$n.parquet")" \
        'BEGIN { printf "data:    bars_%s: %d bars, seed %s, CSV %.1f MB, Parquet %.1f MB\n", n, n, seed, c / 1e6, p / 1e6 }'
done
echo '```'
echo

extra=()
[[ $quick -eq 1 ]] && extra+=(--quick)
exec "$PY" scripts/bench/peers/compare.py --backtide "$DATA/backtide" --data-dir "$DATA" \
    --work "$DATA/out" "${extra[@]}" "$@"
