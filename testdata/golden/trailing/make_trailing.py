"""Golden cases for trailing stops, made with backtesting.py 0.6.6's own `TrailingStrategy`.

The strategies are the golden set's SMA crosses (see ../SOURCE.md) with backtesting.py's
`lib.TrailingStrategy` mixed in, as its documentation shows: `super().init()` /
`super().next()` first, then the cross logic. The trailing stop sits `n_atr` ATRs from the
close (ATR: a 100-bar mean of true ranges, back-filled), moved only in the trade's favour
at every bar; `set_trailing_pct(p)` converts p to ATRs as `mean(Close * p / ATR)`. Output in
the layout of the other `bt_*.json` files (stats, trades, open trades, equity).

Run from the repository root with backtesting==0.6.6 installed:
    python testdata/golden/trailing/make_trailing.py
"""

import json
import math
import pathlib

import pandas as pd
from backtesting import Backtest
from backtesting.lib import TrailingStrategy, crossover
from backtesting.test import SMA

ROOT = pathlib.Path(__file__).resolve().parents[3]
HERE = pathlib.Path(__file__).resolve().parent
GOOG = pd.read_csv(ROOT / "crates" / "data" / "samples" / "GOOG.csv", index_col=0, parse_dates=True)


class CrossTrail(TrailingStrategy):
    n1 = 10
    n2 = 20
    n_atr = 0.0
    pct = 0.0
    long_only = True

    def init(self):
        super().init()
        if self.pct:
            self.set_trailing_pct(self.pct)
        else:
            self.set_trailing_sl(self.n_atr)
        self.s1 = self.I(SMA, self.data.Close, self.n1)
        self.s2 = self.I(SMA, self.data.Close, self.n2)

    def next(self):
        super().next()
        if self.long_only:
            if crossover(self.s1, self.s2):
                if not self.position:
                    self.buy()
            elif crossover(self.s2, self.s1):
                if self.position.is_long:
                    self.position.close()
        else:
            if crossover(self.s1, self.s2):
                self.position.close()
                self.buy()
            elif crossover(self.s2, self.s1):
                self.position.close()
                self.sell()


def num(x):
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def duration(td):
    if pd.isna(td):
        return None
    return {"str": str(td), "seconds": td.total_seconds(), "days": td.total_seconds() / 86400}


def dump(name, what, params, broker):
    bt = Backtest(GOOG, CrossTrail, **broker)
    s = bt.run(**params)
    stats = {}
    for k, v in s.items():
        if k.startswith("_"):
            continue
        if isinstance(v, pd.Timestamp):
            stats[k] = v.isoformat()
        elif isinstance(v, pd.Timedelta):
            stats[k] = duration(v)
        else:
            stats[k] = num(v)
    t = s["_trades"]
    trades = [
        {
            "EntryBar": int(r.EntryBar),
            "ExitBar": int(r.ExitBar),
            "EntryTime": r.EntryTime.isoformat(),
            "ExitTime": r.ExitTime.isoformat(),
            "Size": float(r.Size),
            "EntryPrice": float(r.EntryPrice),
            "ExitPrice": float(r.ExitPrice),
            "SL": num(r.SL),
            "TP": num(r.TP),
            "PnL": float(r.PnL),
            "ReturnPct": float(r.ReturnPct),
            "Commission": float(r.Commission),
        }
        for r in t.itertuples()
    ]
    strat = s["_strategy"]
    open_trades = [
        {"EntryBar": int(tr.entry_bar), "Size": float(tr.size), "EntryPrice": float(tr.entry_price)}
        for tr in strat.trades
    ]
    eq = s["_equity_curve"]
    out = {
        "case": {"name": name, "what": what, "data": "GOOG.csv", "params": params, "broker": broker},
        "peer": "backtesting.py",
        "stats": stats,
        "trades": trades,
        "open_trades_at_end": open_trades,
        "equity": {
            "index": [i.isoformat() for i in eq.index],
            "Equity": [float(x) for x in eq["Equity"]],
            "DrawdownPct": [float(x) for x in eq["DrawdownPct"]],
        },
        "warnings": [],
    }
    (HERE / f"bt_goog_{name}.json").write_text(json.dumps(out) + "\n")
    return len(trades), sum(1 for r in trades if r["SL"] is not None and r["ExitPrice"] == r["SL"])


broker = {"cash": 10000, "commission": 0.002}
print(dump("longonly_trail_atr3", "long-only SMA(10/20) cross with a 3-ATR trailing stop",
           {"n_atr": 3.0}, broker))
print(dump("longshort_trail_pct5", "reversing SMA(10/20) cross with a 5 % trailing stop (set_trailing_pct)",
           {"pct": 0.05, "long_only": False}, broker))
