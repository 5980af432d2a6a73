#!/usr/bin/env python3
"""Golden fixtures for order types beyond the market order, made with backtesting.py 0.6.6.

Writes, next to this script (layout of ../trailing/ and ../rules/, see ../SOURCE.md):

  bt_goog_partial_close.json   (strategy PartialClose)
  bt_goog_limit_expiring.json  (strategy LimitExpiring)
  bt_goog_stop_expiring.json   (strategy StopExpiring)
  bt_goog_oco_breakout.json    (strategy OcoBreakout)

Data: crates/data/samples/GOOG.csv (backtesting.py's own GOOG test data, 2148 daily bars),
read with pd.read_csv(..., index_col=0, parse_dates=True). Broker in every case: cash 10000,
commission 0.002, spread 0, margin 1, trade_on_close / hedging / exclusive_orders /
finalize_trades all False. Orders use the default size (99.99 % of available margin, whole
units, sized when the order fills).

Indicators are registered with Strategy.I, so backtesting.py's warm-up applies (the first
next() runs at bar 1 + the largest first-non-NaN index of the registered indicators):
  SMA(x, n)      = backtesting.test.SMA = pd.Series(x).rolling(n).mean()
  highest(H, n)  = pd.Series(High).rolling(n).max()   (includes the current bar)
  lowest(L, n)   = pd.Series(Low).rolling(n).min()    (includes the current bar)
  crossover(a, b) = backtesting.lib.crossover: a[-2] < b[-2] and a[-1] > b[-1].
Inside next(), i = len(self.data) - 1 is the current bar (0-based); an order placed in next()
at bar i is first examined by the broker at bar i+1 (before next() of bar i+1).
"Pending entry orders" = [o for o in self.orders if not o.is_contingent] (the orders placed
by buy()/sell(), not the SL/TP orders of open trades; position.close() orders are also
non-contingent but are always filled at the next bar's open, before next() looks).

The strategies, in plain words:

1. PartialClose (bt_goog_partial_close.json). SMA(10) and SMA(20) of Close; first next() at
   bar 20. Each bar: if SMA10 crosses above SMA20 and there is no position -> buy() (market,
   default size). Else if SMA20 crosses above SMA10 (SMA10 crosses below) and there is a
   position -> position.close(0.5). backtesting.py closes max(1, int(round(|size| * 0.5)))
   units (Python's round: halves go to the even integer, e.g. 27.5 -> 28, 26.5 -> 26) at the
   next open; each such close is a separate closed trade (same entry bar and entry price as
   the remaining trade); the rest stays open. Since a buy needs a flat position, after a
   buy every down-cross halves what is left, until a 1-unit position is closed whole.

2. LimitExpiring (bt_goog_limit_expiring.json). SMA(10) and SMA(20) of Close; first next()
   at bar 20. Each bar, FIRST: cancel every pending entry order placed at a bar p with
   i - p >= 5 (so it can fill on the 5 bars p+1..p+5). THEN: if SMA10 crosses above SMA20
   and there is no position and there is no pending entry order -> with c = Close[-1],
   buy(limit=c*0.98, sl=c*0.98*0.95, tp=c*0.98*1.10) (evaluated left to right in floating
   point: (c*0.98)*0.95, (c*0.98)*1.10). Else if SMA10 crosses below SMA20 and there is a
   position -> position.close().
   A buy limit fills when Low <= limit, at min(Open, limit); its SL (stop) and TP (limit)
   are then placed; if either lies within that bar's range, backtesting.py does NOT check it
   in the fill bar (it warns) but from the next bar on.

3. StopExpiring (bt_goog_stop_expiring.json). SMA(20) of Close, hh = highest High over 5
   bars, ll = lowest Low over 5 bars; first next() at bar 20. Each bar, FIRST: cancel every
   pending entry order placed at a bar p with i - p >= 3 (can fill on bars p+1..p+3). THEN:
   if there is no position and no pending entry order and Close[-1] > sma[-1] and
   ll[-1] < hh[-1] -> buy(stop=hh[-1], sl=ll[-1]). Else if there is a position and
   Close[-1] < sma[-1] -> position.close().
   A buy stop triggers when High >= stop and fills at max(Open, stop); its SL is checked
   from the next bar on (same-bar SL hits are deferred with a warning, as in case 2).

4. OcoBreakout (bt_goog_oco_breakout.json). hh = highest High over N bars, ll = lowest Low
   over N bars (N = 20; first next() at bar 20). Each bar, FIRST: cancel every pending
   entry order whose pair partner (placed on the same bar) filled (one-cancels-other, by
   hand). THEN cancel every pending entry order placed at a bar p with i - p >= 5. THEN if
   there is no position and no pending entry order: h = hh[-1], l = ll[-1];
   buy(stop=h, sl=h*0.96, tp=h*1.08); then sell(stop=l, sl=l*1.04, tp=l*0.92) (the buy is
   placed first, so the broker examines it first). Trades exit only by SL or TP (no close()
   call). A sell stop triggers when Low <= stop and fills at min(Open, stop). When a stop
   fill and its TP both fall inside the fill bar (and the SL does not), backtesting.py exits
   at the TP in that same bar (on GOOG the open gapped above h*1.08, so entry = exit = Open).
   The hand-written OCO acts in next(), after the broker: a broker-level group cancels the
   partner at the fill itself, which differs only when one bar fills both.
   case.both_triggered_bars lists the bars where, at the start of the bar, both stops of one
   pair were pending and High >= buy stop and Low <= sell stop (backtesting.py would fill
   both in that bar; a real OCO would cancel the second). It is computed here by tracking
   the pending pair; it is empty on GOOG with N = 20.

Each fixture also has `entry_orders` (cases 2-4): every entry order placed, with its bar,
side, prices and outcome ("filled", "expired", "oco_cancelled" or "pending_at_end") and the
bar of that outcome; and `close_calls` (case 1): every position.close(0.5) call.

Run from the repository root:
    target/peers-venv/bin/python testdata/golden/orders/make_orders_fixtures.py
"""

import json
import math
import os
import platform
import time
import warnings
from datetime import datetime, timezone
from importlib import metadata

import numpy as np
import pandas as pd

from backtesting import Backtest, Strategy
from backtesting.lib import crossover
from backtesting.test import SMA

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


def highest(x, n):
    return pd.Series(x).rolling(n).max()


def lowest(x, n):
    return pd.Series(x).rolling(n).min()


# --------------------------------------------------------------------------------------
# Order bookkeeping (read-only: it never changes what the strategies do)
# --------------------------------------------------------------------------------------

class Tracked(Strategy):
    """Records every entry order (bar placed, prices, outcome) without influencing trading."""

    def init(self):
        self.placed = {}   # Order -> bar index on which it was placed
        self.log = []      # one dict per entry order, in placing order
        self._entry = {}   # Order -> its dict in self.log
        self.close_calls = []

    def bar(self):
        return len(self.data) - 1

    def pending_entries(self):
        return [o for o in self.orders if not o.is_contingent]

    def resolve(self):
        """Orders we tracked that vanished without our cancelling them were filled by the
        broker in this bar (checked against the trade list after the run)."""
        i = self.bar()
        live = {id(o) for o in self.orders}
        for o, e in self._entry.items():
            if e["outcome"] is None and id(o) not in live:
                e["outcome"], e["outcome_bar"] = "filled", i

    def place(self, side, **kw):
        o = (self.buy if side == "buy" else self.sell)(**kw)
        i = self.bar()
        self.placed[o] = i
        e = {"placed_bar": i, "side": side, "limit": kw.get("limit"), "stop": kw.get("stop"),
             "sl": kw.get("sl"), "tp": kw.get("tp"), "outcome": None, "outcome_bar": None}
        self.log.append(e)
        self._entry[o] = e
        return o

    def cancel(self, o, why):
        o.cancel()
        e = self._entry[o]
        e["outcome"], e["outcome_bar"] = why, self.bar()

    def cancel_expired(self, bars):
        i = self.bar()
        for o in self.pending_entries():
            if i - self.placed[o] >= bars:
                self.cancel(o, "expired")


# --------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------

class PartialClose(Tracked):
    n1 = 10
    n2 = 20
    portion = 0.5

    def init(self):
        super().init()
        self.s1 = self.I(SMA, self.data.Close, self.n1)
        self.s2 = self.I(SMA, self.data.Close, self.n2)

    def next(self):
        if crossover(self.s1, self.s2) and not self.position:
            self.buy()
        elif crossover(self.s2, self.s1) and self.position:
            before = self.position.size
            self.position.close(self.portion)
            self.close_calls.append({
                "bar": self.bar(), "position_size": before,
                "close_size": max(1, int(round(abs(before) * self.portion))),
            })


class LimitExpiring(Tracked):
    n1 = 10
    n2 = 20
    valid_bars = 5
    limit_frac = 0.98
    sl_frac = 0.95
    tp_frac = 1.10

    def init(self):
        super().init()
        self.s1 = self.I(SMA, self.data.Close, self.n1)
        self.s2 = self.I(SMA, self.data.Close, self.n2)

    def next(self):
        self.resolve()
        self.cancel_expired(self.valid_bars)
        if crossover(self.s1, self.s2) and not self.position and not self.pending_entries():
            c = self.data.Close[-1]
            self.place("buy", limit=c * self.limit_frac, sl=c * self.limit_frac * self.sl_frac,
                       tp=c * self.limit_frac * self.tp_frac)
        elif crossover(self.s2, self.s1) and self.position:
            self.position.close()


class StopExpiring(Tracked):
    n_sma = 20
    n_hl = 5
    valid_bars = 3

    def init(self):
        super().init()
        self.sma = self.I(SMA, self.data.Close, self.n_sma)
        self.hh = self.I(lambda x, n: pd.Series(x).rolling(n).max(), self.data.High, self.n_hl)
        self.ll = self.I(lambda x, n: pd.Series(x).rolling(n).min(), self.data.Low, self.n_hl)

    def next(self):
        self.resolve()
        self.cancel_expired(self.valid_bars)
        if (not self.position and not self.pending_entries()
                and self.data.Close[-1] > self.sma[-1] and self.ll[-1] < self.hh[-1]):
            self.place("buy", stop=self.hh[-1], sl=self.ll[-1])
        elif self.position and self.data.Close[-1] < self.sma[-1]:
            self.position.close()


class OcoBreakout(Tracked):
    n = 20
    valid_bars = 5

    def init(self):
        super().init()
        self.hh = self.I(lambda x, n: pd.Series(x).rolling(n).max(), self.data.High, self.n)
        self.ll = self.I(lambda x, n: pd.Series(x).rolling(n).min(), self.data.Low, self.n)
        self.pair_at_start = []  # pending entry orders at the end of the previous next()
        self.both_triggered = []

    def next(self):
        i = self.bar()
        # Both stops of one pair pending at the start of this bar and both inside its range?
        by_bar = {}
        for o in self.pair_at_start:
            by_bar.setdefault(self.placed[o], {})[self._entry[o]["side"]] = self._entry[o]
        for p in by_bar.values():
            if "buy" in p and "sell" in p and (self.data.High[-1] >= p["buy"]["stop"]
                                               and self.data.Low[-1] <= p["sell"]["stop"]):
                self.both_triggered.append(i)
        self.resolve()

        # One-cancels-other: an order of a pair filled, so the rest of its pair goes.
        # (Not "cancel when in a position": a pair whose trade opened and closed within one
        # bar would then keep its other order.)
        filled_pairs = {self.placed[o] for o, e in self._entry.items() if e["outcome"] == "filled"}
        for o in self.pending_entries():
            if self.placed[o] in filled_pairs:
                self.cancel(o, "oco_cancelled")
        self.cancel_expired(self.valid_bars)
        if not self.position and not self.pending_entries():
            h, l = self.hh[-1], self.ll[-1]
            self.place("buy", stop=h, sl=h * 0.96, tp=h * 1.08)
            self.place("sell", stop=l, sl=l * 1.04, tp=l * 0.92)

        self.pair_at_start = self.pending_entries()


# --------------------------------------------------------------------------------------
# Serialisation (layout of ../bt_*.json, as ../rules/make_rules_fixtures.py writes it)
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
    for name in ["backtesting", "numpy", "pandas", "bokeh"]:
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
    return pd.read_csv(DATA, index_col=0, parse_dates=True)


def run_case(df, case, strategy_cls):
    bt = Backtest(df, strategy_cls, **BROKER)
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
    res = {
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
    return res, strat


def finish_entry_log(res, strat):
    """Pending orders at the end; check every 'filled' order against the trade list."""
    entries = res["trades"] + res["open_trades_at_end"]
    live = {id(o) for o in strat.orders}
    for o, e in strat._entry.items():
        if e["outcome"] is None:
            assert id(o) in live
            e["outcome"] = "pending_at_end"
        for k in ("limit", "stop", "sl", "tp"):
            e[k] = num(e[k])
        if e["outcome"] == "filled":
            sign = 1 if e["side"] == "buy" else -1
            assert any(t["EntryBar"] == e["outcome_bar"] and t["Size"] * sign > 0 for t in entries), e
    return strat.log


def exit_kind(t):
    """'SL', 'TP' or 'signal' (a close() order) for a closed trade."""
    long_ = t["Size"] > 0
    if t["SL"] is not None and (t["ExitPrice"] <= t["SL"] if long_ else t["ExitPrice"] >= t["SL"]):
        return "SL"
    if t["TP"] is not None and (t["ExitPrice"] >= t["TP"] if long_ else t["ExitPrice"] <= t["TP"]):
        return "TP"
    return "signal"


def count(xs):
    out = {}
    for x in xs:
        out[x] = out.get(x, 0) + 1
    return out


# --------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------

def case_partial_close():
    return {
        "name": "goog_partial_close",
        "what": ("Long-only SMA(10/20) cross: buy on an up-cross while flat; every down-cross "
                 "while in the market closes half of what is left (position.close(0.5)). "
                 "Commission .2%, cash 10k."),
        "data": "GOOG.csv",
        "strategy": "PartialClose",
        "params": {"n1": 10, "n2": 20, "portion": 0.5},
        "broker": dict(BROKER),
        "strategy_doc": (
            "Indicators (Strategy.I): s1 = SMA(Close, 10), s2 = SMA(Close, 20) (pandas rolling "
            "means; first next() at bar 20). next(): if crossover(s1, s2) and not position -> "
            "buy() (market, default size: 99.99% of available margin in whole units, fills at "
            "the next open). elif crossover(s2, s1) and position -> position.close(0.5): closes "
            "max(1, int(round(|size|*0.5))) units at the next open (Python round: ties to even, "
            "27.5 -> 28, 26.5 -> 26). A partial close is recorded as its own closed trade (same "
            "EntryBar/EntryPrice as the remaining trade; its Commission = 0.002*k*entry_price + "
            "0.002*k*exit_price for the k units closed, while cash paid the entry commission on "
            "the full size at the entry); the remainder stays open. crossover(a, b) "
            "= a[-2] < b[-2] and a[-1] > b[-1]."
        ),
        "_run_kwargs": {"n1": 10, "n2": 20, "portion": 0.5},
    }


def case_limit_expiring():
    return {
        "name": "goog_limit_expiring",
        "what": ("Long-only SMA(10/20) cross entering with a buy limit 2% below the signal close "
                 "(SL 5% below, TP 10% above the limit), valid for 5 bars; down-cross closes. "
                 "Commission .2%, cash 10k."),
        "data": "GOOG.csv",
        "strategy": "LimitExpiring",
        "params": {"n1": 10, "n2": 20, "valid_bars": 5, "limit_frac": 0.98, "sl_frac": 0.95,
                   "tp_frac": 1.10},
        "broker": dict(BROKER),
        "strategy_doc": (
            "Indicators (Strategy.I): s1 = SMA(Close, 10), s2 = SMA(Close, 20); first next() at "
            "bar 20. i = current bar; pending = [o for o in orders if not o.is_contingent]. "
            "next(): (1) for each pending order placed at bar p: if i - p >= 5 -> cancel it (it "
            "could fill on bars p+1..p+5). (2) if crossover(s1, s2) and not position and no "
            "pending order -> c = Close[-1]; buy(limit=c*0.98, sl=c*0.98*0.95, tp=c*0.98*1.10) "
            "(products evaluated left to right). elif crossover(s2, s1) and position -> "
            "position.close() (next open). The buy limit fills when Low <= limit at "
            "min(Open, limit), default size computed at the fill. Then its SL (stop, sell when "
            "Low <= SL at min(Open, SL)) and TP (limit, sell when High >= TP at max(Open, TP)) "
            "are active from the NEXT bar on: if one lies inside the fill bar's [Low, High] "
            "backtesting.py only warns. If SL and TP are both hit in one bar, SL wins. "
            "crossover(a, b) = a[-2] < b[-2] and a[-1] > b[-1]."
        ),
        "_run_kwargs": {},
    }


def case_stop_expiring():
    return {
        "name": "goog_stop_expiring",
        "what": ("Long-only breakout: above SMA(20), a buy stop at the 5-bar highest High with SL "
                 "at the 5-bar lowest Low, valid for 3 bars; exit when Close falls below SMA(20). "
                 "Commission .2%, cash 10k."),
        "data": "GOOG.csv",
        "strategy": "StopExpiring",
        "params": {"n_sma": 20, "n_hl": 5, "valid_bars": 3},
        "broker": dict(BROKER),
        "strategy_doc": (
            "Indicators (Strategy.I): sma = SMA(Close, 20); hh = pd.Series(High).rolling(5).max(); "
            "ll = pd.Series(Low).rolling(5).min() (windows include the current bar); first "
            "next() at bar 20. i = current bar; pending = [o for o in orders if not "
            "o.is_contingent]. next(): (1) for each pending order placed at bar p: if i - p >= 3 "
            "-> cancel it (it could fill on bars p+1..p+3). (2) if not position and no pending "
            "order and Close[-1] > sma[-1] and ll[-1] < hh[-1] -> buy(stop=hh[-1], sl=ll[-1]). "
            "elif position and Close[-1] < sma[-1] -> position.close() (next open). The buy "
            "stop triggers when High >= stop and fills at max(Open, stop) (default size computed "
            "at the fill); its SL (sell when Low <= SL, at min(Open, SL)) is active from the "
            "next bar on (a same-bar hit is only warned about)."
        ),
        "_run_kwargs": {},
    }


def case_oco_breakout(n, both_triggered):
    return {
        "name": "goog_oco_breakout",
        "what": (f"Breakout both ways: a buy stop at the {n}-bar highest High (SL -4%, TP +8% of "
                 f"the stop) and a sell stop at the {n}-bar lowest Low (SL +4%, TP -8%), the "
                 "second cancelled once the first fills (emulated OCO), both valid for 5 bars. "
                 "Commission .2%, cash 10k."),
        "data": "GOOG.csv",
        "strategy": "OcoBreakout",
        "params": {"n": n, "valid_bars": 5},
        "broker": dict(BROKER),
        "both_triggered_bars": both_triggered,
        "strategy_doc": (
            f"Indicators (Strategy.I): hh = pd.Series(High).rolling({n}).max(); ll = "
            f"pd.Series(Low).rolling({n}).min() (windows include the current bar); first next() "
            f"at bar {n}. i = current bar; pending = [o for o in orders if not o.is_contingent]. "
            "next(): (1) if position -> cancel every pending order. (2) for each pending order "
            "placed at bar p: if i - p >= 5 -> cancel it. (3) if not position and no pending "
            "order -> h = hh[-1]; l = ll[-1]; buy(stop=h, sl=h*0.96, tp=h*1.08); then "
            "sell(stop=l, sl=l*1.04, tp=l*0.92). The broker examines the buy first. Buy stop: High >= stop -> fills at max(Open, stop); sell stop: "
            "Low <= stop -> fills at min(Open, stop); default size computed at the fill. SL/TP "
            "from the next bar on, except: a stop fill whose TP is inside the fill bar while its "
            "SL is not exits at the TP in the same bar (backtesting.py reprocesses); an SL inside "
            "the fill bar is only warned about. No other exits. The OCO runs in next(), after "
            "the broker, so a sibling survives if its partner's trade opened and closed in the "
            "same bar. both_triggered_bars: bars where both stops of one pair were pending at "
            "the start of the bar and High >= buy stop and Low <= sell stop."
        ),
        "_run_kwargs": {"n": n},
    }


def write(fname, res):
    path = os.path.join(HERE, fname)
    with open(path, "w") as fh:
        fh.write(json.dumps(res, indent=1, allow_nan=False))
        fh.write("\n")
    with open(path) as fh:
        json.load(fh)  # well-formed


def summary(fname, res):
    print(f"{fname}: {res['n_trades_closed']} closed trades, "
          f"{len(res['open_trades_at_end'])} open at end, "
          f"equity final {res['stats']['Equity Final [$]']:.6f}, "
          f"{res['n_warnings']} warnings")


def main():
    df = load_goog()

    # 1. partial close
    res, strat = run_case(df, case_partial_close(), PartialClose)
    res["close_calls"] = strat.close_calls
    write("bt_goog_partial_close.json", res)
    summary("bt_goog_partial_close.json", res)
    partial = sum(1 for c in strat.close_calls if c["close_size"] < abs(c["position_size"]))
    print(f"  close(0.5) calls {len(strat.close_calls)}, of which partial {partial}, "
          f"buys {len({t['EntryBar'] for t in res['trades'] + res['open_trades_at_end']})}")

    # 2, 3: expiring limit / stop entries
    for fname, make, cls in [
        ("bt_goog_limit_expiring.json", case_limit_expiring, LimitExpiring),
        ("bt_goog_stop_expiring.json", case_stop_expiring, StopExpiring),
    ]:
        res, strat = run_case(df, make(), cls)
        res["entry_orders"] = finish_entry_log(res, strat)
        write(fname, res)
        summary(fname, res)
        print(f"  entry orders {len(res['entry_orders'])}: "
              f"{count(e['outcome'] for e in res['entry_orders'])}; "
              f"exits {count(exit_kind(t) for t in res['trades'])}")

    # 4: OCO breakout (N = 20; 30 only if 20 had a bar with both stops triggered)
    for n in (20, 30):
        res, strat = run_case(df, case_oco_breakout(n, None), OcoBreakout)
        if not strat.both_triggered or n == 30:
            break
        print(f"  N={n}: both stops triggered on bars {strat.both_triggered}; trying 30")
    res["case"]["both_triggered_bars"] = strat.both_triggered
    res["entry_orders"] = finish_entry_log(res, strat)
    write("bt_goog_oco_breakout.json", res)
    summary("bt_goog_oco_breakout.json", res)
    tr = res["trades"]
    print(f"  N={n}, both_triggered_bars {strat.both_triggered}; entry orders "
          f"{len(res['entry_orders'])}: {count(e['outcome'] for e in res['entry_orders'])}; "
          f"long {sum(t['Size'] > 0 for t in tr)}, short {sum(t['Size'] < 0 for t in tr)}; "
          f"exits {count(exit_kind(t) for t in tr)}")


if __name__ == "__main__":
    main()
