#!/usr/bin/env python3
"""vectorbt peer for the multi-asset portfolio benchmark.

Runs one weight-based strategy over a universe of per-symbol files with vectorbt's
``Portfolio.from_orders`` (one group, shared cash, ``call_seq='auto'``,
``size_type='targetpercent'``), computes ``pf.stats()`` and ``pf.value()`` and prints
ONE JSON line with the phase timings. Whole-process wall time and peak RSS are
measured by the caller (``cargo bench -p backtide-cli --bench portfolio``), so this
is a plain one-shot process.

Universe: every ``SYM.csv`` / ``SYM.parquet`` / ``SYM.pq`` in DIR (symbol = file
stem), columns in alphabetical symbol order, aligned on the UNION of their
timestamps, sorted, NaN where an asset has no bar (no forward fill). Time zones are
converted to UTC and dropped; naive timestamps are taken as UTC.

Strategies (rules of shared/golden/portfolio/README.md, "Strategy rules"):

    equal_weight      --rebalance monthly|weekly|quarterly
    momentum_rotation --lookback L --top K [--rebalance monthly]

Examples:

    python scripts/bench/vbt_portfolio.py DIR equal_weight --rebalance monthly
    python scripts/bench/vbt_portfolio.py DIR momentum_rotation --lookback 126 --top 2 \
        --fees 0.001 --fixed-fees 1 --warmup

``--warmup`` first runs the simulation and the statistics on a 2-column slice, so the
one-off compile cost (numba JIT, or a first on-disk numba cache load) is reported in
``t_warmup_*`` and ``t_sim_s`` / ``t_stats_s`` are warm. Without it they are cold.
Numba's on-disk cache (``cache=True`` in vectorbt) survives between processes; point
``NUMBA_CACHE_DIR`` at an empty folder to measure a first-ever run.
"""

from __future__ import annotations

import time

# Taken before the heavy imports so t_import_s / t_total_s include them.
_T_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

# Header names recognised for the time column, in order of preference (case-insensitive,
# as Backtide's own CSV/Parquet readers); the first column is used when none matches.
TIME_NAMES = ("date", "datetime", "time", "timestamp", "__index_level_0__")
SUFFIXES = (".csv", ".parquet", ".pq")


# ---------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------


def _find_column(names: list[str], want: str, path: Path) -> str:
    for n in names:
        if n.strip().lower() == want.lower():
            return n
    raise SystemExit(f"{path}: no column '{want}' (found: {', '.join(names)})")


def _time_column(names: list[str]) -> str:
    lowered = {n.strip().lower(): n for n in names}
    for want in TIME_NAMES:
        if want in lowered:
            return lowered[want]
    return names[0]


def _to_utc_ns(values) -> np.ndarray:
    """Timestamps (strings, datetimes, dates or epoch numbers) -> int64 ns since epoch, UTC.

    Integers are epoch seconds when below 1e11, else epoch milliseconds (the same rule
    as Backtide's readers). Aware times are converted to UTC; naive ones are UTC already.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        idx = pd.DatetimeIndex(values)  # already timestamps (Parquet): nothing to parse
    elif pd.api.types.is_numeric_dtype(values):
        ints = np.asarray(values).astype(np.int64)
        unit = "s" if len(ints) and np.abs(ints).max() < 10**11 else "ms"
        idx = pd.to_datetime(ints, unit=unit)
    else:
        idx = pd.DatetimeIndex(pd.to_datetime(values))
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    # pandas 3 parses strings to microsecond resolution; normalise to nanoseconds.
    return idx.as_unit("ns").asi8


def read_symbol(path: Path, need_open: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """One file -> (time ns int64, close float64, open float64 or None)."""
    if path.suffix.lower() == ".csv":
        # Read as text first so the time column is parsed by our own rule.
        head = pd.read_csv(path, nrows=0).columns.tolist()
        tcol = _time_column(head)
        ccol = _find_column(head, "Close", path)
        ocol = _find_column(head, "Open", path) if need_open else None
        usecols = [c for c in (tcol, ocol, ccol) if c is not None]
        df = pd.read_csv(path, usecols=usecols, dtype={c: np.float64 for c in usecols if c != tcol})
        t = _to_utc_ns(df[tcol])
        close = df[ccol].to_numpy(np.float64)
        opn = df[ocol].to_numpy(np.float64) if ocol is not None else None
    else:
        import pyarrow.parquet as pq

        # The whole OHLCV table is read (as an engine loading a universe would);
        # only the price columns the simulation needs are kept.
        table = pq.read_table(path)
        names = table.column_names
        tcol = _time_column(names)
        t = _to_utc_ns(table.column(tcol).to_pandas())
        close = table.column(_find_column(names, "Close", path)).to_numpy().astype(np.float64)
        opn = None
        if need_open:
            opn = table.column(_find_column(names, "Open", path)).to_numpy().astype(np.float64)
        del table
    if len(t) > 1 and not np.all(np.diff(t) > 0):
        raise SystemExit(f"{path}: timestamps are not strictly increasing")
    return t, close, opn


def load_universe(folder: Path, need_open: bool):
    """Per-symbol files -> (symbols, union index, close [T, N], open [T, N] or None)."""
    files = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in SUFFIXES:
            if p.stem in files:
                raise SystemExit(f"{folder}: symbol {p.stem} has more than one file")
            files[p.stem] = p
    if not files:
        raise SystemExit(f"{folder}: no .csv/.parquet files")
    symbols = sorted(files)
    loaded = [read_symbol(files[s], need_open) for s in symbols]

    # Union of all timestamps, sorted. Skip the sort when every file has the same index
    # (the common case for a synthetic panel).
    first = loaded[0][0]
    if all(len(t) == len(first) and np.array_equal(t, first) for t, _, _ in loaded[1:]):
        union = first
    else:
        union = np.unique(np.concatenate([t for t, _, _ in loaded]))

    shape = (len(union), len(symbols))
    close = np.full(shape, np.nan)
    opn = np.full(shape, np.nan) if need_open else None
    for j, (t, c, o) in enumerate(loaded):
        rows = np.searchsorted(union, t)  # exact: every t is in the union
        close[rows, j] = c
        if opn is not None:
            opn[rows, j] = o
    index = pd.DatetimeIndex(union.view("datetime64[ns]"))
    return symbols, index, close, opn


# ---------------------------------------------------------------------------------------
# Target weights (vectorised; see the golden README's "Strategy rules")
# ---------------------------------------------------------------------------------------


def rebalance_rows(index: pd.DatetimeIndex, rebalance: str) -> np.ndarray:
    """Indices of the bars whose calendar period differs from the previous bar's.

    Periods come from the union index: (year, month), ISO (year, week) or
    (year, quarter). Bar 0 is always a rebalance bar.
    """
    if rebalance == "monthly":
        key = index.year.to_numpy(np.int64) * 12 + index.month.to_numpy(np.int64)
    elif rebalance == "quarterly":
        key = index.year.to_numpy(np.int64) * 4 + (index.month.to_numpy(np.int64) - 1) // 3
    elif rebalance == "weekly":
        iso = index.isocalendar()
        key = iso["year"].to_numpy(np.int64) * 100 + iso["week"].to_numpy(np.int64)
    else:
        raise SystemExit(f"unknown rebalance '{rebalance}'")
    if len(key) == 0:
        return np.empty(0, dtype=np.int64)
    change = np.empty(len(key), dtype=bool)
    change[0] = True
    change[1:] = key[1:] != key[:-1]
    return np.flatnonzero(change)


def equal_weight(close: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """1/m on every asset with a bar at a rebalance row, NaN elsewhere."""
    w = np.full(close.shape, np.nan)
    has = ~np.isnan(close[rows])
    m = has.sum(axis=1)
    # float64(1.0) / int64 m is the same double as Python's 1.0 / m.
    with np.errstate(divide="ignore"):
        share = 1.0 / m
    w[rows] = np.where(has, share[:, None], np.nan)
    return w


def momentum_rotation(close: np.ndarray, rows: np.ndarray, lookback: int, top: int) -> np.ndarray:
    """Top-K by close[i] / close[i - L] - 1 at each rebalance row i >= L, 1/K each.

    Eligible: close non-NaN at i and at i - L. Ties go to the earlier column. Other
    assets with a bar get 0 (sold out); assets without one get NaN (no order). A row
    with no eligible asset stays all NaN (hold).
    """
    if lookback < 1 or top < 1:
        raise SystemExit("--lookback and --top must be >= 1")
    w = np.full(close.shape, np.nan)
    rows = rows[rows >= lookback]
    if len(rows) == 0:
        return w
    cur = close[rows]
    past = close[rows - lookback]
    eligible = ~np.isnan(cur) & ~np.isnan(past)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = cur / past - 1.0
    # Descending by score with ties in column order: a stable ascending sort of -score
    # (negation is exact). Ineligible assets sort last.
    key = np.where(eligible, -score, np.inf)
    order = np.argsort(key, axis=1, kind="stable")[:, :top]
    picked = np.take_along_axis(eligible, order, axis=1)  # fewer than K eligible -> False

    block = np.where(np.isnan(cur), np.nan, 0.0)
    r, c = np.nonzero(picked)
    block[r, order[r, c]] = 1.0 / top
    # Rows without any eligible asset are a hold: all NaN.
    block[~eligible.any(axis=1)] = np.nan
    w[rows] = block
    return w


def shift_down(w: np.ndarray) -> np.ndarray:
    """Weights decided on bar i executed on bar i + 1 (row 0 NaN, last decision dropped)."""
    out = np.full(w.shape, np.nan)
    out[1:] = w[:-1]
    return out


# ---------------------------------------------------------------------------------------
# Simulation
# ---------------------------------------------------------------------------------------


def infer_freq(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The bar spacing: the smallest positive step of the index (1 day for daily data with
    weekend gaps, 1 minute for minute bars with overnight gaps)."""
    if len(index) < 2:
        return pd.Timedelta("1D")
    step = np.diff(index.asi8)
    step = step[step > 0]
    return pd.Timedelta(int(step.min()), unit="ns")


def simulate(vbt, close: pd.DataFrame, weights: pd.DataFrame, price, args, freq):
    """One from_orders run: all assets in one group sharing one cash balance."""
    kwargs = dict(
        size=weights,
        size_type="targetpercent",
        group_by=True,
        cash_sharing=True,
        call_seq=args.call_seq,
        init_cash=args.init_cash,
        fees=args.fees,
        fixed_fees=args.fixed_fees,
        slippage=args.slippage,
        freq=freq,
        engine=args.engine,
    )
    if price is not None:
        kwargs["price"] = price
    return vbt.Portfolio.from_orders(close, **kwargs)


def materialise(pf):
    """Statistics and the group value per bar, as the Rust engine computes them too."""
    stats = pf.stats()
    value = pf.value()
    return stats, value


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dir", type=Path, help="folder of SYM.csv / SYM.parquet files")
    p.add_argument("strategy", choices=("equal_weight", "momentum_rotation"))
    p.add_argument("--rebalance", default="monthly", choices=("monthly", "weekly", "quarterly"))
    p.add_argument("--lookback", type=int, default=126, help="momentum lookback in bars")
    p.add_argument("--top", type=int, default=2, help="momentum: number of assets held")
    p.add_argument("--fill", default="close", choices=("close", "next_open"),
                   help="execute at bar i's close, or at bar i+1's open")
    p.add_argument("--call-seq", default="auto", choices=("auto", "default"),
                   help="order of a bar's orders: sells first (auto) or column order")
    p.add_argument("--init-cash", type=float, default=100_000.0)
    p.add_argument("--fees", type=float, default=0.001, help="relative fees per order")
    p.add_argument("--fixed-fees", type=float, default=0.0, help="fixed fees per order")
    p.add_argument("--slippage", type=float, default=0.0, help="relative slippage")
    p.add_argument("--freq", default="auto",
                   help="bar spacing passed to vectorbt, e.g. 1D or 1min (auto: smallest step)")
    p.add_argument("--engine", default="auto", choices=("auto", "rust", "numba"),
                   help="vectorbt engine (auto = Rust kernels when vectorbt-rust is installed)")
    p.add_argument("--warmup", action="store_true",
                   help="first run on a 2-column slice to separate the compile cost")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    timings: dict[str, float] = {}
    rss: dict[str, float] = {}  # in-process peak RSS (MiB) after each phase

    def mark_rss(phase: str) -> None:
        # Linux reports ru_maxrss in KiB.
        rss[phase] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    t0 = time.perf_counter()
    import vectorbt as vbt
    from vectorbt._engine import resolve_engine

    timings["t_import_s"] = time.perf_counter() - t0
    mark_rss("import")

    # Load.
    t0 = time.perf_counter()
    need_open = args.fill == "next_open"
    symbols, index, close_np, open_np = load_universe(args.dir, need_open)
    close = pd.DataFrame(close_np, index=index, columns=symbols)
    timings["t_load_s"] = time.perf_counter() - t0
    mark_rss("load")

    # Target weights.
    t0 = time.perf_counter()
    rows = rebalance_rows(index, args.rebalance)
    if args.strategy == "equal_weight":
        w = equal_weight(close_np, rows)
    else:
        w = momentum_rotation(close_np, rows, args.lookback, args.top)
    price = None
    if need_open:
        w = shift_down(w)
        price = pd.DataFrame(open_np, index=index, columns=symbols)
    weights = pd.DataFrame(w, index=index, columns=symbols)
    timings["t_weights_s"] = time.perf_counter() - t0
    mark_rss("weights")

    freq = pd.Timedelta(args.freq) if args.freq != "auto" else infer_freq(index)

    # Optional warm-up on a 2-column slice: pays the one-off compile/cache-load cost.
    if args.warmup:
        k = min(2, len(symbols))
        t0 = time.perf_counter()
        pf_w = simulate(vbt, close.iloc[:, :k], weights.iloc[:, :k],
                        None if price is None else price.iloc[:, :k], args, freq)
        timings["t_warmup_sim_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        materialise(pf_w)
        timings["t_warmup_stats_s"] = time.perf_counter() - t0
        del pf_w
        mark_rss("warmup")

    # Simulation, then statistics and the value series.
    t0 = time.perf_counter()
    pf = simulate(vbt, close, weights, price, args, freq)
    timings["t_sim_s"] = time.perf_counter() - t0
    mark_rss("sim")

    t0 = time.perf_counter()
    stats, value = materialise(pf)
    timings["t_stats_s"] = time.perf_counter() - t0
    mark_rss("stats")

    n_orders = int(len(pf.order_records))
    final_value = float(np.asarray(value)[-1]) if len(value) else args.init_cash
    timings["t_total_s"] = time.perf_counter() - _T_START

    out = {
        "tool": "vectorbt",
        "version": vbt.__version__,
        "engine": resolve_engine(args.engine),
        "strategy": args.strategy,
        "params": {
            "rebalance": args.rebalance,
            **({"lookback": args.lookback, "top": args.top}
               if args.strategy == "momentum_rotation" else {}),
            "fill": args.fill,
        },
        "assets": len(symbols),
        "bars": len(index),
        "freq": str(freq),
        "orders": n_orders,
        "final_value": final_value,
        "total_return_pct": float(stats["Total Return [%]"]),
        "warmup": bool(args.warmup),
        **{k: round(v, 6) for k, v in timings.items()},
        # In-process peak RSS after each phase; the caller's external figure is authoritative.
        "peak_rss_mib_after": rss,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "numba_cache_dir": os.environ.get("NUMBA_CACHE_DIR"),
    }
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
