"""Reference values for the rule language's `tf(timeframe, x)`, made by backtesting.py's own
`backtesting.lib.resample_apply` from the bundled samples.

`resample_apply(rule, func, series, *args)` resamples `series` with
`series.resample(rule, label="right").agg(...)` (Close: last, High: max, ...), applies `func`,
and reindexes the result onto the original bars with a forward fill: a bucket's value is
labelled with the bucket's end, so it first appears on the first bar stamped at or after
that end. The first 2000 hourly EURUSD bars and all daily GOOG bars are used; `rows` says
how many bars of the sample each case takes. `null` is NaN.

Run from the repository root with backtesting.py 0.6.6 and pandas installed (the peers
venv has both):
    target/peers-venv/bin/python testdata/timeframe/make_htf_reference.py
"""

import json
import math
import pathlib

import backtesting
import pandas as pd
from backtesting.lib import resample_apply
from backtesting.test import SMA

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "crates" / "data" / "samples"


def deep(f, depth=4):
    # `resample_apply` looks four frames up for a calling `Strategy` and needs them to exist.
    return f() if depth == 0 else deep(f, depth - 1)


def case(sample, rows, expression, rule, func, column, *args):
    df = pd.read_csv(SAMPLES / f"{sample}.csv", index_col=0, parse_dates=True).iloc[:rows]
    values = deep(lambda: resample_apply(rule, func, df[column], *args))
    assert len(values) == rows
    return {
        "sample": sample,
        "rows": rows,
        "expression": expression,
        "backtesting_py": f"resample_apply({rule!r}, {getattr(func, '__name__', func)}, "
        f"data.{column}{''.join(', ' + repr(a) for a in args)})",
        "values": [None if math.isnan(v) else float(v) for v in values],
    }


cases = [
    case("EURUSD", 2000, 'tf("1d", sma(close, 3))', "D", SMA, "Close", 3),
    case("EURUSD", 2000, 'tf("4h", close)', "4h", None, "Close"),
    case("EURUSD", 2000, 'tf("1d", high)', "D", None, "High"),
    # pandas' `W` buckets (Monday to Sunday, labelled Sunday) hold the same bars as
    # backtide's weeks on data without Sunday bars, such as GOOG's.
    case("GOOG", 2148, 'tf("1w", sma(close, 4))', "W", SMA, "Close", 4),
]
out = {
    "generated_with": {"backtesting.py": backtesting.__version__, "pandas": pd.__version__},
    "cases": cases,
}
(ROOT / "testdata" / "timeframe" / "htf_reference.json").write_text(json.dumps(out) + "\n")
