"""Reference indicator values for Backtide's tests, from independent implementations.

Produces `goog_reference.json` from the bundled GOOG sample (crates/data/samples/GOOG.csv):
- SMA: pandas `Series.rolling(n).mean()` (pandas 3.1.1) -- compared bit for bit, since the
  backtesting.py profile must reproduce pandas' arithmetic at exact ties;
- everything else: TA-Lib 0.8.2 (PyPI `ta-lib`, which bundles the C library) --
  EMA, WMA, RSI, ATR, TRANGE, BBANDS (population std), STOCH (SMA smoothing), STDDEV,
  MAX, MIN, ROC; MACD as EMA(fast) - EMA(slow) with an EMA(signal) of the line, composed
  from TA-Lib's EMA (TA-Lib's own MACD seeds the fast EMA later than a plain EMA does);
- rolling sample std: pandas `rolling(n).std()` (ddof 1);
- more TA-Lib 0.8.2 functions, each called directly with the parameters in the series
  name: PLUS_DI, MINUS_DI, DX, ADX, CCI, WILLR, OBV, MFI, MOM, CMO, PPO (matype=1, EMA),
  TRIX, DEMA, TEMA, KAMA, NATR, AROON, AROONOSC, BOP, AD, ADOSC, ULTOSC, LINEARREG_SLOPE
  (these use the sample's Open and Volume too, written to "input"); SAR, T3, STOCHRSI
  (fastd_matype=0, SMA), MIDPOINT, MIDPRICE;
- composed from TA-Lib 0.8.2: Hull MA as WMA(2*WMA(x, n//2) - WMA(x, n), isqrt(n)) and
  Keltner channels as EMA(close, n) +- k*ATR(high, low, close, n).

Run: pip install pandas==3.1.1 numpy==2.4.6 ta-lib==0.8.2 && python3 make_fixtures.py
NaN is written as null.
"""
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import talib

here = Path(__file__).resolve().parent
df = pd.read_csv(here / "../../crates/data/samples/GOOG.csv", index_col=0, parse_dates=True)
c, h, l = (df[k].to_numpy(dtype=float) for k in ("Close", "High", "Low"))
o, v = (df[k].to_numpy(dtype=float) for k in ("Open", "Volume"))


def clean(a):
    return [None if (x is None or (isinstance(x, float) and math.isnan(x))) else float(x) for x in np.asarray(a, dtype=float)]


def macd(x, fast, slow, signal):
    line = talib.EMA(x, fast) - talib.EMA(x, slow)
    first = int(np.argmax(~np.isnan(line)))
    sig = np.full_like(line, np.nan)
    sig[first:] = talib.EMA(line[first:], signal)
    return line, sig, line - sig


out = {"input": {"close": clean(c), "high": clean(h), "low": clean(l)}, "series": {}}
s = out["series"]
for n in (5, 10, 20, 25, 30):
    s[f"sma_{n}"] = clean(pd.Series(c).rolling(n).mean())
for n in (10, 20):
    s[f"ema_{n}"] = clean(talib.EMA(c, n))
    s[f"wma_{n}"] = clean(talib.WMA(c, n))
    s[f"roc_{n}"] = clean(talib.ROC(c, n))
    s[f"max_{n}"] = clean(talib.MAX(h, n))
    s[f"min_{n}"] = clean(talib.MIN(l, n))
    s[f"stddev_{n}"] = clean(talib.STDDEV(c, n, 1.0))
    s[f"std_sample_{n}"] = clean(pd.Series(c).rolling(n).std())
s["rsi_14"] = clean(talib.RSI(c, 14))
s["atr_14"] = clean(talib.ATR(h, l, c, 14))
s["trange"] = clean(talib.TRANGE(h, l, c))
up, mid, lo = talib.BBANDS(c, 20, 2.0, 2.0, 0)
s["bb_upper_20_2"], s["bb_middle_20_2"], s["bb_lower_20_2"] = clean(up), clean(mid), clean(lo)
k, d = talib.STOCH(h, l, c, 14, 3, 0, 3, 0)
s["stoch_k_14_3"], s["stoch_d_14_3_3"] = clean(k), clean(d)
m, sg, hist = macd(c, 12, 26, 9)
s["macd_12_26"], s["macd_signal_9"], s["macd_hist"] = clean(m), clean(sg), clean(hist)
out["input"]["open"], out["input"]["volume"] = clean(o), clean(v)
s["plus_di_14"] = clean(talib.PLUS_DI(h, l, c, 14))
s["minus_di_14"] = clean(talib.MINUS_DI(h, l, c, 14))
s["dx_14"] = clean(talib.DX(h, l, c, 14))
s["adx_14"] = clean(talib.ADX(h, l, c, 14))
s["cci_14"] = clean(talib.CCI(h, l, c, 14))
s["willr_14"] = clean(talib.WILLR(h, l, c, 14))
s["obv"] = clean(talib.OBV(c, v))
s["mfi_14"] = clean(talib.MFI(h, l, c, v, 14))
s["mom_10"] = clean(talib.MOM(c, 10))
s["cmo_14"] = clean(talib.CMO(c, 14))
s["ppo_12_26"] = clean(talib.PPO(c, 12, 26, 1))
s["trix_15"] = clean(talib.TRIX(c, 15))
s["dema_20"] = clean(talib.DEMA(c, 20))
s["tema_20"] = clean(talib.TEMA(c, 20))
for n in (10, 30):
    s[f"kama_{n}"] = clean(talib.KAMA(c, n))
s["natr_14"] = clean(talib.NATR(h, l, c, 14))
down, up = talib.AROON(h, l, 14)
s["aroon_up_14"], s["aroon_down_14"] = clean(up), clean(down)
s["aroonosc_14"] = clean(talib.AROONOSC(h, l, 14))
s["bop"] = clean(talib.BOP(o, h, l, c))
s["ad"] = clean(talib.AD(h, l, c, v))
s["adosc_3_10"] = clean(talib.ADOSC(h, l, c, v, 3, 10))
s["ultosc_7_14_28"] = clean(talib.ULTOSC(h, l, c, 7, 14, 28))
s["linreg_slope_14"] = clean(talib.LINEARREG_SLOPE(c, 14))
s["sar_0.02_0.2"] = clean(talib.SAR(h, l, 0.02, 0.2))
s["t3_5_0.7"] = clean(talib.T3(c, 5, 0.7))
k, d = talib.STOCHRSI(c, 14, 5, 3, 0)
s["stochrsi_k_14_5_3"], s["stochrsi_d_14_5_3"] = clean(k), clean(d)
s["midpoint_14"] = clean(talib.MIDPOINT(c, 14))
s["midprice_14"] = clean(talib.MIDPRICE(h, l, 14))
for n in (15, 20):
    # Hull: WMA(2*WMA(x, n//2) - WMA(x, n), isqrt(n)), from TA-Lib's WMA (which skips
    # the leading NaNs of the difference).
    s[f"hma_{n}"] = clean(talib.WMA(2 * talib.WMA(c, n // 2) - talib.WMA(c, n), math.isqrt(n)))
# Keltner: EMA(close, n) +- k*ATR(h, l, c, n), from TA-Lib's EMA and ATR.
kc_mid, kc_atr = talib.EMA(c, 20), talib.ATR(h, l, c, 20)
s["kc_upper_20_2"], s["kc_middle_20_2"], s["kc_lower_20_2"] = (
    clean(kc_mid + 2.0 * kc_atr), clean(kc_mid), clean(kc_mid - 2.0 * kc_atr))
(here / "goog_reference.json").write_text(json.dumps(out))
print("wrote", len(s), "series of", len(c), "bars")
