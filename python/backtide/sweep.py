"""`backtide.sweep`: a parameter sweep of a built-in strategy (or `rules`) on every core,
as a DataFrame with the overfitting checks attached."""

from __future__ import annotations

import json
import sys
from typing import Optional, Union

import numpy as np
import pandas as pd

from . import _backtide
from ._data import to_bars
from ._stats import KEYS, LABELS, _value
from .backtest import _text


def _grid_text(v) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, range):
        return f"{v.start}:{v.stop - v.step}:{v.step}" if len(v) else ""
    if np.iterable(v):
        return ",".join(_text(x) for x in v)
    return _text(v)


def _progress():
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None, None
    if not (sys.stderr.isatty() or "ipykernel" in sys.modules):
        return None, None
    bar = tqdm(total=0, unit="combo", desc="sweep")

    def update(done, total):
        bar.total = total
        bar.n = done
        bar.refresh()

    return bar, update


def sweep(data: pd.DataFrame, strategy: str, grid: dict, *, params: Optional[dict] = None,
          constraint: Optional[str] = None, maximize: str = "SQN", minimize: bool = False,
          threads: int = 0, method: str = "grid", samples: int = 0, seed: int = 0,
          pbo_blocks: int = 16, progress: bool = True,
          walk_forward: Optional[Union[str, dict]] = None, **broker) -> pd.DataFrame:
    """Every combination of `grid` (`{"fast": range(5, 50, 5), "slow": "20:200:10"}`) of
    the built-in `strategy` with fixed `params`, on `threads` cores (0 = all), without the
    GIL. Returns one row per combination (parameters, then statistics with
    backtesting.py's labels); `df.attrs["best"]` is the best row's index by `maximize`
    and `df.attrs["overfitting"]` the PSR/DSR/PBO checks. Broker arguments as for
    `Backtest`.

    With `walk_forward` (`"train=750,test=250"`, `",anchored"` to grow the training
    window, or `{"train": 750, "test": 250, "anchored": False}`), each training window
    is swept, its best combination run on the following test window: one row per
    window (its dates, the best parameters, the out-of-sample statistics), with
    `df.attrs["oos"]` the stitched out-of-sample statistics and `df.attrs["oos_equity"]`
    their equity curve."""
    if not isinstance(strategy, str):
        raise TypeError("strategy: sweep runs built-in strategies (a name such as 'sma_cross' "
                        "or 'rules'); use Backtest.optimize for a Python strategy")
    if maximize in KEYS:
        maximize = KEYS[maximize]
    bars, _, _ = to_bars(data)
    if isinstance(walk_forward, dict):
        unknown = set(walk_forward) - {"train", "test", "anchored"}
        if unknown:
            raise TypeError(f"walk_forward: unexpected keys {sorted(unknown)}")
        walk_forward = f"train={walk_forward.get('train')},test={walk_forward.get('test')}" + (
            ",anchored" if walk_forward.get("anchored") else "")
    fixed = [(k, _text(v)) for k, v in (params or {}).items()]
    grid_text = [(k, _grid_text(v)) for k, v in grid.items()]
    bar, update = _progress() if progress else (None, None)
    try:
        out = _backtide.run_sweep(bars, strategy, fixed, grid_text, constraint=constraint,
                                  maximize=maximize, minimize=minimize, method=method,
                                  samples=samples, seed=seed, threads=threads,
                                  pbo_blocks=pbo_blocks, progress=update,
                                  walk_forward=walk_forward, **broker)
    finally:
        if bar is not None:
            bar.close()
    tz = data.index.tz
    if walk_forward is not None:
        return _windows(out, data.index, tz)
    rows = []
    for st in out["stats"]:
        rows.append({LABELS[k]: _value(kind, v, tz) for k, kind, v in st})
    df = pd.concat([pd.DataFrame(out["params"]), pd.DataFrame(rows)], axis=1)
    df.attrs["best"] = out["best"]
    df.attrs["overfitting"] = json.loads(out["overfitting"]) if out["overfitting"] else None
    df.attrs["cancelled"] = out["cancelled"]
    return df


def _windows(out: dict, index: pd.DatetimeIndex, tz) -> pd.DataFrame:
    rows = []
    for w in out["windows"]:
        row = {"train_start": index[w["train"][0]], "train_end": index[w["train"][1] - 1],
               "test_start": index[w["test"][0]], "test_end": index[w["test"][1] - 1]}
        row.update(w["best"])
        row.update({LABELS[k]: _value(kind, v, tz) for k, kind, v in w["oos"]})
        rows.append(row)
    df = pd.DataFrame(rows)
    df.attrs["oos"] = pd.Series({LABELS[k]: _value(kind, v, tz) for k, kind, v in out["oos_stats"]},
                                dtype=object)
    a, b = out["oos_range"]
    df.attrs["oos_equity"] = pd.Series(out["oos_equity"], index=index[a:b], name="Equity")
    return df
