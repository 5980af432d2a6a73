#!/usr/bin/env python3
"""Writes a synthetic universe as one Parquet file per symbol (for vbt_portfolio.py).

Each asset is a geometric random walk with its own drift and volatility, fixed seed.
Bars: ``time`` (naive nanosecond timestamp, read as UTC), then ``Open, High, Low, Close,
Volume`` as float64, with prices > 0, High >= max(Open, Close), Low <= min(Open, Close).
The same layout as Backtide's Parquet writer.

Calendars: ``daily`` = Monday..Friday from 2010-01-04; ``minute`` = 390 one-minute bars
per weekday, 09:30..15:59. With ``--late FRACTION`` that share of assets (never the
first) lists later, at a random bar in the first half, so the union alignment and the
"no bar yet" paths are exercised.

    python scripts/bench/gen_universe.py /tmp/u500d --assets 500 --bars 2520 --calendar daily
    python scripts/bench/gen_universe.py /tmp/u50m --assets 50 --bars 100000 --calendar minute
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

MINUTES_PER_DAY = 390


def calendar(kind: str, bars: int) -> np.ndarray:
    """`bars` timestamps as datetime64[ns]."""
    start = np.datetime64("2010-01-04", "D")  # a Monday
    if kind == "daily":
        # Enough calendar days for `bars` weekdays, then keep the weekdays.
        days = start + np.arange(bars * 7 // 5 + 7)
        days = days[np.is_busday(days)][:bars]
        return days.astype("datetime64[ns]")
    if kind == "minute":
        n_days = -(-bars // MINUTES_PER_DAY)
        days = start + np.arange(n_days * 7 // 5 + 7)
        days = days[np.is_busday(days)][:n_days].astype("datetime64[ns]")
        offsets = (np.timedelta64(9 * 60 + 30, "m") + np.arange(MINUTES_PER_DAY)
                   * np.timedelta64(1, "m")).astype("timedelta64[ns]")
        return (days[:, None] + offsets[None, :]).ravel()[:bars]
    raise SystemExit(f"unknown calendar '{kind}'")


def one_asset(rng: np.random.Generator, n: int, per_year: float):
    """OHLCV arrays of one random-walk asset of n bars."""
    drift = rng.normal(0.06, 0.10) / per_year           # annual drift ~ 6 % +- 10 %
    vol = rng.uniform(0.15, 0.60) / np.sqrt(per_year)   # annual volatility 15 .. 60 %
    start = rng.uniform(10.0, 500.0)
    log_ret = drift - 0.5 * vol**2 + vol * rng.standard_normal(n)
    close = start * np.exp(np.cumsum(log_ret))
    prev = np.concatenate(([start], close[:-1]))
    opn = prev * np.exp(0.25 * vol * rng.standard_normal(n))     # small gap from prev close
    wick = np.abs(rng.standard_normal((2, n))) * 0.5 * vol
    high = np.maximum(opn, close) * np.exp(wick[0])
    low = np.minimum(opn, close) * np.exp(-wick[1])
    volume = np.round(rng.lognormal(12.0, 1.0, n))
    return opn, high, low, close, volume


def main() -> int:
    p = argparse.ArgumentParser(description="synthetic per-symbol Parquet universe")
    p.add_argument("out", type=Path)
    p.add_argument("--assets", type=int, default=500)
    p.add_argument("--bars", type=int, default=2520)
    p.add_argument("--calendar", choices=("daily", "minute"), default="daily")
    p.add_argument("--late", type=float, default=0.1, help="share of assets that list later")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()

    time = calendar(args.calendar, args.bars)
    per_year = 252.0 if args.calendar == "daily" else 252.0 * MINUTES_PER_DAY
    rng = np.random.default_rng(args.seed)
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)

    width = len(str(args.assets - 1))
    n_late = int(round(args.late * args.assets))
    late = set(rng.choice(np.arange(1, args.assets), size=min(n_late, args.assets - 1),
                          replace=False).tolist()) if args.assets > 1 else set()
    for k in range(args.assets):
        first = int(rng.integers(1, args.bars // 2)) if k in late else 0
        o, h, l, c, v = one_asset(rng, args.bars - first, per_year)
        assert (c > 0).all() and (l > 0).all()
        assert (h >= np.maximum(o, c)).all() and (l <= np.minimum(o, c)).all()
        table = pa.table({
            "time": pa.array(time[first:], type=pa.timestamp("ns")),
            "Open": o, "High": h, "Low": l, "Close": c, "Volume": v,
        })
        pq.write_table(table, args.out / f"S{k:0{width}d}.parquet")
    print(f"wrote {args.assets} assets x {args.bars} {args.calendar} bars "
          f"({len(late)} listing late) to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
