"""Indicator throughput on 1M bars: the engine's indicators through `backtide.ta` against
TA-Lib on the same arrays in the same process, each the median of 5 calls, with the largest
relative difference between the two (after both have values). Run by
scripts/bench-indicators.sh; `--bars N` for another size."""

import argparse
import time

import numpy as np
import talib

import backtide

p = argparse.ArgumentParser()
p.add_argument("--bars", type=int, default=1_000_000)
n = p.parse_args().bars
rng = np.random.default_rng(7)
c = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
o = np.concatenate([[c[0]], c[:-1]])
h = np.maximum(o, c) * (1 + rng.random(n) * 0.001)
lo = np.minimum(o, c) * (1 - rng.random(n) * 0.001)
v = np.floor(rng.random(n) * 1000) + 1
ta = backtide.ta

CASES = [
    ("SMA 20", lambda: ta.sma(c, 20), lambda: talib.SMA(c, 20)),
    ("EMA 20", lambda: ta.ema(c, 20), lambda: talib.EMA(c, 20)),
    ("WMA 20", lambda: ta.wma(c, 20), lambda: talib.WMA(c, 20)),
    ("RSI 14", lambda: ta.rsi(c, 14), lambda: talib.RSI(c, 14)),
    ("ATR 14", lambda: ta.atr(h, lo, c, 14), lambda: talib.ATR(h, lo, c, 14)),
    ("ADX 14", lambda: ta.adx(h, lo, c, 14), lambda: talib.ADX(h, lo, c, 14)),
    ("CCI 14", lambda: ta.cci(h, lo, c, 14), lambda: talib.CCI(h, lo, c, 14)),
    ("MFI 14", lambda: ta.mfi(h, lo, c, v, 14), lambda: talib.MFI(h, lo, c, v, 14)),
    ("KAMA 30", lambda: ta.kama(c, 30), lambda: talib.KAMA(c, 30)),
    ("TEMA 20", lambda: ta.tema(c, 20), lambda: talib.TEMA(c, 20)),
    ("SAR", lambda: ta.sar(h, lo, 0.02, 0.2), lambda: talib.SAR(h, lo, 0.02, 0.2)),
    ("OBV", lambda: ta.obv(c, v), lambda: talib.OBV(c, v)),
    ("STDDEV 20", lambda: ta.stddev(c, 20), lambda: talib.STDDEV(c, 20, 1.0)),
    ("LINEARREG_SLOPE 14", lambda: ta.linreg_slope(c, 14), lambda: talib.LINEARREG_SLOPE(c, 14)),
]


def median_time(f):
    f()
    t = []
    for _ in range(5):
        t0 = time.perf_counter()
        f()
        t.append(time.perf_counter() - t0)
    return sorted(t)[2]


print(f"{n:,} bars, medians of 5 calls; M bars/s (higher is faster)")
print(f"{'indicator':<20} {'backtide':>10} {'TA-Lib':>10} {'ratio':>7}  max rel. diff")
for name, ours, theirs in CASES:
    a, b = ours(), theirs()
    both = ~np.isnan(a) & ~np.isnan(b)
    diff = np.max(np.abs(a[both] - b[both]) / np.maximum(np.abs(b[both]), 1e-3)) if both.any() else np.nan
    to, tt = median_time(ours), median_time(theirs)
    print(f"{name:<20} {n / to / 1e6:>10.1f} {n / tt / 1e6:>10.1f} {tt / to:>6.2f}x  {diff:.1e}")
