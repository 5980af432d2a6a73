"""Helpers with backtesting.py's `backtesting.lib` meaning: crossings, bars since,
higher-timeframe indicators, and the signal and trailing-stop strategy bases."""

from __future__ import annotations

from inspect import currentframe
from itertools import compress
from numbers import Number
from typing import Callable, Optional, Sequence

import numpy as np
import pandas as pd

from ._data import _Array
from .strategy import Strategy, _as_str

OHLCV_AGG = {"Open": "first", "High": "max", "Low": "min", "Close": "last", "Volume": "sum"}


def _pair(s):
    if isinstance(s, pd.Series):
        return s.values
    if isinstance(s, Number):
        return (s, s)
    return s


def crossover(series1: Sequence, series2: Sequence) -> bool:
    """True if `series1` just crossed above `series2`: `a[-2] < b[-2] and a[-1] > b[-1]`
    (a number counts as a flat line)."""
    # Two arrays (indicators, data columns): the common case, checked without ABCs.
    if isinstance(series1, np.ndarray) and isinstance(series2, np.ndarray):
        try:
            return bool(series1[-2] < series2[-2] and series1[-1] > series2[-1])
        except IndexError:
            return False
    a, b = _pair(series1), _pair(series2)
    try:
        return bool(a[-2] < b[-2] and a[-1] > b[-1])
    except IndexError:
        return False


def cross(series1: Sequence, series2: Sequence) -> bool:
    """True if the series just crossed, either way."""
    return crossover(series1, series2) or crossover(series2, series1)


def barssince(condition: Sequence[bool], default=np.inf) -> int:
    """Bars since `condition` was last true (0 if it is now), or `default` if never."""
    return next(compress(range(len(condition)), reversed(condition)), default)


def resample_apply(rule: str, func: Optional[Callable], series, *args, agg=None, **kwargs):
    """`func` applied to `series` resampled to `rule` (a pandas offset such as `"W-FRI"` or
    `"D"`), mapped back to the data's bars: each bar sees the value of the last coarse bar
    that had closed by then (right-labelled bins, forward-filled), so nothing looks
    ahead. Called in `Strategy.init`, the result is registered with `self.I`."""
    if func is None:
        def func(x, *_, **__):
            return x
    if not callable(func):
        raise TypeError("resample_apply(func=) must be callable")
    if isinstance(series, _Array):
        series = series.s
    if not isinstance(series, (pd.Series, pd.DataFrame)):
        raise TypeError("resample_apply(series=) must be a pd.Series, a pd.DataFrame or a "
                        "Strategy.data column")
    if agg is None:
        if isinstance(series, pd.DataFrame):
            agg = {c: OHLCV_AGG.get(c, "last") for c in series.columns}
        else:
            agg = OHLCV_AGG.get(getattr(series, "name", ""), "last")
    resampled = series.resample(rule, label="right").agg(agg).dropna()
    resampled.name = _as_str(series) + "[" + rule + "]"

    strategy_i = None
    frame, level = currentframe(), 0
    while frame and level <= 3:
        frame = frame.f_back
        level += 1
        if frame is not None and isinstance(frame.f_locals.get("self"), Strategy):
            strategy_i = frame.f_locals["self"].I
            break
    if strategy_i is None:
        def strategy_i(f, *a, **k):
            return f(*a, **k)

    def wrap_func(resampled, *args, **kwargs):
        result = func(resampled, *args, **kwargs)
        if not isinstance(result, (pd.DataFrame, pd.Series)):
            result = np.asarray(result)
            if result.ndim == 1:
                result = pd.Series(result, name=resampled.name)
            elif result.ndim == 2:
                result = pd.DataFrame(result.T)
        if not isinstance(result.index, pd.DatetimeIndex):
            result.index = resampled.index
        return result.reindex(index=series.index.union(resampled.index),
                              method="ffill").reindex(series.index)

    wrap_func.__name__ = getattr(func, "__name__", "func")
    return strategy_i(wrap_func, resampled, *args, **kwargs)


class SignalStrategy(Strategy):
    """A strategy driven by vectors: `set_signal(entry_size, exit_portion)` in `init`;
    a positive entry size buys, a negative one sells; a non-zero exit portion closes that
    part of the trades on its side."""

    _entry_signal = None
    _exit_signal = None

    def set_signal(self, entry_size: Sequence[float],
                   exit_portion: Optional[Sequence[float]] = None, *, plot: bool = True):
        self._entry_signal = self.I(
            lambda: pd.Series(entry_size, dtype=float).replace(0, np.nan),
            name="entry size", plot=plot, overlay=False, scatter=True)
        if exit_portion is not None:
            self._exit_signal = self.I(
                lambda: pd.Series(exit_portion, dtype=float).replace(0, np.nan),
                name="exit portion", plot=plot, overlay=False, scatter=True)

    def next(self):
        super().next()
        if self._exit_signal is not None:
            exit_portion = self._exit_signal[-1]
            if exit_portion > 0:
                for trade in self.trades:
                    if trade.is_long:
                        trade.close(exit_portion)
            elif exit_portion < 0:
                for trade in self.trades:
                    if trade.is_short:
                        trade.close(-exit_portion)
        if self._entry_signal is not None:
            entry_size = self._entry_signal[-1]
            if entry_size > 0:
                self.buy(size=entry_size)
            elif entry_size < 0:
                self.sell(size=-entry_size)


class TrailingStrategy(Strategy):
    """A trailing stop-loss `n_atr` average true ranges from the close (6 by default),
    moved only in the trade's favour at every bar. Call `super().init()` and
    `super().next()` from overrides."""

    _n_atr = 6.0
    _atr = None

    def init(self):
        super().init()
        self.set_atr_periods()

    def set_atr_periods(self, periods: int = 100):
        """The ATR's window (a simple mean of true ranges, back-filled at the start)."""
        hi, lo = np.asarray(self.data.High), np.asarray(self.data.Low)
        c_prev = pd.Series(np.asarray(self.data.Close)).shift(1)
        tr = np.max([hi - lo, (c_prev - hi).abs(), (c_prev - lo).abs()], axis=0)
        self._atr = pd.Series(tr).rolling(periods).mean().bfill().values

    def set_trailing_sl(self, n_atr: float = 6):
        """The stop's distance in ATRs."""
        self._n_atr = n_atr

    def set_trailing_pct(self, pct: float = 0.05):
        """The stop's distance as a fraction of the close, converted to ATRs on average."""
        if not 0 < pct < 1:
            raise ValueError("Need pct= as rate, i.e. 5% == 0.05")
        self.set_trailing_sl(np.mean(np.asarray(self.data.Close) * pct / self._atr))

    def next(self):
        super().next()
        index = len(self.data) - 1
        close = self.data.Close[index]
        for trade in self.trades:
            if trade.is_long:
                trade.sl = max(trade.sl or -np.inf, close - self._atr[index] * self._n_atr)
            else:
                trade.sl = min(trade.sl or np.inf, close + self._atr[index] * self._n_atr)


__all__ = ["crossover", "cross", "barssince", "resample_apply", "SignalStrategy",
           "TrailingStrategy", "OHLCV_AGG"]
