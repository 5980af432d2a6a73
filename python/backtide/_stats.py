"""Results as backtesting.py shapes them: a `pd.Series` of statistics with its labels and
order, `_equity_curve` and `_trades` DataFrames."""

from __future__ import annotations

import numpy as np
import pandas as pd

# The engine's keys (in backtesting.py's order) and backtesting.py's labels.
LABELS = {
    "start": "Start",
    "end": "End",
    "duration_s": "Duration",
    "exposure_time_pct": "Exposure Time [%]",
    "equity_final": "Equity Final [$]",
    "equity_peak": "Equity Peak [$]",
    "commissions": "Commissions [$]",
    "return_pct": "Return [%]",
    "buy_and_hold_return_pct": "Buy & Hold Return [%]",
    "return_ann_pct": "Return (Ann.) [%]",
    "volatility_ann_pct": "Volatility (Ann.) [%]",
    "cagr_pct": "CAGR [%]",
    "sharpe_ratio": "Sharpe Ratio",
    "sortino_ratio": "Sortino Ratio",
    "calmar_ratio": "Calmar Ratio",
    "alpha_pct": "Alpha [%]",
    "beta": "Beta",
    "max_drawdown_pct": "Max. Drawdown [%]",
    "avg_drawdown_pct": "Avg. Drawdown [%]",
    "max_drawdown_duration_s": "Max. Drawdown Duration",
    "avg_drawdown_duration_s": "Avg. Drawdown Duration",
    "num_trades": "# Trades",
    "win_rate_pct": "Win Rate [%]",
    "best_trade_pct": "Best Trade [%]",
    "worst_trade_pct": "Worst Trade [%]",
    "avg_trade_pct": "Avg. Trade [%]",
    "max_trade_duration_s": "Max. Trade Duration",
    "avg_trade_duration_s": "Avg. Trade Duration",
    "profit_factor": "Profit Factor",
    "expectancy_pct": "Expectancy [%]",
    "sqn": "SQN",
    "kelly_criterion": "Kelly Criterion",
}
KEYS = {v: k for k, v in LABELS.items()}


def _value(kind, v, tz):
    if kind == "time":
        t = pd.Timestamp(v, unit="ns", tz="UTC")
        return t.tz_convert(tz) if tz is not None else t.tz_localize(None)
    if kind == "duration":
        return pd.NaT if v is None else pd.Timedelta(v, unit="ns")
    if kind == "count":
        return int(v)
    return float(v)


def stats_dict(rows, tz) -> dict:
    """`{label: value}` in backtesting.py's order (Commissions only when non-zero)."""
    out = {}
    for key, kind, v in rows:
        if key == "commissions" and v == 0:
            continue
        out[LABELS[key]] = _value(kind, v, tz)
    return out


def equity_curve(equity: np.ndarray, dd: np.ndarray, index: pd.DatetimeIndex) -> pd.DataFrame:
    """`Equity`, `DrawdownPct` (1 − equity / running peak) and `DrawdownDuration` (on the
    bar that ends each drawdown period — the next bar at a peak, or the last bar — its
    length from the peak that started it)."""
    n = len(dd)
    ends = np.unique(np.r_[np.flatnonzero(dd == 0), n - 1])
    prev, cur = ends[:-1], ends[1:]
    keep = cur > prev + 1
    t = index.values  # datetime64 in the index's own unit (UTC if tz-aware)
    delta = t[cur[keep]] - t[prev[keep]]
    dur = np.full(n, np.timedelta64("NaT"), dtype=delta.dtype)
    dur[cur[keep]] = delta
    return pd.DataFrame({"Equity": equity, "DrawdownPct": dd, "DrawdownDuration": dur},
                        index=index, copy=False)


def _stops(x: np.ndarray):
    return np.full(len(x), None, dtype=object) if np.isnan(x).all() else x


def trades_frame(t: dict, index: pd.DatetimeIndex, whole_units: bool,
                 indicators=()) -> pd.DataFrame:
    """backtesting.py's `_trades` columns, with each indicator's value at every trade's
    entry and exit bar (`Entry_SMA(C,10)`, `Exit_…`; `_0`, `_1`, … for the rows of a 2-D
    indicator) as backtesting.py adds them for the indicators a strategy declared."""
    entry, exit_ = t["EntryBar"], t["ExitBar"]
    size = t["Size"]
    df = pd.DataFrame({
        "Size": size.astype(np.int64) if whole_units and np.all(size == np.round(size)) else size,
        "EntryBar": entry,
        "ExitBar": exit_,
        "EntryPrice": t["EntryPrice"],
        "ExitPrice": t["ExitPrice"],
        # As backtesting.py builds them: NaN where unset, a column of None when none is.
        "SL": _stops(t["SL"]),
        "TP": _stops(t["TP"]),
        "PnL": t["PnL"],
        "Commission": t["Commission"],
        "ReturnPct": t["ReturnPct"],
        "EntryTime": index[entry],
        "ExitTime": index[exit_],
    })
    df["Duration"] = df["ExitTime"] - df["EntryTime"]
    df["Tag"] = t["Tag"]
    if len(df):
        for ind in indicators:
            name = getattr(ind, "name", None)
            rows = np.atleast_2d(np.asarray(ind))
            for i, values in enumerate(rows):
                suffix = f"_{i}" if len(rows) > 1 else ""
                df[f"Entry_{name}{suffix}"] = values[df["EntryBar"].values]
                df[f"Exit_{name}{suffix}"] = values[df["ExitBar"].values]
    return df


def result_series(res: dict, index: pd.DatetimeIndex, strategy, whole_units: bool) -> pd.Series:
    s = stats_dict(res["stats"], index.tz)
    s["_strategy"] = strategy
    s["_equity_curve"] = equity_curve(res["equity"], res["drawdown"], index)
    s["_trades"] = trades_frame(res["trades"], index, whole_units,
                                getattr(strategy, "_indicators", ()))
    return pd.Series(s, dtype=object)
