#!/usr/bin/env python3
"""Golden fixtures for rule-language strategies, produced by backtesting.py 0.6.6.

Writes, next to this script:
  bt_goog_rules_rsi_sma_sl.json     (strategy RulesRsiSmaSl)
  bt_goog_rules_barssince_tp.json   (strategy RulesBarsSinceTp)

Same layout as ../bt_goog_longonly_sltp.json (see ../SOURCE.md). Indicators are computed
with the same arithmetic (same operations in the same order) as Backtide's
crates/core/src/indicators/{sma,rsi,atr,cross}.rs, so the two engines see bit-identical
indicator values:
  - SMA: pandas Series.rolling(n).mean() (Backtide's sma.rs reproduces it bit for bit);
  - RSI (Wilder) and ATR (Wilder, true range): plain loops transcribed from rsi.rs / atr.rs.

Run:  target/peers-venv/bin/python testdata/golden/rules/make_rules_fixtures.py
(from the repository root; any working directory works, paths are relative to this file).
"""

import json
import math
import os
import platform
import sys
import time
import warnings
from datetime import datetime, timezone
from importlib import metadata

import numpy as np
import pandas as pd

import backtesting
from backtesting import Backtest, Strategy

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
DATA = os.path.join(REPO, "crates", "data", "samples", "GOOG.csv")

BROKER = {
    "cash": 10000,
    "spread": 0.0,
    "commission": 0.002,
    "margin": 1.0,
    "trade_on_close": False,
    "hedging": False,
    "exclusive_orders": False,
    "finalize_trades": False,
}


# --------------------------------------------------------------------------------------
# Indicators (same arithmetic as Backtide)
# --------------------------------------------------------------------------------------

def sma(values, n):
    """pandas rolling mean == Backtide sma.rs, bit for bit."""
    return pd.Series(np.asarray(values, dtype=float)).rolling(n).mean().to_numpy()


def rsi(values, n):
    """Wilder RSI, transcribed from crates/core/src/indicators/rsi.rs."""
    x = [float(v) for v in np.asarray(values, dtype=float)]
    length = len(x)
    out = np.full(length, np.nan)
    if n == 0 or length <= n:
        return out
    gain, loss = 0.0, 0.0
    for i in range(1, n + 1):
        d = x[i] - x[i - 1]
        if d > 0.0:
            gain += d
        else:
            loss -= d
    nf = float(n)
    gain /= nf
    loss /= nf

    def value(g, l):
        return 100.0 * (g / (g + l)) if g + l != 0.0 else 0.0

    out[n] = value(gain, loss)
    for i in range(n + 1, length):
        d = x[i] - x[i - 1]
        if d > 0.0:
            g, l = d, 0.0
        else:
            g, l = 0.0, -d
        gain = (gain * (nf - 1.0) + g) / nf
        loss = (loss * (nf - 1.0) + l) / nf
        out[i] = value(gain, loss)
    return out


def true_range(high, low, close):
    """crates/core/src/indicators/atr.rs::true_range."""
    h = [float(v) for v in np.asarray(high, dtype=float)]
    lo = [float(v) for v in np.asarray(low, dtype=float)]
    c = [float(v) for v in np.asarray(close, dtype=float)]
    length = min(len(h), len(lo), len(c))
    out = [math.nan] * length
    for i in range(1, length):
        pc = c[i - 1]
        out[i] = max(max(h[i] - lo[i], abs(h[i] - pc)), abs(lo[i] - pc))
    return out


def atr(high, low, close, n):
    """Wilder ATR, transcribed from crates/core/src/indicators/atr.rs::atr."""
    tr = true_range(high, low, close)
    length = len(tr)
    out = np.full(length, np.nan)
    if n == 0 or length <= n:
        return out
    nf = float(n)
    s = 0.0  # sequential left-to-right sum, like Rust's Iterator::sum
    for v in tr[1:n + 1]:
        s += v
    prev = s / nf
    out[n] = prev
    for i in range(n + 1, length):
        prev = (prev * (nf - 1.0) + tr[i]) / nf
        out[i] = prev
    return out


def crossover_series(a, b):
    """crossover(a, b)[i] = a[i-1] < b[i-1] and a[i] > b[i]; False at i=0 and on NaN."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    out = np.zeros(len(a), dtype=bool)
    for i in range(1, len(a)):
        out[i] = bool(a[i - 1] < b[i - 1] and a[i] > b[i])  # NaN compares False
    return out


def bars_since(cond):
    """Bars since cond was last True (0 on a True bar); NaN before the first True."""
    out = np.full(len(cond), np.nan)
    last = None
    for i, c in enumerate(cond):
        if c:
            last = i
        if last is not None:
            out[i] = float(i - last)
    return out


# --------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------

# Bars on which next() called position.close() (only to classify exits in the summary).
CLOSE_CALLS = set()


class RulesRsiSmaSl(Strategy):
    rsi_lo = 40
    rsi_hi = 65
    sl_pct = 0.04
    rsi_n = 14
    sma_n = 200

    def init(self):
        self.rsi_ind = self.I(rsi, self.data.Close, self.rsi_n)
        self.sma_ind = self.I(sma, self.data.Close, self.sma_n)

    def next(self):
        c = self.data.Close[-1]
        entry_now = self.rsi_ind[-1] < self.rsi_lo and c > self.sma_ind[-1]
        exit_now = self.rsi_ind[-1] > self.rsi_hi
        placed = False
        if entry_now and not self.position.is_long:
            self.buy(sl=c * (1.0 - self.sl_pct))
            placed = True
        if not placed and exit_now and self.position.is_long:
            self.position.close()
            CLOSE_CALLS.add(len(self.data) - 1)


class RulesBarsSinceTp(Strategy):
    k = 3
    m = 3.0
    fast = 10
    slow = 30
    atr_n = 14

    def init(self):
        self.sma_fast = self.I(sma, self.data.Close, self.fast)
        self.sma_slow = self.I(sma, self.data.Close, self.slow)
        self.atr_ind = self.I(atr, self.data.High, self.data.Low, self.data.Close, self.atr_n)
        # Not registered: plain numpy arrays over the whole data, indexed by bar.
        f = np.asarray(self.sma_fast, dtype=float)
        s = np.asarray(self.sma_slow, dtype=float)
        self.cross_up = crossover_series(f, s)
        self.cross_down = crossover_series(s, f)  # crossunder(fast, slow)
        self.since_up = bars_since(self.cross_up)

    def next(self):
        i = len(self.data) - 1
        c = self.data.Close[-1]
        entry_now = self.since_up[i] == self.k and c > self.sma_slow[-1]
        exit_now = bool(self.cross_down[i])
        placed = False
        if entry_now and not self.position.is_long:
            self.buy(tp=c + self.m * self.atr_ind[-1])
            placed = True
        if not placed and exit_now and self.position.is_long:
            self.position.close()
            CLOSE_CALLS.add(len(self.data) - 1)


# --------------------------------------------------------------------------------------
# Serialisation (layout of ../bt_*.json)
# --------------------------------------------------------------------------------------

def iso(t):
    return pd.Timestamp(t).isoformat()


def dur(td):
    td = pd.Timedelta(td)
    sec = td.total_seconds()
    return {"str": str(td), "seconds": sec, "days": sec / 86400.0}


def num(x):
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def stat_value(v):
    if isinstance(v, pd.Timestamp):
        return iso(v)
    if isinstance(v, pd.Timedelta):
        return dur(v)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    try:
        return num(v)
    except (TypeError, ValueError):
        return str(v)


def trade_row(r):
    tag = r["Tag"]
    if tag is not None and not (isinstance(tag, float) and math.isnan(tag)):
        tag = str(tag)
    else:
        tag = None
    return {
        "EntryBar": int(r["EntryBar"]),
        "ExitBar": int(r["ExitBar"]),
        "EntryTime": iso(r["EntryTime"]),
        "ExitTime": iso(r["ExitTime"]),
        "Size": num(r["Size"]),
        "EntryPrice": num(r["EntryPrice"]),
        "ExitPrice": num(r["ExitPrice"]),
        "SL": num(r["SL"]),
        "TP": num(r["TP"]),
        "PnL": num(r["PnL"]),
        "ReturnPct": num(r["ReturnPct"]),
        "Commission": num(r["Commission"]),
        "Duration": dur(r["Duration"]),
        "Tag": tag,
    }


def env_block():
    pk = {}
    for name in ["backtesting", "vectorbt", "vectorbt-rust", "numba", "numpy", "pandas", "bokeh"]:
        try:
            pk[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": pk,
        "generated_utc": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
    }


def load_goog():
    # As backtesting.py's own test data: backtesting.test._read_file
    return pd.read_csv(DATA, index_col=0, parse_dates=True)


def run_case(df, case, strategy_cls):
    bt = Backtest(
        df,
        strategy_cls,
        cash=BROKER["cash"],
        spread=BROKER["spread"],
        commission=BROKER["commission"],
        margin=BROKER["margin"],
        trade_on_close=BROKER["trade_on_close"],
        hedging=BROKER["hedging"],
        exclusive_orders=BROKER["exclusive_orders"],
        finalize_trades=BROKER["finalize_trades"],
    )
    run_kwargs = case.pop("_run_kwargs")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        st = bt.run(**run_kwargs)
        elapsed = time.perf_counter() - t0
    warns = sorted(str(w.message) for w in caught)

    stats = {k: stat_value(v) for k, v in st.items() if not k.startswith("_")}
    trades = [trade_row(r) for _, r in st["_trades"].iterrows()]
    strat = st["_strategy"]
    open_trades = [
        {
            "EntryBar": int(t.entry_bar),
            "EntryTime": iso(t.entry_time),
            "Size": num(t.size),
            "EntryPrice": num(t.entry_price),
            "SL": num(t.sl),
            "TP": num(t.tp),
        }
        for t in strat._broker.trades
    ]
    eq = st["_equity_curve"]
    return {
        "case": case,
        "peer": "backtesting.py",
        "env": env_block(),
        "data": {
            "file": os.path.basename(DATA),
            "rows": int(len(df)),
            "first": iso(df.index[0]),
            "last": iso(df.index[-1]),
        },
        "stats": stats,
        "n_trades_closed": len(trades),
        "trades": trades,
        "open_trades_at_end": open_trades,
        "equity": {
            "index": [iso(t) for t in eq.index],
            "Equity": [num(v) for v in eq["Equity"]],
            "DrawdownPct": [num(v) for v in eq["DrawdownPct"]],
        },
        "warnings": warns,
        "n_warnings": len(warns),
        "run_seconds_informative": elapsed,
        "checks": None,
    }


def exit_kinds(res, close_bars):
    """Counts closed trades by how they exited: 'signal' (position.close() called on the bar
    before the exit), else 'SL' or 'TP' (whichever the trade had; a gap fills at the Open)."""
    kinds = {"SL": 0, "TP": 0, "signal": 0}
    for t in res["trades"]:
        if t["ExitBar"] - 1 in close_bars:
            kinds["signal"] += 1
        elif t["SL"] is not None and t["TP"] is None:
            kinds["SL"] += 1
        elif t["TP"] is not None and t["SL"] is None:
            kinds["TP"] += 1
        else:
            raise AssertionError(f"cannot classify exit of {t}")
    return kinds


# --------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------

# Final parameters (the starting values asked for: RSI 40/65, SL 4%; K=3, M=3.0).
RSI_LO, RSI_HI, SL = 40, 65, 0.04
K, M = 3, 3.0


def case_rsi_sma_sl():
    entry = f"rsi(close, 14) < {RSI_LO} and close > sma(close, 200)"
    exit_ = f"rsi(close, 14) > {RSI_HI}"
    return {
        "name": "goog_rules_rsi_sma_sl",
        "what": (f"Long-only rule strategy: buy when RSI(14) < {RSI_LO} while close is above SMA(200), "
                 f"with a stop-loss {SL:g} below the signal close; exit when RSI(14) > {RSI_HI}. "
                 "Commission .2%, cash 10k."),
        "data": "GOOG.csv",
        "strategy": "RulesRsiSmaSl",
        "params": {"rsi_lo": RSI_LO, "rsi_hi": RSI_HI, "sl_pct": SL, "rsi_n": 14, "sma_n": 200},
        "rules": {"entry": entry, "exit": exit_, "sl_pct": SL},
        "broker": dict(BROKER),
        "strategy_doc": (
            "Long-only rules. Indicators registered with Strategy.I: RSI(close, 14) (Wilder: first "
            "average gain/loss = plain mean of the first 14 changes, then avg = (avg*13 + x)/14; "
            "RSI = 100*g/(g+l), 0 when both are 0; first value at bar 14) and SMA(close, 200) "
            "(pandas rolling mean, first value at bar 199), so the first next() is at bar 200. "
            f"Each bar: entry = RSI < {RSI_LO} and close > SMA200; exit = RSI > {RSI_HI}. "
            f"Entry while not long -> buy(sl=C*(1-{SL:g})) where C = close of the signal bar "
            "(default size: 99.99% of available margin, whole shares; fills at the next open). "
            "Otherwise, exit while long -> position.close() (fills at the next open). "
            "The SL is checked intrabar against Low from the fill bar on; a gap through it "
            "fills at the Open."
        ),
        "_run_kwargs": {"rsi_lo": RSI_LO, "rsi_hi": RSI_HI, "sl_pct": SL, "rsi_n": 14, "sma_n": 200},
    }


def case_barssince_tp():
    entry = f"bars_since(crossover(sma(close, 10), sma(close, 30))) == {K} and close > sma(close, 30)"
    exit_ = "crossunder(sma(close, 10), sma(close, 30))"
    tp = f"close + {M:g} * atr(high, low, close, 14)"
    return {
        "name": "goog_rules_barssince_tp",
        "what": (f"Long-only rule strategy: buy {K} bars after SMA(10) crossed above SMA(30) if close "
                 f"is still above SMA(30), with a take-profit at close + {M:g}*ATR(14) of the signal "
                 "bar; exit when SMA(10) crosses below SMA(30). Commission .2%, cash 10k."),
        "data": "GOOG.csv",
        "strategy": "RulesBarsSinceTp",
        "params": {"k": K, "m": M, "fast": 10, "slow": 30, "atr_n": 14},
        "rules": {"entry": entry, "exit": exit_, "tp": tp},
        "broker": dict(BROKER),
        "strategy_doc": (
            "Long-only rules. Indicators registered with Strategy.I: SMA(close, 10), SMA(close, 30) "
            "(pandas rolling means) and ATR(high, low, close, 14) (Wilder: TR = max(H-L, |H-prevC|, "
            "|L-prevC|), NaN at bar 0; ATR[14] = mean(TR[1..=14]), then (ATR*13 + TR)/14); the "
            "latest first value is SMA30's at bar 29, so the first next() is at bar 30. Not "
            "registered: cross[i] = SMA10[i-1] < SMA30[i-1] and SMA10[i] > SMA30[i] (strict, False "
            "at bar 0 and on NaN); bars_since[i] = i - last j <= i with cross[j] (NaN before the "
            "first cross); crossunder(SMA10, SMA30) = crossover(SMA30, SMA10). Each bar i: "
            f"entry = bars_since[i] == {K} and close > SMA30; exit = crossunder. Entry while not "
            f"long -> buy(tp=C + {M:g}*ATR) with C = close and ATR of the signal bar (default "
            "size, fills at the next open). Otherwise, exit while long -> position.close() (fills "
            "at the next open). The TP is a limit checked intrabar against High from the fill bar "
            "on; a gap through it fills at the Open."
        ),
        "_run_kwargs": {"k": K, "m": M, "fast": 10, "slow": 30, "atr_n": 14},
    }


def main():
    df = load_goog()
    out = {}
    for fname, make, cls in [
        ("bt_goog_rules_rsi_sma_sl.json", case_rsi_sma_sl, RulesRsiSmaSl),
        ("bt_goog_rules_barssince_tp.json", case_barssince_tp, RulesBarsSinceTp),
    ]:
        CLOSE_CALLS.clear()
        res = run_case(df, make(), cls)
        path = os.path.join(HERE, fname)
        with open(path, "w") as fh:
            fh.write(json.dumps(res, indent=1, allow_nan=False))
            fh.write("\n")
        with open(path) as fh:
            json.load(fh)  # well-formed
        out[fname] = res
        k = exit_kinds(res, CLOSE_CALLS)
        print(f"{fname}: {res['n_trades_closed']} closed trades "
              f"(SL exits {k['SL']}, TP exits {k['TP']}, signal exits {k['signal']}), "
              f"{len(res['open_trades_at_end'])} open at end, "
              f"equity final {res['stats']['Equity Final [$]']:.6f}, "
              f"warnings {res['warnings']}")
    return out


if __name__ == "__main__":
    main()
