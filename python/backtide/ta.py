"""The engine's indicators on arrays, for `Strategy.I` or anywhere:
`backtide.ta.sma(close, 20)`. The same functions as the rule language's
(`backtide strategies` lists them), so a Python strategy and a built-in see the same
values bit for bit. A series that starts with NaN is computed from its first value."""

from __future__ import annotations

import numpy as np

from . import _backtide


def _f(x):
    return np.ascontiguousarray(np.asarray(x, dtype=float))


def _make(name, sig, doc):
    args = sig[sig.index("(") + 1: -1].split(", ")
    n_series = sum(a in ("x", "open", "high", "low", "close", "volume") for a in args)

    def fn(*values):
        if len(values) != len(args):
            raise TypeError(f"{sig} takes {len(args)} arguments, got {len(values)}")
        series = [_f(v) for v in values[:n_series]]
        numbers = [float(v) for v in values[n_series:]]
        return _backtide.indicator(name, series, numbers)

    fn.__name__ = name
    fn.__qualname__ = name
    fn.__doc__ = f"{sig}: {doc}"
    return fn


__all__ = []
for _name, _sig, _doc in _backtide.indicator_names():
    globals()[_name] = _make(_name, _sig, _doc)
    __all__.append(_name)
