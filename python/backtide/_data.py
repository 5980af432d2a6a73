"""Bars from a pandas DataFrame, and the per-bar views a strategy sees."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import _backtide

REQUIRED = ("Open", "High", "Low", "Close")


def _column(df: pd.DataFrame, name: str):
    for c in df.columns:
        if isinstance(c, str) and c.lower() == name.lower():
            return c
    return None


def _copy_on_write() -> bool:
    """Whether pandas copies a frame's memory before writing to it while another frame
    shares it (always from pandas 3; an option in pandas 2)."""
    if int(pd.__version__.split(".")[0]) >= 3:
        return True
    return pd.get_option("mode.copy_on_write") is True


def to_bars(data: pd.DataFrame):
    """Validates `data` (a DataFrame with Open, High, Low, Close and optional Volume
    columns and a DatetimeIndex) and returns the engine's bars, the price columns as numpy
    arrays and the volume (None without a Volume column).

    Under copy-on-write the engine reads the columns in place, without a copy: it keeps a
    private shallow copy of the frame, so a later write to `data` makes pandas copy `data`'s
    memory rather than change what the engine reads."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data: expected a pandas DataFrame, got {type(data).__name__}")
    cols = {}
    for name in REQUIRED:
        c = _column(data, name)
        if c is None:
            raise ValueError(
                f"data: a DataFrame without `{name}` (columns: {list(data.columns)}); "
                "expected Open, High, Low, Close and optionally Volume")
        cols[name] = c
    vol = _column(data, "Volume")
    index = data.index
    if not isinstance(index, pd.DatetimeIndex):
        raise TypeError(
            f"data: the index must be a DatetimeIndex, got {type(index).__name__} "
            "(e.g. df.index = pd.to_datetime(df.index))")
    if len(data) < 2:
        raise ValueError(f"data: need at least 2 bars, got {len(data)}")
    frozen = data.copy(deep=False) if _copy_on_write() else None
    if frozen is not None:
        data = frozen
    # Any unit, naive or timezone-aware: nanoseconds since the epoch in UTC.
    t = index.as_unit("ns").asi8 if hasattr(index, "as_unit") else index.asi8
    t = np.ascontiguousarray(t, dtype=np.int64)
    # NaT is the smallest timestamp: anywhere but first it breaks the order the engine
    # checks, and the message below names it.
    if t[0] == np.iinfo(np.int64).min:
        raise ValueError("data: the index has NaT at row 0")
    arrays = {}
    for name, c in cols.items():
        try:
            arrays[name] = np.ascontiguousarray(data[c].to_numpy(dtype=float, copy=False))
        except (TypeError, ValueError) as e:
            raise TypeError(f"data: column `{c}` is not numeric ({e})") from None
    v = None
    if vol is not None:
        v = np.ascontiguousarray(data[vol].to_numpy(dtype=float, copy=False))
    try:
        bars = _backtide.Bars(t, arrays["Open"], arrays["High"], arrays["Low"],
                              arrays["Close"], v, frozen=frozen)
    except ValueError:
        # The engine checked every rule; say it in the DataFrame's terms where we can.
        if index.hasnans:
            raise ValueError(
                f"data: the index has NaT at row {int(np.flatnonzero(index.isna())[0])}") from None
        bad = np.flatnonzero(np.diff(t) <= 0)
        if len(bad):
            k = int(bad[0]) + 1
            raise ValueError(
                f"data: the index must be strictly increasing; row {k} ({index[k]}) is not "
                f"after row {k - 1} ({index[k - 1]}) — sort it (df.sort_index()) and drop "
                "duplicates") from None
        for name, c in cols.items():
            a = arrays[name]
            nan = np.flatnonzero(~np.isfinite(a))
            if len(nan):
                k = int(nan[0])
                raise ValueError(
                    f"data: `{c}` is {a[k]} at row {k} ({index[k]}); prices must be finite "
                    "numbers (drop or fill missing bars first)") from None
        raise
    return bars, arrays, v


class _Array(np.ndarray):
    """A column or indicator as a strategy sees it: a numpy array (a view up to the
    current bar in `next`) that also knows its name and index (`.s`, `.df`).

    The array owns its memory, so every per-bar view's `.base` is it and the metadata is
    read from there: no Python `__array_finalize__` runs on the millions of slices a run
    makes."""

    def __new__(cls, values, name=None, index=None, **meta):
        values = np.asarray(values)
        obj = np.ndarray.__new__(cls, values.shape, values.dtype)
        obj[...] = values
        obj._meta = dict(meta, name=name, index=index)
        return obj

    def _m(self) -> dict:
        m = self.__dict__.get("_meta")
        if m is None:
            m = getattr(self.base, "_meta", None) or {}
        return m

    @property
    def name(self):
        return self._m().get("name")

    @property
    def _index(self):
        return self._m().get("index")

    def __bool__(self):
        try:
            return bool(self[-1])
        except IndexError:
            return super().__bool__()

    def __float__(self):
        try:
            return float(self[-1])
        except IndexError:
            return super().__float__()

    @property
    def s(self) -> pd.Series:
        values = np.asarray(self)
        index = self._index[: values.shape[-1]] if self._index is not None else None
        return pd.Series(values, index=index, name=self.name)

    @property
    def df(self) -> pd.DataFrame:
        values = np.atleast_2d(np.asarray(self))
        index = self._index[: values.shape[-1]] if self._index is not None else None
        return pd.DataFrame(values.T, index=index)


class _Indicator(_Array):
    """A `Strategy.I` value: sliced to the current bar before each `next`."""

    def __new__(cls, values, name=None, index=None, scatter=False):
        return super().__new__(cls, values, name, index, scatter=scatter)

    @property
    def scatter(self) -> bool:
        return self._m().get("scatter", False)


class Data:
    """`Strategy.data`: the columns up to the current bar (`[-1]` is now)."""

    __slots__ = ("_arrays", "_index", "_df", "_len")

    def __init__(self, df: pd.DataFrame, arrays: dict, volume: np.ndarray):
        self._df = df
        self._index = df.index
        self._arrays = {
            k: _Array(v, name=k, index=df.index) for k, v in arrays.items()
        }
        if volume is None:
            volume = np.full(len(df), np.nan)
        self._arrays["Volume"] = _Array(volume, name="Volume", index=df.index)
        self._len = len(df)

    def __len__(self):
        return self._len

    @property
    def Open(self) -> _Array:  # noqa: N802 - backtesting.py's names
        return self._arrays["Open"][: self._len]

    @property
    def High(self) -> _Array:  # noqa: N802
        return self._arrays["High"][: self._len]

    @property
    def Low(self) -> _Array:  # noqa: N802
        return self._arrays["Low"][: self._len]

    @property
    def Close(self) -> _Array:  # noqa: N802
        return self._arrays["Close"][: self._len]

    @property
    def Volume(self) -> _Array:  # noqa: N802
        return self._arrays["Volume"][: self._len]

    @property
    def index(self) -> pd.DatetimeIndex:
        return self._index[: self._len]

    @property
    def df(self) -> pd.DataFrame:
        return self._df.iloc[: self._len]

    def __getattr__(self, name):
        # Extra columns of the DataFrame, as arrays up to the current bar.
        df = object.__getattribute__(self, "_df")
        if name in df.columns:
            return _Array(df[name].to_numpy(), name=name, index=df.index)[: self._len]
        raise AttributeError(f"data has no column {name!r}")
