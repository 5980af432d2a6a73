"""`backtide.Strategy`: backtesting.py's strategy API, run by the Rust engine.

`init` declares indicators with `self.I`; `next` runs on every bar once its close is
known and sees the data and indicators up to that bar. Orders, closes and SL/TP changes
made in `next` are handed to the Rust broker when `next` returns (backtesting.py
processes them only at the next fills too), so fills, costs and statistics are the
engine's, identical to backtesting.py 0.6.6.
"""

from __future__ import annotations

import numbers
import sys
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd

from ._data import Data, _Indicator

_FULL = 1 - sys.float_info.epsilon


def _price(x, what):
    if x is None:
        return None
    x = float(x)
    if not np.isfinite(x):
        raise ValueError(f"{what} must be a finite price, got {x}")
    return x



def _as_str(value) -> str:
    """How backtesting.py names an indicator's argument: numbers and text as they are, a
    data column by its initial (`C`), a function by its name, at most 10 characters."""
    if isinstance(value, (numbers.Number, str)):
        return str(value)
    if isinstance(value, pd.DataFrame):
        return "df"
    name = str(getattr(value, "name", "") or "")
    if name in ("Open", "High", "Low", "Close", "Volume"):
        return name[:1]
    if callable(value):
        name = getattr(value, "__name__", value.__class__.__name__).replace("<lambda>", "λ")
    if len(name) > 10:
        name = name[:9] + "…"
    return name

class Order:
    """A pending order (`Strategy.orders`); `cancel()` withdraws it."""

    __slots__ = ("_strategy", "_id", "size", "limit", "stop", "sl", "tp", "tag",
                 "_parent", "_action", "_cancelled")

    def __init__(self, strategy, id_, size, limit, stop, sl, tp, tag, parent=None, action=None):
        self._strategy = strategy
        self._id = id_
        self.size = size
        self.limit = limit
        self.stop = stop
        self.sl = sl
        self.tp = tp
        self.tag = tag
        self._parent = parent
        self._action = action
        self._cancelled = False

    @property
    def is_long(self) -> bool:
        return self.size > 0

    @property
    def is_short(self) -> bool:
        return self.size < 0

    @property
    def is_contingent(self) -> bool:
        """True for the SL/TP order of a trade."""
        return self._parent is not None

    @property
    def parent_trade(self) -> Optional["Trade"]:
        if self._parent is None:
            return None
        return next((t for t in self._strategy.trades if t._id == self._parent), None)

    def cancel(self) -> None:
        """Cancels the order (one placed in this `next` is never sent)."""
        s = self._strategy
        if self._id is None:
            if not self._cancelled:
                s._actions[self._action] = None
                self._cancelled = True
        else:
            s._actions.append(("cancel", self._id))
            self._cancelled = True

    def __repr__(self):
        return (f"<Order size={self.size} limit={self.limit} stop={self.stop} sl={self.sl} "
                f"tp={self.tp} tag={self.tag}>")


class Trade:
    """An open trade (`Strategy.trades`): `sl`/`tp` can be set, `close(portion)` closes."""

    __slots__ = ("_strategy", "_id", "size", "entry_price", "entry_bar", "_sl", "_tp", "tag")

    def __init__(self, strategy, row):
        self._strategy = strategy
        (self._id, self.size, self.entry_price, self.entry_bar, self._sl, self._tp,
         self.tag) = row

    exit_price = None
    exit_bar = None
    exit_time = None

    @property
    def entry_time(self):
        return self._strategy._index[self.entry_bar]

    @property
    def is_long(self) -> bool:
        return self.size > 0

    @property
    def is_short(self) -> bool:
        return self.size < 0

    @property
    def pl(self) -> float:
        """Profit at the current close (before commissions)."""
        return self.size * (self._strategy._close() - self.entry_price)

    @property
    def pl_pct(self) -> float:
        c = self._strategy._close()
        return np.copysign(1, self.size) * (c / self.entry_price - 1)

    @property
    def value(self) -> float:
        return abs(self.size) * self._strategy._close()

    @property
    def sl(self) -> Optional[float]:
        return self._sl

    @sl.setter
    def sl(self, price) -> None:
        self._sl = _price(price, "trade.sl")
        self._strategy._actions.append(("sl", self._id, self._sl))

    @property
    def tp(self) -> Optional[float]:
        return self._tp

    @tp.setter
    def tp(self, price) -> None:
        self._tp = _price(price, "trade.tp")
        self._strategy._actions.append(("tp", self._id, self._tp))

    def close(self, portion: float = 1.0) -> None:
        """Closes `portion` (0 < portion ≤ 1) of the trade at the next fill."""
        if not 0 < portion <= 1:
            raise ValueError(f"portion must be in (0, 1], got {portion}")
        self._strategy._actions.append(("close_trade", self._id, float(portion)))

    def __repr__(self):
        return f"<Trade size={self.size} entry_bar={self.entry_bar} price={self.entry_price}>"


class ClosedTrade:
    """A closed trade (`Strategy.closed_trades`)."""

    __slots__ = ("_index", "size", "entry_bar", "exit_bar", "entry_price", "exit_price",
                 "sl", "tp", "pl", "commission", "tag")

    def __init__(self, index, row):
        self._index = index
        (self.size, self.entry_bar, self.exit_bar, self.entry_price, self.exit_price,
         self.sl, self.tp, self.pl, self.commission, self.tag) = row

    @property
    def entry_time(self):
        return self._index[self.entry_bar]

    @property
    def exit_time(self):
        return self._index[self.exit_bar]

    @property
    def is_long(self) -> bool:
        return self.size > 0

    @property
    def is_short(self) -> bool:
        return self.size < 0

    @property
    def pl_pct(self) -> float:
        gross = np.copysign(1, self.size) * (self.exit_price / self.entry_price - 1)
        return gross - self.commission / (abs(self.size) * self.entry_price)

    @property
    def value(self) -> float:
        return abs(self.size) * self.exit_price

    def __repr__(self):
        return (f"<Trade size={self.size} time={self.entry_bar}-{self.exit_bar} "
                f"price={self.entry_price}-{self.exit_price} pl={self.pl:.0f}>")


class Position:
    """The open trades together (`Strategy.position`); falsy when flat."""

    __slots__ = ("_strategy",)

    def __init__(self, strategy):
        self._strategy = strategy

    @property
    def size(self) -> float:
        return sum(r[1] for r in self._strategy._trade_rows)

    @property
    def pl(self) -> float:
        c = self._strategy._close()
        return sum(r[1] * (c - r[2]) for r in self._strategy._trade_rows)

    @property
    def pl_pct(self) -> float:
        invested = sum(r[2] * abs(r[1]) for r in self._strategy._trade_rows)
        return (self.pl / invested) * 100 if invested else 0

    @property
    def is_long(self) -> bool:
        return self.size > 0

    @property
    def is_short(self) -> bool:
        return self.size < 0

    def __bool__(self) -> bool:
        return self.size != 0

    def close(self, portion: float = 1.0) -> None:
        """Closes `portion` of every open trade at the next fill."""
        if not 0 < portion <= 1:
            raise ValueError(f"portion must be in (0, 1], got {portion}")
        self._strategy._actions.append(("close_position", float(portion)))

    def __repr__(self):
        return f"<Position: {self.size} ({len(self._strategy._trade_rows)} trades)>"


class Strategy:
    """Subclass and implement `init` and `next`, as in backtesting.py. Parameters are
    class attributes, overridden by `Backtest.run(**params)`."""

    def __init__(self, data: Data, params: dict[str, Any]):
        self._data = data
        self._index = data._index
        self._indicators: list[_Indicator] = []
        self._ind_attrs: list[tuple[str, _Indicator]] = []
        self._ind_slices: list[tuple[str, _Indicator, bool]] = []
        self._trade_rows: list = []
        self._order_rows: list = []
        self._closed: list[ClosedTrade] = []
        self._actions: list = []
        self._new_orders: list[Order] = []
        self._equity = float("nan")
        self._i = len(data) - 1
        for k, v in params.items():
            if not hasattr(self, k):
                raise AttributeError(
                    f"Strategy '{type(self).__name__}' is missing parameter '{k}'. Strategy "
                    "class should define parameters as class variables before they can be "
                    "optimized or run with.")
            setattr(self, k, v)

    # -- what subclasses implement -------------------------------------------------
    def init(self) -> None:
        """Declare indicators (with `self.I`) before the run."""

    def next(self) -> None:
        """Decide on the current bar (its close is known)."""

    # -- declarations ----------------------------------------------------------------
    def I(self, func: Callable, *args, name=None, plot=True, overlay=None, color=None,  # noqa: E743
          scatter=False, **kwargs) -> np.ndarray:
        """Declares an indicator: `func(*args, **kwargs)` over the whole data, an array
        (or a tuple / 2-D array of them) with one value per bar. In `next` it is a view up
        to the current bar. Its NaN prefix counts toward the warm-up (the first `next`
        is on bar 1 + the longest warm-up among the indicators kept as attributes)."""
        if name is None:
            # backtesting.py's default name: `SMA(C,10)` (columns by their initial).
            params = ",".join(filter(None, map(_as_str, (*args, *kwargs.values()))))
            fname = _as_str(func)
            name = f"{fname}({params})" if params else fname
        try:
            value = func(*args, **kwargs)
        except Exception as e:
            raise RuntimeError(f'Indicator "{name}" error. See traceback above.') from e
        if isinstance(value, pd.DataFrame):
            value = value.values.T
        n = len(self._data)
        value = np.asarray(value, order="C")
        if value.ndim == 2 and value.shape[0] == n and value.shape[1] != n:
            value = value.T
        if value.ndim not in (1, 2) or value.shape[-1] != n:
            raise ValueError(
                f'Indicators must return (optionally a tuple of) numpy arrays of the same length '
                f'as `data` ({n} bars); indicator "{name}" has shape {value.shape}')
        ind = _Indicator(value, name=name, index=self._index, scatter=scatter)
        self._indicators.append(ind)
        return ind

    # -- what `next` reads -----------------------------------------------------------
    @property
    def data(self) -> Data:
        return self._data

    @property
    def equity(self) -> float:
        """Account equity at the current close."""
        return self._equity

    @property
    def position(self) -> Position:
        return Position(self)

    @property
    def trades(self) -> tuple[Trade, ...]:
        return tuple(Trade(self, r) for r in self._trade_rows)

    @property
    def closed_trades(self) -> tuple[ClosedTrade, ...]:
        return tuple(self._closed)

    @property
    def orders(self) -> tuple[Order, ...]:
        pending = [Order(self, r[0], r[1], r[2], r[3], r[4], r[5], r[6], parent=r[7])
                   for r in self._order_rows]
        return tuple(pending + [o for o in self._new_orders if not o._cancelled])

    def _close(self) -> float:
        return float(self._data._arrays["Close"][self._data._len - 1])

    # -- orders ------------------------------------------------------------------------
    def buy(self, *, size: float = _FULL, limit: Optional[float] = None,
            stop: Optional[float] = None, sl: Optional[float] = None,
            tp: Optional[float] = None, tag: object = None) -> Order:
        """A long order: `size` is a fraction of available margin (< 1) or whole units."""
        return self._order(size, limit, stop, sl, tp, tag)

    def sell(self, *, size: float = _FULL, limit: Optional[float] = None,
             stop: Optional[float] = None, sl: Optional[float] = None,
             tp: Optional[float] = None, tag: object = None) -> Order:
        """A short order (or the reduction of a long one without `exclusive_orders`)."""
        return self._order(-size, limit, stop, sl, tp, tag)

    def _order(self, size, limit, stop, sl, tp, tag) -> Order:
        a = abs(size)
        if not (0 < a < 1 or (a >= 1 and round(a) == a)):
            raise ValueError(
                "size must be a positive fraction of equity, or a positive whole number of "
                f"units, got {size}")
        limit, stop = _price(limit, "limit"), _price(stop, "stop")
        sl, tp = _price(sl, "sl"), _price(tp, "tp")
        tag = None if tag is None else str(tag)
        self._actions.append(("order", float(size), limit, stop, sl, tp, tag))
        o = Order(self, None, float(size), limit, stop, sl, tp, tag,
                  action=len(self._actions) - 1)
        self._new_orders.append(o)
        return o

    # -- the engine's side -------------------------------------------------------------
    def _bt_init(self):
        self.init()
        # As backtesting.py: the indicators kept as attributes are sliced per bar, and
        # those that are not scatter plots count toward the warm-up (an all-NaN one
        # counts as ready from bar 0, as `argmin` of all-True gives 0).
        self._ind_attrs = [(k, v) for k, v in self.__dict__.items()
                           if isinstance(v, _Indicator)]
        self._ind_slices = [(k, v, v.ndim == 2) for k, v in self._ind_attrs]
        out = []
        for k, v in self._ind_attrs:
            if v.scatter:
                continue
            rows = np.atleast_2d(np.asarray(v, dtype=float))
            for j, row in enumerate(rows):
                row = np.ascontiguousarray(row, dtype=float)
                if np.isnan(row).all():
                    row = np.zeros(len(row))
                out.append((f"{v.name}[{j}]" if len(rows) > 1 else str(v.name), row))
        return out

    def _bt_next(self, i, equity, trades, orders, closed):
        # Called on every bar: kept to the minimum (a 1-D indicator is sliced without
        # an Ellipsis, lists are reused when `next` did nothing).
        n = i + 1
        self._data._len = n
        d = self.__dict__
        for attr, ind, two_d in self._ind_slices:
            d[attr] = ind[:, :n] if two_d else ind[:n]
        self._equity = equity
        # None: unchanged since the last bar.
        if trades is not None:
            self._trade_rows = trades
            self._order_rows = orders
        if closed:
            idx = self._index
            self._closed.extend(ClosedTrade(idx, r) for r in closed)
        if self._actions:
            self._actions = []
        if self._new_orders:
            self._new_orders = []
        self.next()
        actions = self._actions
        if not actions:
            return actions
        return [a for a in actions if a is not None]

    def _bt_placed(self, ids):
        live = [o for o in self._new_orders if not o._cancelled]
        for o, id_ in zip(live, ids):
            o._id = id_

    def __repr__(self):
        params = {k: v for k, v in type(self).__dict__.items()
                  if not k.startswith("_") and not callable(v) and not isinstance(v, property)}
        body = ",".join(f"{k}={v}" for k, v in params.items())
        return f"{type(self).__name__}({body})" if body else type(self).__name__

    __str__ = __repr__
