"""vectorbt 1.2's `Portfolio.from_signals` and `from_orders(size_type='targetpercent')`
on arrays, run by the Rust portfolio account (vectorbt's fill rules at the close; one
column is one asset; `cash_sharing=True` puts every column in one account)."""

from __future__ import annotations

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
         call_seq, size_granularity) -> Portfolio:
    """`plan`: arrays (bar, column, code, value), sorted by bar then column."""
    t = np.ascontiguousarray(close.index.as_unit("ns").asi8, dtype=np.int64)
    cols = [np.ascontiguousarray(close.iloc[:, j].to_numpy(dtype=float))
            for j in range(close.shape[1])]
    bars, columns, codes, values = plan
    groups = [list(range(close.shape[1]))] if cash_sharing else [[j] for j in range(close.shape[1])]
    runs = []
    for g in groups:
        if len(groups) == 1:
            sel = (bars, columns, codes, values)
        else:
            keep = columns == g[0]
            sel = (bars[keep], np.zeros(int(keep.sum()), dtype=np.int64), codes[keep],
                   values[keep])
        try:
            runs.append(_backtide.run_orders(
                t, [cols[c] for c in g], *(np.ascontiguousarray(a) for a in sel),
                float(init_cash), float(fees), float(fixed_fees), float(slippage), call_seq,
                size_granularity))
        except ValueError:
            # The engine checked every price; say it in the DataFrame's terms.
            _check_close(close)
            raise
    return Portfolio(close, runs, groups, cash_sharing)


def from_signals(close, entries=None, exits=None, *, short_entries=None, short_exits=None,
                 size: Union[float, np.ndarray] = np.inf, size_type: str = "amount",
                 fees: float = 0.0, fixed_fees: float = 0.0, slippage: float = 0.0,
                 sl_stop=None, tp_stop=None, direction: str = "longonly",
                 init_cash: float = 100.0, cash_sharing: bool = False,
                 group_by=None, call_seq: str = "default",
                 size_granularity: Optional[float] = None, freq=None) -> Portfolio:
    """vectorbt 1.2's `Portfolio.from_signals` (long-only): an entry buys `size` (units,
    or `size_type='value'`/`'percent'` of cash; `np.inf` = all cash) when flat, an exit
    sells the position; an entry and an exit on the same bar cancel out (vectorbt's
    `upon_long_conflict='ignore'`). Fills at the close with `fees`, `fixed_fees` and
    `slippage`. 2-D inputs have one column per asset; `cash_sharing=True` runs them from
    one account (as vectorbt with `group_by=True`)."""
    if direction != "longonly" or short_entries is not None or short_exits is not None:
        raise NotImplementedError(
            "direction: only 'longonly' is supported by the vectorized API so far (use "
            "Backtest with profile='vectorbt' for long/short signals)")
    if sl_stop is not None or tp_stop is not None:
        raise NotImplementedError(
            "sl_stop/tp_stop: not supported by the vectorized API so far (use the built-in "
            "strategies' sl_pct/tp_pct with profile='vectorbt')")
    if size_type not in ("amount", "value", "percent"):
        raise ValueError(f"size_type: expected 'amount', 'value' or 'percent', got {size_type!r}")
    close = _frame(close, "close")
    if not isinstance(close.index, pd.DatetimeIndex):
        raise TypeError("close: the index must be a DatetimeIndex")
    en = _like(entries, close, "entries", bool)
    ex = _like(exits, close, "exits", bool)
    sz = _like(size, close, "size", float)
    conflict = en & ex
    en, ex = en & ~conflict, ex & ~conflict
    rows, cols = np.nonzero(en | ex)
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    is_entry = en[rows, cols]
    s = sz[rows, cols]
    if size_type == "amount":
        codes = np.where(np.isinf(s), ENTER_ALL, ENTER_UNITS)
    elif size_type == "value":
        codes = np.full(len(s), ENTER_VALUE)
    else:
        codes = np.full(len(s), ENTER_PERCENT)
    codes = np.where(is_entry, codes, EXIT).astype(np.int64)
    plan = (rows.astype(np.int64), cols.astype(np.int64), codes, np.where(is_entry, s, 0.0))
    return _run(close, plan, init_cash, fees, fixed_fees, slippage,
                cash_sharing or bool(group_by), call_seq, size_granularity)


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
