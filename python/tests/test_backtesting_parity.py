"""backtesting.py 0.6.6 (installed from PyPI) is the oracle: each strategy's class body is
one text, run once under `from backtesting import …` and once under
`from backtide import …` on the same DataFrame — only the import differs."""

from __future__ import annotations

import sys
import types
import warnings

import backtesting
import pytest

import backtide
from conftest import assert_same_results

assert backtesting.__version__ == "0.6.6"

PRELUDE = """
import numpy as np
import pandas as pd
from {pkg} import Backtest, Strategy
from {pkg}.lib import crossover, cross, barssince, resample_apply, TrailingStrategy, SignalStrategy

def SMA(values, n):
    return pd.Series(values).rolling(n).mean()

def RSI(values, n):
    d = pd.Series(values).diff()
    up = d.clip(lower=0).ewm(alpha=1 / n, adjust=False).mean()
    down = (-d.clip(upper=0)).ewm(alpha=1 / n, adjust=False).mean()
    return 100 - 100 / (1 + up / down)
"""

# backtesting.py's README example.
README = """
class Strat(Strategy):
    n1 = 10
    n2 = 20

    def init(self):
        close = self.data.Close
        self.sma1 = self.I(SMA, close, self.n1)
        self.sma2 = self.I(SMA, close, self.n2)

    def next(self):
        if crossover(self.sma1, self.sma2):
            self.position.close()
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()
            self.sell()
"""

# backtesting.py's test-suite SmaCross (fast/slow, explicit closes, no exclusive orders).
TEST_SUITE = """
class Strat(Strategy):
    fast = 10
    slow = 30

    def init(self):
        self.sma1 = self.I(SMA, self.data.Close, self.fast)
        self.sma2 = self.I(SMA, self.data.Close, self.slow)

    def next(self):
        if crossover(self.sma1, self.sma2):
            self.position.close()
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()
            self.sell()
"""

# Limit entries below the close, stop entries for shorts, cancelled when stale.
LIMIT_STOP = """
class Strat(Strategy):
    def init(self):
        self.sma = self.I(SMA, self.data.Close, 20)
        self.placed = -1

    def next(self):
        c = self.data.Close[-1]
        i = len(self.data) - 1
        pending = [o for o in self.orders if not o.is_contingent]
        if pending and i - self.placed >= 5:
            for o in pending:
                o.cancel()
            pending = []
        if not self.position and not pending:
            if c > self.sma[-1]:
                self.buy(limit=c * 0.99, sl=c * 0.93, tag="dip")
            else:
                self.sell(stop=c * 0.98, tp=c * 0.9, tag="break")
            self.placed = i
        elif self.position.is_long and c < self.sma[-1] * 0.97:
            self.position.close()
        elif self.position.is_short and c > self.sma[-1] * 1.03:
            self.position.close()
"""

# Brackets, and a stop moved to break-even once a trade is 5 % up.
SL_TP = """
class Strat(Strategy):
    def init(self):
        self.fast = self.I(SMA, self.data.Close, 10)
        self.slow = self.I(SMA, self.data.Close, 30)

    def next(self):
        c = self.data.Close[-1]
        for t in self.trades:
            if t.is_long and c > t.entry_price * 1.05 and (t.sl or 0) < t.entry_price:
                t.sl = t.entry_price
            if t.is_short and c < t.entry_price * 0.95 and (t.sl or 1e18) > t.entry_price:
                t.sl = t.entry_price
        if crossover(self.fast, self.slow) and not self.position.is_long:
            self.position.close()
            self.buy(sl=c * 0.92, tp=c * 1.2)
        elif crossover(self.slow, self.fast) and not self.position.is_short:
            self.position.close()
            self.sell(sl=c * 1.08, tp=c * 0.8)
"""

# Scaling out: half the position at +4 %, the rest on the opposite cross.
HALF_CLOSE = """
class Strat(Strategy):
    def init(self):
        self.fast = self.I(SMA, self.data.Close, 10)
        self.slow = self.I(SMA, self.data.Close, 40)
        self.scaled = False

    def next(self):
        c = self.data.Close[-1]
        if self.position and not self.scaled and self.position.pl_pct > 4:
            self.position.close(0.5)
            self.scaled = True
        if crossover(self.fast, self.slow):
            self.position.close()
            self.buy(size=0.9)
            self.scaled = False
        elif crossover(self.slow, self.fast):
            self.position.close()
            self.scaled = False
"""

TRAILING = """
class Strat(TrailingStrategy):
    def init(self):
        super().init()
        self.set_trailing_sl(3)
        self.fast = self.I(SMA, self.data.Close, 10)
        self.slow = self.I(SMA, self.data.Close, 30)

    def next(self):
        super().next()
        if crossover(self.fast, self.slow) and not self.position:
            self.buy()
        elif crossover(self.slow, self.fast) and not self.position:
            self.sell()
"""

# A weekly trend filter from resample_apply, daily RSI entries.
RESAMPLE = """
class Strat(Strategy):
    def init(self):
        self.daily_rsi = self.I(RSI, self.data.Close, 10)
        self.weekly_sma = resample_apply("W-FRI", SMA, self.data.Close, 10)

    def next(self):
        c = self.data.Close[-1]
        if not self.position and self.daily_rsi[-1] < 40 and c > self.weekly_sma[-1]:
            self.buy(sl=c * 0.9)
        elif self.position and (self.daily_rsi[-1] > 70 or c < self.weekly_sma[-1]):
            self.position.close()
"""

# A one-cancels-other breakout in backtesting.py's API: a buy stop above the 20-bar high
# and a sell stop below the low; once one fills the other is cancelled; out after 10 bars.
OCO = """
class Strat(Strategy):
    def init(self):
        self.hi = self.I(lambda h: pd.Series(h).rolling(20).max(), self.data.High)
        self.lo = self.I(lambda l: pd.Series(l).rolling(20).min(), self.data.Low)

    def next(self):
        i = len(self.data) - 1
        entries = [o for o in self.orders if not o.is_contingent]
        if self.position:
            for o in entries:
                o.cancel()
            if self.trades and i - self.trades[-1].entry_bar >= 10:
                self.position.close()
        elif not entries:
            self.buy(stop=self.hi[-1] * 1.001, sl=self.lo[-1], tag="up")
            self.sell(stop=self.lo[-1] * 0.999, sl=self.hi[-1], tag="down")
"""

SIGNAL = """
class Strat(SignalStrategy):
    def init(self):
        super().init()
        fast = pd.Series(self.data.Close).rolling(10).mean()
        slow = pd.Series(self.data.Close).rolling(30).mean()
        up = (fast > slow) & (fast.shift() <= slow.shift())
        down = (fast < slow) & (fast.shift() >= slow.shift())
        self.set_signal(up.astype(int) * 0.5, down.astype(int))
"""


def build(src: str, pkg: str):
    # A real module, so backtesting.py's optimize can pickle the class for its workers.
    name = f"strategy_{pkg}_{abs(hash(src))}"
    module = types.ModuleType(name)
    sys.modules[name] = module
    exec(PRELUDE.format(pkg=pkg) + src, module.__dict__)
    return module.Backtest, module.Strat


CASES = {
    "readme": (README, dict(commission=0.002, exclusive_orders=True), {}),
    "readme_params": (README, dict(commission=0.002, exclusive_orders=True), dict(n1=5, n2=25)),
    "test_suite": (TEST_SUITE, dict(), {}),
    "test_suite_finalized": (TEST_SUITE, dict(finalize_trades=True, commission=0.001), {}),
    "limit_stop": (LIMIT_STOP, dict(commission=0.001), {}),
    "sl_tp_and_trade_sl_updates": (SL_TP, dict(commission=0.002), {}),
    "position_close_half": (HALF_CLOSE, dict(commission=0.001), {}),
    "trailing_strategy": (TRAILING, dict(commission=0.001), {}),
    "resample_apply": (RESAMPLE, dict(commission=0.002), {}),
    "signal_strategy": (SIGNAL, dict(commission=0.001), {}),
    "oco_breakout": (OCO, dict(commission=0.001), {}),
    "trade_on_close_hedging": (SL_TP, dict(trade_on_close=True, hedging=True), {}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_same_trades_and_statistics_as_backtesting_py(case, goog):
    src, kwargs, params = CASES[case]
    results = []
    for pkg in ("backtesting", "backtide"):
        Bt, Strat = build(src, pkg)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results.append(Bt(goog, Strat, **kwargs).run(**params))
    theirs, ours = results
    assert len(theirs["_trades"]) > 5, "the case must trade"
    assert_same_results(ours, theirs)


def test_builtin_sma_cross_is_the_readme_strategy(goog):
    Bt, Strat = build(README, "backtesting")
    theirs = Bt(goog, Strat, commission=0.002, exclusive_orders=True).run()
    ours = backtide.Backtest(goog, "sma_cross", commission=0.002,
                             exclusive_orders=True).run(fast=10, slow=20)
    assert_same_results(ours, theirs)


# Risk sizing written in backtesting.py's API: whole units losing 2 % of equity at a 5 %
# stop; what the built-in's `risk_pct` does.
RISK = """
class Strat(Strategy):
    def init(self):
        self.s1 = self.I(SMA, self.data.Close, 10)
        self.s2 = self.I(SMA, self.data.Close, 20)

    def next(self):
        c = self.data.Close[-1]
        if crossover(self.s1, self.s2) and not self.position:
            units = int(self.equity * 0.02 / (c * 0.05))
            if units >= 1:
                self.buy(size=units, sl=c * (1 - 0.05))
        elif crossover(self.s2, self.s1) and self.position.is_long:
            self.position.close()
"""


def test_builtin_risk_sizing_is_the_strategy_written_by_hand(goog):
    Bt, Strat = build(RISK, "backtesting")
    theirs = Bt(goog, Strat, commission=0.002).run()
    ours = backtide.Backtest(goog, "sma_cross", commission=0.002).run(
        direction="long_only", sl_pct=0.05, risk_pct=0.02)
    assert len(theirs["_trades"]) > 20
    assert_same_results(ours, theirs)
    # Not all margin: sizes follow the stop distance.
    assert ours["_trades"]["Size"].nunique() > 5


def test_optimize_finds_backtesting_pys_best(goog):
    grid = dict(n1=range(5, 30, 5), n2=range(10, 70, 5))
    Bt, Strat = build(README, "backtesting")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs, heat_t = Bt(goog, Strat, commission=0.002, exclusive_orders=True).optimize(
            **grid, maximize="Equity Final [$]", constraint=lambda p: p.n1 < p.n2,
            return_heatmap=True)
    Bt2, Strat2 = build(README, "backtide")
    ours, heat_o = Bt2(goog, Strat2, commission=0.002, exclusive_orders=True).optimize(
        **grid, maximize="Equity Final [$]", constraint=lambda p: p.n1 < p.n2,
        return_heatmap=True)
    assert_same_results(ours, theirs)
    assert len(heat_o) == len(heat_t)
    for k, v in heat_t.items():
        assert abs(heat_o[k] - v) <= 1e-9 * abs(v), k
    # The built-in form sweeps in Rust with a text constraint and agrees.
    builtin, heat_b = backtide.Backtest(goog, "sma_cross", commission=0.002,
                                        exclusive_orders=True).optimize(
        fast=range(5, 30, 5), slow=range(10, 70, 5), constraint="fast < slow",
        maximize="Equity Final [$]", return_heatmap=True)
    assert builtin["Equity Final [$]"] == pytest.approx(theirs["Equity Final [$]"], rel=1e-9)
    assert len(heat_b) == len(heat_t)
