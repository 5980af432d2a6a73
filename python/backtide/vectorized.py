"""vectorbt 1.2's `Portfolio.from_signals` and `from_orders(size_type='targetpercent')`
on arrays, run by the Rust portfolio account (vectorbt's fill rules at the close; one
column is one asset; `cash_sharing=True` puts every column in one account)."""

from __future__ import annotations

import warnings
from typing import Optional, Union

import numpy as np
import pandas as pd

from . import _backtide
from ._stats import _value

# vectorbt's `Portfolio.stats()` labels, in the engine's order.
VBT_LABELS = [
    "Start", "End", "Period", "Start Value", "End Value", "Total Return [%]",
    "Benchmark Return [%]", "Max Gross Exposure [%]", "Total Fees Paid", "Max Drawdown [%]",
    "Max Drawdown Duration", "Total Trades", "Total Closed Trades", "Total Open Trades",
    "Open Trade PnL", "Win Rate [%]", "Best Trade [%]", "Worst Trade [%]",
    "Avg Winning Trade [%]", "Avg Losing Trade [%]", "Avg Winning Trade Duration",
    "Avg Losing Trade Duration", "Profit Factor", "Expectancy", "Sharpe Ratio",
    "Calmar Ratio", "Omega Ratio", "Sortino Ratio",
]

# Order codes understood by `_backtide.run_orders`.
TARGET_PERCENT, ENTER_ALL, ENTER_UNITS, ENTER_VALUE, ENTER_PERCENT, EXIT = range(6)
TARGET_VALUE, TARGET_UNITS = 6, 7
# Short entries (the long entry's code + SHORT), a short exit, an exit of either side.
SHORT, EXIT_SHORT, EXIT_ANY = 7, 12, 13
DIRECTIONS = ("longonly", "shortonly", "both")


def _frame(x, name: str) -> pd.DataFrame:
    if isinstance(x, pd.DataFrame):
        if "Close" in x.columns and {"Open", "High", "Low"} <= set(x.columns):
            return x[["Close"]]
        return x
    if isinstance(x, pd.Series):
        return x.to_frame()
    raise TypeError(f"{name}: expected a pandas Series or DataFrame with a DatetimeIndex, "
                    f"got {type(x).__name__}")


def _like(x, close: pd.DataFrame, name: str, dtype) -> np.ndarray:
    """`x` broadcast to `close`'s shape (rows × columns)."""
    if x is None:
        return np.zeros(close.shape, dtype=dtype)
    a = np.asarray(x.values if isinstance(x, (pd.Series, pd.DataFrame)) else x, dtype=dtype)
    if a.ndim == 0:
        return np.full(close.shape, a, dtype=dtype)
    if a.ndim == 1:
        a = a[:, None]
    if a.shape[0] != close.shape[0]:
        raise ValueError(f"{name}: {a.shape[0]} rows for {close.shape[0]} bars")
    if a.shape[1] == 1 and close.shape[1] > 1:
        a = np.repeat(a, close.shape[1], axis=1)
    if a.shape[1] != close.shape[1]:
        raise ValueError(f"{name}: {a.shape[1]} columns for {close.shape[1]} in close")
    return a


def _check_close(close: pd.DataFrame):
    if not isinstance(close.index, pd.DatetimeIndex):
        raise TypeError("close: the index must be a DatetimeIndex")
    v = close.to_numpy(dtype=float)
    bad = np.argwhere(~np.isnan(v) & ~(v > 0) | np.isinf(v))
    if len(bad):
        i, j = bad[0]
        raise ValueError(f"close: column {close.columns[j]!r} is {v[i, j]} at row {i} "
                         f"({close.index[i]}); prices must be positive (NaN = no bar)")
    t = close.index.as_unit("ns").asi8
    if (np.diff(t) <= 0).any():
        raise ValueError("close: the index must be strictly increasing")


class Portfolio:
    """The result of `from_signals` / `from_orders`: `.value`, `.cash`, `.orders`,
    `.trades` and `.stats()` with vectorbt's labels."""

    def __init__(self, close: pd.DataFrame, runs: list, groups: list, shared: bool):
        self._close = close
        self._runs = runs  # one result dict per account
        self._groups = groups  # the columns of each account
        self._shared = shared

    def _series(self, key: str):
        if self._shared or len(self._runs) == 1:
            name = None if len(self._close.columns) > 1 else self._close.columns[0]
            return pd.Series(self._runs[0][key], index=self._close.index, name=name)
        return pd.DataFrame({self._close.columns[g[0]]: r[key] for r, g in zip(self._runs, self._groups)},
                            index=self._close.index)

    @property
    def value(self):
        """Portfolio value per bar (per column unless cash is shared)."""
        return self._series("value")

    @property
    def cash(self):
        return self._series("cash")

    def total_return(self):
        v = self.value
        return v.iloc[-1] / v.iloc[0] - 1

    @property
    def orders(self) -> pd.DataFrame:
        """Every fill: column, time, size, price, fees, side."""
        frames = []
        for r, g in zip(self._runs, self._groups):
            o = r["orders"]
            cols = [self._close.columns[g[c]] for c in o["column"]]
            frames.append(pd.DataFrame({
                "Column": cols,
                "Timestamp": self._close.index[o["bar"]],
                "Size": o["size"], "Price": o["price"], "Fees": o["fees"],
                "Side": np.where(o["side"] == 1, "Sell", "Buy"),
            }))
        return pd.concat(frames, ignore_index=True)

    @property
    def trades(self) -> pd.DataFrame:
        """Exit trades, as vectorbt's `trades.records_readable`."""
        frames = []
        for r, g in zip(self._runs, self._groups):
            t = r["trades"]
            frames.append(pd.DataFrame({
                "Column": [self._close.columns[g[c]] for c in t["column"]],
                "Size": t["size"],
                "Entry Timestamp": self._close.index[t["entry_idx"]],
                "Avg Entry Price": t["entry_price"], "Entry Fees": t["entry_fees"],
                "Exit Timestamp": self._close.index[t["exit_idx"]],
                "Avg Exit Price": t["exit_price"], "Exit Fees": t["exit_fees"],
                "PnL": t["pnl"], "Return": t["return"],
                "Direction": np.where(t["direction"] == 1, "Short", "Long"),
                "Status": np.where(t["status"] == 1, "Closed", "Open"),
            }))
        return pd.concat(frames, ignore_index=True)

    def stats(self, column=None) -> pd.Series:
        """vectorbt's statistics (of the shared account, or of `column`)."""
        if self._shared or len(self._runs) == 1:
            r = self._runs[0]
        else:
            if column is None:
                raise ValueError("stats: several accounts (cash_sharing=False); give column=")
            k = list(self._close.columns).index(column)
            r = self._runs[[g[0] for g in self._groups].index(k)]
        tz = self._close.index.tz
        return pd.Series({label: _value(kind, v, tz)
                          for label, (_, kind, v) in zip(VBT_LABELS, r["stats"])}, dtype=object)


def _run(close: pd.DataFrame, plan, init_cash, fees, fixed_fees, slippage, cash_sharing,
         call_seq, size_granularity, ohlc=None, stops=None) -> Portfolio:
    """`plan`: arrays (bar, column, code, value), sorted by bar then column. `ohlc`: the
    open, high and low frames (close's shape) or None; `stops`: per-order arrays
    (sl_stop, sl_trail, tp_stop) or None."""
    t = np.ascontiguousarray(close.index.as_unit("ns").asi8, dtype=np.int64)

    def columns_of(frame):
        return [np.ascontiguousarray(frame[:, j], dtype=float) for j in range(frame.shape[1])]

    cols = columns_of(close.to_numpy(dtype=float))
    others = [columns_of(x) for x in ohlc] if ohlc is not None else None
    bars, columns, codes, values = plan
    groups = [list(range(close.shape[1]))] if cash_sharing else [[j] for j in range(close.shape[1])]
    runs = []
    for g in groups:
        keep = np.ones(len(bars), dtype=bool) if len(groups) == 1 else columns == g[0]
        sel = (bars[keep], columns[keep] if len(groups) == 1 else
               np.zeros(int(keep.sum()), dtype=np.int64), codes[keep], values[keep])
        extra = {}
        if others is not None:
            extra.update(opens=[others[0][c] for c in g], highs=[others[1][c] for c in g],
                         lows=[others[2][c] for c in g])
        if stops is not None:
            extra.update(sl_stop=np.ascontiguousarray(stops[0][keep]),
                         sl_trail=np.ascontiguousarray(stops[1][keep]),
                         tp_stop=np.ascontiguousarray(stops[2][keep]))
        try:
            runs.append(_backtide.run_orders(
                t, [cols[c] for c in g], *(np.ascontiguousarray(a) for a in sel),
                float(init_cash), float(fees), float(fixed_fees), float(slippage), call_seq,
                size_granularity, **extra))
        except ValueError:
            # The engine checked every price; say it in the DataFrame's terms.
            _check_close(close)
            raise
    return Portfolio(close, runs, groups, cash_sharing)


def _prices(x, close: pd.DataFrame, name: str) -> np.ndarray:
    """Open, high or low as close's shape (NaN where not given), checked where close has
    a price."""
    a = _like(x, close, name, float) if x is not None else np.full(close.shape, np.nan)
    c = close.to_numpy(dtype=float)
    bad = np.argwhere(~np.isnan(c) & (np.isinf(a) | (a <= 0)))
    if len(bad):
        i, j = bad[0]
        raise ValueError(f"{name}: column {close.columns[j]!r} is {a[i, j]} at row {i} "
                         f"({close.index[i]}); prices must be positive (NaN = not given)")
    return a


def _ohlc(close: pd.DataFrame, open, high, low):
    """vectorbt's fill-ins for what is not given: open = close, low = min(open, close),
    high = max(open, close); checked to bracket the open and the close."""
    c = close.to_numpy(dtype=float)
    o, h, lo = (_prices(x, close, n) for x, n in ((open, "open"), (high, "high"), (low, "low")))
    o = np.where(np.isnan(o), c, o)
    lo = np.where(np.isnan(lo), np.minimum(o, c), lo)
    h = np.where(np.isnan(h), np.maximum(o, c), h)
    has = ~np.isnan(c)
    for name, bad in (("high", has & (h < np.maximum(o, c))), ("low", has & (lo > np.minimum(o, c)))):
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise ValueError(f"{name}: column {close.columns[j]!r} at row {i} ({close.index[i]}) "
                             f"does not bracket the open and the close")
    return o, h, lo


def _stop(x, close: pd.DataFrame, name: str) -> np.ndarray:
    a = _like(x, close, name, float)
    if (a[~np.isnan(a)] < 0).any() or np.isinf(a).any():
        raise ValueError(f"{name}: expected fractions >= 0 (NaN = no stop), got "
                         f"{a[(a < 0) | np.isinf(a)][0]}")
    return a


def from_signals(close, entries=None, exits=None, *, short_entries=None, short_exits=None,
                 size: Union[float, np.ndarray] = np.inf, size_type: str = "amount",
                 fees: float = 0.0, fixed_fees: float = 0.0, slippage: float = 0.0,
                 sl_stop=None, sl_trail=False, tp_stop=None,
                 direction: Optional[str] = None, open=None, high=None, low=None,
                 init_cash: float = 100.0, cash_sharing: bool = False,
                 group_by=None, call_seq: str = "default",
                 size_granularity: Optional[float] = None, freq=None) -> Portfolio:
    """vectorbt 1.2's `Portfolio.from_signals` with its defaults, filling at the close.

    Signals: `entries`/`exits` trade in `direction` (`'longonly'`, the default: entries
    buy and exits sell; `'shortonly'`: entries sell short and exits cover; `'both'`:
    entries go long and exits go short). Given `short_entries` and/or `short_exits`,
    `entries`/`exits` are the long ones and `direction` has no effect. An entry opens a
    position when flat, reverses an opposite one (closes it and opens `size` the other
    way) and does nothing when already in that direction; an exit closes its side. On one
    bar an entry and an exit of the same side cancel out, and so do a long and a short
    entry (vectorbt's `upon_*_conflict='ignore'`, `upon_dir_conflict='ignore'`,
    `upon_opposite_entry='reversereduce'`, `accumulate=False`).

    Size: `size` units (`np.inf`: all the cash for a long entry, all the free cash for a
    short one), or `size_type='value'` / `'percent'` of the cash (a percent entry cannot
    reverse a position: vectorbt raises, so do we). Short sales are not limited by cash
    (vectorbt's `lock_cash=False`); their proceeds are owed, so they count against the
    free cash.

    Stops: `sl_stop` and `tp_stop` are fractions of the entry bar's close (scalars or one
    value per bar and column, read on the bar the position opens; NaN = none);
    `sl_trail=True` moves the stop loss with the best high (long) or low (short) since.
    From the bar after the entry they are checked against each bar's `open`, `high` and
    `low` (from `close` when it is a DataFrame with Open/High/Low columns, else the
    keyword arguments; missing ones are vectorbt's: open = close, high/low = max/min of
    open and close): a stop inside the bar fills at the stop price, one the bar opens
    beyond fills at the open, without slippage (`stop_exit_price='stoplimit'`), and the
    bar's signals are dropped. The stop loss is checked first.

    Fills at the close with `fees`, `fixed_fees` and `slippage`. 2-D inputs have one
    column per asset; `cash_sharing=True` runs them from one account (as vectorbt with
    `group_by=True`)."""
    if direction is not None and direction not in DIRECTIONS:
        raise ValueError(f"direction: expected 'longonly', 'shortonly' or 'both', got {direction!r}")
    if size_type not in ("amount", "value", "percent"):
        raise ValueError(f"size_type: expected 'amount', 'value' or 'percent', got {size_type!r}")
    ls_mode = short_entries is not None or short_exits is not None
    if ls_mode and direction is not None:
        warnings.warn("direction has no effect if short_entries and short_exits are set",
                      stacklevel=2)
    bars_frame = close if isinstance(close, pd.DataFrame) else None
    close = _frame(close, "close")
    if not isinstance(close.index, pd.DatetimeIndex):
        raise TypeError("close: the index must be a DatetimeIndex")
    if bars_frame is not None and list(close.columns) == ["Close"] and "Close" in bars_frame:
        open = bars_frame["Open"] if open is None else open
        high = bars_frame["High"] if high is None else high
        low = bars_frame["Low"] if low is None else low
    if entries is None and exits is None and not ls_mode:
        # vectorbt's rule: with no signals at all, every bar is an entry (buy and hold).
        entries = True
    en = _like(entries, close, "entries", bool)
    ex = _like(exits, close, "exits", bool)
    if ls_mode:
        le, lx = en, ex
        se = _like(short_entries, close, "short_entries", bool)
        sx = _like(short_exits, close, "short_exits", bool)
    else:
        none = np.zeros(close.shape, dtype=bool)
        le, lx, se, sx = {
            None: (en, ex, none, none), "longonly": (en, ex, none, none),
            "shortonly": (none, none, en, ex), "both": (en, none, ex, none),
        }[direction]
    # A signal on a row where its column has no price is dropped, as vectorbt ignores an
    # order at a NaN price (the engine would keep it for the column's next bar).
    priced = ~np.isnan(close.to_numpy(dtype=float))
    le, lx, se, sx = le & priced, lx & priced, se & priced, sx & priced
    # Conflicts on one bar cancel out: entry and exit of a side, then long and short entry.
    c = le & lx
    le, lx = le & ~c, lx & ~c
    c = se & sx
    se, sx = se & ~c, sx & ~c
    c = le & se
    le, se = le & ~c, se & ~c
    sz = _like(size, close, "size", float)
    rows, cols = np.nonzero(le | lx | se | sx)
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    s = sz[rows, cols]
    if size_type == "amount":
        enter = np.where(np.isinf(s), ENTER_ALL, ENTER_UNITS)
    elif size_type == "value":
        enter = np.full(len(s), ENTER_VALUE)
    else:
        enter = np.full(len(s), ENTER_PERCENT)
    is_le, is_se = le[rows, cols], se[rows, cols]
    is_lx, is_sx = lx[rows, cols], sx[rows, cols]
    # A long entry wins over a short exit, a short entry over a long exit (they would
    # not act on any position the entry leaves alone).
    codes = np.select([is_le, is_se, is_lx & is_sx, is_lx],
                      [enter, enter + SHORT, EXIT_ANY, EXIT], EXIT_SHORT).astype(np.int64)
    is_entry = is_le | is_se
    plan = (rows.astype(np.int64), cols.astype(np.int64), codes, np.where(is_entry, s, 0.0))
    stops = None
    if sl_stop is not None or tp_stop is not None:
        nan = np.full(close.shape, np.nan)
        sl = _stop(sl_stop, close, "sl_stop") if sl_stop is not None else nan
        tp = _stop(tp_stop, close, "tp_stop") if tp_stop is not None else nan
        trail = _like(sl_trail, close, "sl_trail", bool)
        stops = (np.where(is_entry, sl[rows, cols], np.nan), trail[rows, cols] & is_entry,
                 np.where(is_entry, tp[rows, cols], np.nan))
    ohlc = _ohlc(close, open, high, low) if (open is not None or high is not None
                                           or low is not None) else None
    return _run(close, plan, init_cash, fees, fixed_fees, slippage,
                cash_sharing or bool(group_by), call_seq, size_granularity, ohlc, stops)


def from_orders(close, size, *, size_type: str = "targetpercent", fees: float = 0.0,
                fixed_fees: float = 0.0, slippage: float = 0.0, init_cash: float = 100.0,
                cash_sharing: bool = False, group_by=None, call_seq: str = "default",
                size_granularity: Optional[float] = None, freq=None) -> Portfolio:
    """vectorbt 1.2's `Portfolio.from_orders` with target sizes: `size` per bar and column
    (NaN = no order) as a fraction of the account's value (`'targetpercent'`), a value
    (`'targetvalue'`) or units (`'targetamount'`); `call_seq='auto'` sells before it
    buys."""
    codes_by_type = {"targetpercent": TARGET_PERCENT, "targetvalue": TARGET_VALUE,
                     "targetamount": TARGET_UNITS}
    if size_type not in codes_by_type:
        raise ValueError(f"size_type: expected one of {', '.join(codes_by_type)}, got {size_type!r}")
    close = _frame(close, "close")
    if not isinstance(close.index, pd.DatetimeIndex):
        raise TypeError("close: the index must be a DatetimeIndex")
    sz = _like(size, close, "size", float)
    rows, cols = np.nonzero(~np.isnan(sz))
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    v = sz[rows, cols]
    if (v < 0).any():
        raise ValueError("size: targets must be >= 0 (the account is long-only)")
    plan = (rows.astype(np.int64), cols.astype(np.int64),
            np.full(len(v), codes_by_type[size_type], dtype=np.int64), v)
    return _run(close, plan, init_cash, fees, fixed_fees, slippage,
                cash_sharing or bool(group_by), call_seq, size_granularity)
