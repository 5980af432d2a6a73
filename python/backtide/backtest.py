"""`backtide.Backtest`: backtesting.py's `Backtest`, run by the Rust engine."""

from __future__ import annotations

import itertools
import os
from typing import Any, Callable, Optional, Union

import numpy as np
import pandas as pd

from . import _backtide
from ._data import Data, to_bars
from ._stats import KEYS, result_series
from .strategy import Strategy


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    return str(v)


class _Builtin:
    """What `_strategy` holds for a built-in strategy: its name and parameters."""

    def __init__(self, name: str, params: dict):
        self.name = name
        self.params = params

    def __repr__(self):
        body = ",".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name}({body})" if body else self.name

    __str__ = __repr__


class Backtest:
    """A backtest of `strategy` on `data`, with backtesting.py 0.6.6's arguments and
    results. `strategy` is a subclass of `backtide.Strategy` (backtesting.py's API) or the
    name of a built-in strategy (`"sma_cross"`, `"rules"`, … — see
    `backtide.strategies()`), which runs entirely in Rust."""

    def __init__(self, data: pd.DataFrame, strategy: Union[type, str], *,
                 cash: float = 10_000, spread: float = 0.0,
                 commission: Union[float, tuple] = 0.0, margin: float = 1.0,
                 trade_on_close: bool = False, hedging: bool = False,
                 exclusive_orders: bool = False, finalize_trades: bool = False,
                 profile: str = "backtesting_py"):
        if isinstance(strategy, str):
            names = [s[0] for s in _backtide.strategies()]
            if strategy not in names:
                raise ValueError(
                    f"strategy: unknown built-in {strategy!r} (known: {', '.join(names)})")
        elif not (isinstance(strategy, type) and issubclass(strategy, Strategy)):
            raise TypeError(
                "strategy: expected a backtide.Strategy subclass or a built-in name such as "
                f"'sma_cross', got {strategy!r}")
        if not (isinstance(cash, (int, float)) and cash > 0):
            raise ValueError(f"cash: expected a positive number, got {cash!r}")
        if not (isinstance(margin, (int, float)) and 0 < margin <= 1):
            raise ValueError(f"margin: expected a number in (0, 1], got {margin!r}")
        if not (isinstance(spread, (int, float)) and 0 <= spread < 1):
            raise ValueError(f"spread: expected a number in [0, 1), got {spread!r}")
        if callable(commission):
            raise TypeError("commission: a function of (size, price) is not supported; give "
                            "a rate or a (fixed, rate) pair")
        self._bars, self._arrays, self._volume = to_bars(data)
        self._df = data
        self._strategy = strategy
        self._broker = dict(cash=float(cash), spread=float(spread), commission=commission,
                            margin=float(margin), trade_on_close=bool(trade_on_close),
                            hedging=bool(hedging), exclusive_orders=bool(exclusive_orders),
                            finalize_trades=bool(finalize_trades), profile=profile)
        self._results: Optional[pd.Series] = None
        self._last_params: dict = {}

    def run(self, **params) -> pd.Series:
        """Runs the backtest; keyword arguments are strategy parameters. Returns
        backtesting.py's statistics Series (with `_strategy`, `_equity_curve`,
        `_trades`)."""
        index = self._df.index
        if isinstance(self._strategy, str):
            pairs = [(k, _text(v)) for k, v in params.items()]
            res = _backtide.run_builtin(self._bars, self._strategy, pairs, **self._broker)
            strategy = _Builtin(self._strategy, params)
        else:
            strategy = self._strategy(Data(self._df, self._arrays, self._volume), params)
            res = _backtide.run_python(self._bars, strategy, **self._broker)
        self._last_params = dict(params)
        self._results = result_series(res, index, strategy, whole_units=True)
        return self._results

    def optimize(self, *, maximize: Union[str, Callable[[pd.Series], float]] = "SQN",
                 method: str = "grid", max_tries: Optional[Union[int, float]] = None,
                 constraint: Optional[Union[Callable[[Any], bool], str]] = None,
                 return_heatmap: bool = False, random_state: Optional[int] = None,
                 **grid) -> Union[pd.Series, tuple]:
        """Runs every combination of `grid` (lists or ranges of values per parameter) that
        meets `constraint`, and returns the statistics of the best by `maximize` (a
        statistic's label, or a function of the statistics); with `return_heatmap`, also
        every combination's value. A built-in strategy with no constraint or a text one
        (`"fast < slow"`) sweeps in Rust on every core; otherwise each combination is a
        run. `max_tries` samples that many combinations (or that fraction) with
        `random_state`."""
        if not grid:
            raise ValueError("optimize: give at least one parameter to optimize, e.g. n1=range(5, 30, 5)")
        if method not in ("grid",):
            raise ValueError(f"method: expected 'grid', got {method!r}")
        names = list(grid)
        values = []
        for k, v in grid.items():
            vs = list(v) if np.iterable(v) and not isinstance(v, str) else [v]
            if not vs:
                raise ValueError(f"optimize: parameter {k!r} has no values")
            values.append(vs)
        if not callable(maximize) and maximize not in KEYS:
            raise ValueError(f"maximize: unknown statistic {maximize!r} (known: {', '.join(KEYS)})")
        in_rust = (isinstance(self._strategy, str) and not callable(maximize)
                   and (constraint is None or isinstance(constraint, str)) and max_tries is None)
        if isinstance(constraint, str) and not in_rust:
            raise TypeError("constraint: a text constraint ('fast < slow') works with a built-in "
                            "strategy; give a function of the parameters, e.g. "
                            "lambda p: p.n1 < p.n2")
        heat = []
        if in_rust:
            # Every core, in Rust; the best combination is then run in full.
            grid_text = [(k, ",".join(_text(x) for x in vs)) for k, vs in zip(names, values)]
            out = _backtide.run_sweep(self._bars, self._strategy, [], grid_text,
                                      constraint=constraint, maximize=KEYS[maximize],
                                      pbo_blocks=0, **self._broker)
            for j in range(out["completed"]):
                row = {k: out["params"][k][j] for k in names}
                st = dict((k, v) for k, _, v in out["stats"][j])
                heat.append((row, st[KEYS[maximize]]))
        else:
            combos = [dict(zip(names, c)) for c in itertools.product(*values)]

            class _Attrs(dict):
                __getattr__ = dict.__getitem__

            if callable(constraint):
                combos = [c for c in combos if constraint(_Attrs(c))]
            if max_tries is not None:
                frac = isinstance(max_tries, float) and 0 < max_tries <= 1
                n = int(max_tries * len(combos)) if frac else int(max_tries)
                if n < len(combos):
                    rng = np.random.default_rng(random_state)
                    pick = np.sort(rng.choice(len(combos), size=n, replace=False))
                    combos = [combos[i] for i in pick]

            def score(stats: pd.Series) -> float:
                v = maximize(stats) if callable(maximize) else stats[maximize]
                return float("nan") if v is None or pd.isna(v) else float(v)

            for c in combos:
                heat.append((c, score(self.run(**c))))
        if not heat:
            raise ValueError("optimize: no parameter combination meets the constraint")
        vals = np.array([h[1] for h in heat], dtype=float)
        if np.all(np.isnan(vals)):
            best = heat[0][0]
        else:
            best = heat[int(np.nanargmax(vals))][0]
        stats = self.run(**best)
        if return_heatmap:
            hm = pd.Series(vals, index=pd.MultiIndex.from_tuples(
                [tuple(h[0][k] for k in names) for h in heat], names=names),
                name=maximize if isinstance(maximize, str) else "score")
            return stats, hm
        return stats

    def plot(self, *, filename: Optional[str] = None, open_browser: bool = False, **_ignored):
        """Writes the self-contained HTML report of the last run to `filename` (default:
        `<strategy>.html`) and returns its path; in Jupyter it is also shown inline. (The
        run is repeated with the same parameters to draw it.)"""
        if self._results is None:
            raise RuntimeError("run the backtest first (Backtest.run)")
        if isinstance(self._strategy, str):
            name = self._strategy
            pairs = [(k, _text(v)) for k, v in self._last_params.items()]
            html = _backtide.report_html(self._bars, name, pairs, name, **self._broker)
        else:
            name = self._strategy.__name__
            strategy = self._strategy(Data(self._df, self._arrays, self._volume),
                                      self._last_params)
            html = _backtide.run_python(self._bars, strategy, report_title=str(strategy),
                                        **self._broker)["html"]
        filename = filename or f"{name}.html"
        tmp = filename + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(html)
        os.replace(tmp, filename)
        try:  # Jupyter: show it inline.
            from IPython import get_ipython
            if get_ipython() is not None:
                from IPython.display import HTML, display
                display(HTML(html))
        except ImportError:
            pass
        if open_browser:
            import webbrowser
            webbrowser.open("file://" + os.path.abspath(filename))
        return filename


def strategies() -> pd.DataFrame:
    """The built-in strategies and their parameters."""
    rows = []
    for name, about, params in _backtide.strategies():
        for p, kind, default, doc in params:
            rows.append((name, p, kind, default, doc))
    return pd.DataFrame(rows, columns=["strategy", "param", "kind", "default", "doc"])


__all__ = ["Backtest", "strategies"]
