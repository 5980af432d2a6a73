#!/usr/bin/env python3
"""Fixed-seed synthetic minute bars for scripts/bench-peers.sh, as CSV and Parquet.

The same generator as the Rust benches (crates/cli/benches/common/mod.rs, `synthetic`):
an xorshift64* stream drives a random walk; bar i opens at the previous close, closes at
``max(1, open * (1 + (u - 0.5) * 0.004))``, High = max(Open, Close) * (1 + u * 0.001),
Low = min(Open, Close) * (1 - u * 0.001), Volume = floor(u * 1000); one bar a minute from
2020-09-13 12:26:40 UTC (epoch 1,600,000,000 s). The same (bars, seed) always gives the
same bit-exact prices as the Rust benches.

Files: OUT_DIR/NAME.csv (``time,Open,High,Low,Close,Volume``; time as
``YYYY-MM-DD HH:MM:SS``, naive = UTC; prices in shortest round-trip form, so the CSV holds
the exact doubles) and OUT_DIR/NAME.parquet (time as timestamp[ns], prices float64).

    python gen_bars.py OUT_DIR NAME BARS SEED
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

MASK = (1 << 64) - 1


def _walk_python(n: int, seed: int):
    """Reference implementation (slow: about 5 s per million bars)."""
    x = seed | 1
    out = np.empty((5, n))
    price = 100.0
    for i in range(n):
        vals = []
        for _ in range(4):
            x ^= x >> 12
            x ^= (x << 25) & MASK
            x ^= x >> 27
            vals.append(((x * 0x2545F4914F6CDD1D) & MASK) >> 11)
        u = [v / float(1 << 53) for v in vals]
        opn = price
        price = max(price * (1.0 + (u[0] - 0.5) * 0.004), 1.0)
        out[0, i] = opn
        out[1, i] = max(opn, price) * (1.0 + u[1] * 0.001)
        out[2, i] = min(opn, price) * (1.0 - u[2] * 0.001)
        out[3, i] = price
        out[4, i] = np.floor(u[3] * 1000.0)
    return out


def _walk_numba():
    """The same walk compiled with numba (uint64 arithmetic wraps like Rust's)."""
    import numba

    @numba.njit(cache=False)
    def walk(n, seed):
        x = np.uint64(seed) | np.uint64(1)
        out = np.empty((5, n))
        price = 100.0
        mul = np.uint64(0x2545F4914F6CDD1D)
        scale = float(1 << 53)
        u = np.empty(4)
        for i in range(n):
            for k in range(4):
                x ^= x >> np.uint64(12)
                x ^= x << np.uint64(25)
                x ^= x >> np.uint64(27)
                u[k] = float((x * mul) >> np.uint64(11)) / scale
            opn = price
            price = max(price * (1.0 + (u[0] - 0.5) * 0.004), 1.0)
            out[0, i] = opn
            out[1, i] = max(opn, price) * (1.0 + u[1] * 0.001)
            out[2, i] = min(opn, price) * (1.0 - u[2] * 0.001)
            out[3, i] = price
            out[4, i] = np.floor(u[3] * 1000.0)
        return out

    return walk


def main() -> int:
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    out_dir, name, n, seed = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        ohlcv = _walk_numba()(n, seed)
        # Guard the compiled walk against the reference on a prefix.
        k = min(n, 2000)
        if not np.array_equal(ohlcv[:, :k], _walk_python(k, seed)):
            raise SystemExit("gen_bars: numba walk differs from the reference walk")
    except ImportError:
        ohlcv = _walk_python(n, seed)

    start = np.datetime64(1_600_000_000, "s").astype("datetime64[ns]")
    time = start + np.arange(n, dtype=np.int64) * np.timedelta64(60_000_000_000, "ns")
    df = pd.DataFrame({"time": pd.DatetimeIndex(time),
                       "Open": ohlcv[0], "High": ohlcv[1], "Low": ohlcv[2], "Close": ohlcv[3],
                       "Volume": ohlcv[4]})
    assert (df.High >= df[["Open", "Close"]].max(axis=1)).all()
    assert (df.Low <= df[["Open", "Close"]].min(axis=1)).all() and (df.Low > 0).all()

    csv = out_dir / f"{name}.csv"
    tmp = csv.with_suffix(".csv.tmp")
    # Volume is a whole number: write it as an integer, as the Rust benches do.
    df.assign(Volume=df.Volume.astype(np.int64)).to_csv(
        tmp, index=False, date_format="%Y-%m-%d %H:%M:%S")
    tmp.replace(csv)

    table = pa.Table.from_pandas(df, preserve_index=False)
    table = table.cast(pa.schema([("time", pa.timestamp("ns"))] +
                                 [(c, pa.float64()) for c in ("Open", "High", "Low", "Close", "Volume")]))
    pq_path = out_dir / f"{name}.parquet"
    pq.write_table(table, pq_path.with_suffix(".parquet.tmp"))
    pq_path.with_suffix(".parquet.tmp").replace(pq_path)
    print(f"gen_bars: {csv} and {pq_path}: {n} bars, seed {seed}, "
          f"close {df.Close.iloc[0]:.2f} .. {df.Close.iloc[-1]:.2f} "
          f"(min {df.Close.min():.2f}, max {df.Close.max():.2f})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
