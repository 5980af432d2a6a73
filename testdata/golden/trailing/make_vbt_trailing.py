"""Golden cases for vectorbt's trailing stop loss (`sl_trail=True`), made with vectorbt 1.2.

The strategy is the golden set's native long-only SMA(10/20) cross (see ../SOURCE.md,
`vbt_goog_native_longonly_sltp.json`): vectorbt's own `MA.run` lines and
`ma_crossed_above/below`, filled at the signal bar's close, all the cash in fractional units,
fees 0.2 %, Open/High/Low passed so stops are checked within each bar. Here the stop loss
trails: it sits `sl_stop` below the highest high since the entry (starting from the entry
bar's close), moved after each bar's check; the take profit, when given, stays relative to the
entry close. Output in the layout of the other `vbt_*.json` files (case, stats, trades,
orders, equity), written beside this script.

Run from the repository root with vectorbt==1.2.0 (and vectorbt-rust) installed:
    target/peers-venv/bin/python testdata/golden/trailing/make_vbt_trailing.py
"""

import datetime
import json
import math
import pathlib
import platform
import sys
import time
from importlib import metadata

import numpy as np
import pandas as pd
import vectorbt as vbt
from vectorbt import _engine

ROOT = pathlib.Path(__file__).resolve().parents[3]
HERE = pathlib.Path(__file__).resolve().parent
GOOG = pd.read_csv(ROOT / "crates" / "data" / "samples" / "GOOG.csv", index_col=0, parse_dates=True)
N1, N2 = 10, 20
KWARGS = {"direction": "longonly", "fees": 0.002, "init_cash": 10000.0}


def num(x):
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def duration(td):
    if pd.isna(td):
        return None
    return {"str": str(td), "seconds": td.total_seconds(), "days": td.total_seconds() / 86400}


def env():
    packages = {}
    for p in ["backtesting", "vectorbt", "vectorbt-rust", "numba", "numpy", "pandas", "bokeh"]:
        try:
            packages[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            packages[p] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": packages,
        "generated_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "engine_setting": vbt.settings["engine"],
        "engine_requested": None,
        "engine_resolved_for_simulation": _engine.resolve_engine(),
        "rust_available": _engine.is_rust_available(),
    }


def signals(close):
    """vectorbt's crossings, and how many bars differ from backtesting.py's strict rule."""
    fast = vbt.MA.run(close, N1)
    slow = vbt.MA.run(close, N2)
    entries = fast.ma_crossed_above(slow)
    exits = fast.ma_crossed_below(slow)
    a = close.rolling(N1).mean().to_numpy()
    b = close.rolling(N2).mean().to_numpy()
    up = np.zeros(len(close), bool)
    down = np.zeros(len(close), bool)
    up[1:] = (a[:-1] < b[:-1]) & (a[1:] > b[1:])
    down[1:] = (a[:-1] > b[:-1]) & (a[1:] < b[1:])
    mismatches = int(((entries.to_numpy() != up) | (exits.to_numpy() != down)).sum())
    info = {
        "n_entries_raw": int(entries.sum()),
        "n_exits_raw": int(exits.sum()),
        "vbt_ma_vs_bt_rule_mismatches": mismatches,
    }
    return entries, exits, info


def dump(name, what, stops):
    close = GOOG.Close
    entries, exits, sig = signals(close)
    kw = dict(KWARGS, **stops)
    t0 = time.perf_counter()
    pf = vbt.Portfolio.from_signals(close, entries, exits, open=GOOG.Open, high=GOOG.High,
                                    low=GOOG.Low, freq="1D", **kw)
    seconds = time.perf_counter() - t0
    # The same run on the other engine must agree exactly.
    other = vbt.Portfolio.from_signals(close, entries, exits, open=GOOG.Open, high=GOOG.High,
                                       low=GOOG.Low, freq="1D", engine="numba", **kw)
    assert np.array_equal(pf.value().to_numpy(), other.value().to_numpy()), "rust != numba"

    stats = {}
    for k, v in pf.stats().items():
        if isinstance(v, pd.Timestamp):
            stats[k] = v.isoformat()
        elif isinstance(v, pd.Timedelta):
            stats[k] = duration(v)
        else:
            stats[k] = num(v)
    idx = close.index
    tr = pf.trades.values
    trades = [
        {
            "EntryBar": int(r["entry_idx"]),
            "ExitBar": int(r["exit_idx"]),
            "EntryTime": idx[r["entry_idx"]].isoformat(),
            "ExitTime": idx[r["exit_idx"]].isoformat(),
            "Size": float(r["size"]),
            "EntryPrice": float(r["entry_price"]),
            "ExitPrice": float(r["exit_price"]),
            "EntryFees": float(r["entry_fees"]),
            "ExitFees": float(r["exit_fees"]),
            "PnL": float(r["pnl"]),
            "ReturnPct": float(r["return"]),
            "Direction": "Long" if r["direction"] == 0 else "Short",
            "Status": "Closed" if r["status"] == 1 else "Open",
        }
        for r in tr
    ]
    od = pf.orders.values
    od = od[np.argsort(od["id"], kind="stable")]
    orders = [
        {
            "bar": int(r["idx"]),
            "time": idx[r["idx"]].isoformat(),
            "size": float(r["size"]),
            "price": float(r["price"]),
            "fees": float(r["fees"]),
            "side": "Buy" if r["side"] == 0 else "Sell",
        }
        for r in od
    ]
    value = pf.value()
    out = {
        "case": {
            "name": name,
            "signals": "vbt_ma",
            "fill": "close",
            "n1": N1,
            "n2": N2,
            "sltp": [stops["sl_stop"], stops.get("tp_stop")],
            "sl_trail": True,
            "kwargs": kw,
            "ohlc": True,
            "what": what,
        },
        "peer": "vectorbt",
        "env": env(),
        "data": {
            "file": "GOOG.csv",
            "rows": len(close),
            "first": idx[0].isoformat(),
            "last": idx[-1].isoformat(),
        },
        "signals": sig,
        "stats": stats,
        "extra_metrics": {
            "sharpe_ratio": num(pf.sharpe_ratio()),
            "sortino_ratio": num(pf.sortino_ratio()),
            "annualized_return": num(pf.annualized_return()),
            "annualized_volatility": num(pf.annualized_volatility()),
            "max_drawdown": num(pf.max_drawdown()),
            "total_return": num(pf.total_return()),
            "final_value": num(pf.final_value()),
            "total_fees_paid": stats["Total Fees Paid"],
        },
        "n_trades_closed": sum(t["Status"] == "Closed" for t in trades),
        "n_trades_open": sum(t["Status"] == "Open" for t in trades),
        "trades": trades,
        "orders": orders,
        "equity": {
            "index": [i.isoformat() for i in idx],
            "Equity": [float(x) for x in value],
            "DrawdownPct": [-float(x) for x in pf.drawdown()],
        },
        "vs_bt": None,
        "simulate_seconds_informative": seconds,
    }
    (HERE / f"vbt_goog_{name}.json").write_text(json.dumps(out) + "\n")
    # How often the stops did the exiting: exits away from the close are stop fills.
    c = close.to_numpy()
    stopped = sum(t["ExitPrice"] != c[t["ExitBar"]] for t in trades if t["Status"] == "Closed")
    tp = stops.get("tp_stop")
    took = 0
    if tp is not None:
        took = sum(t["ExitPrice"] >= t["EntryPrice"] * (1 + tp) for t in trades)
    return len(trades), int(stopped), int(took)


if __name__ == "__main__":
    print(vbt.__version__, file=sys.stderr)
    print(dump("native_longonly_sltrail",
               "native long-only + sl_stop=5% trailing (sl_trail=True: below the highest high "
               "since entry, from the entry close), OHLC-aware stops",
               {"sl_stop": 0.05, "sl_trail": True}))
    print(dump("native_longonly_sltrail_tp",
               "native long-only + sl_stop=5% trailing + tp_stop=10% (relative to entry close), "
               "OHLC-aware stops",
               {"sl_stop": 0.05, "sl_trail": True, "tp_stop": 0.1}))
