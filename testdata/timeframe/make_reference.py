"""Reference bars for `backtide run --resample`, made by pandas from the bundled samples.

Each case is `df.resample(rule, label="left", closed="left")` aggregated as Open first,
High max, Low min, Close last, Volume sum, with empty buckets dropped: the bucket's start
stamps the bar (pandas' own defaults for weeks and months, `W` and `ME`, stamp a bucket with
its end; see crates/core/src/timeframe.rs).

Run from the repository root with pandas installed:
    python testdata/timeframe/make_reference.py
"""

import json
import pathlib

import pandas as pd

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "crates" / "data" / "samples"
AGG = {"Open": "first", "High": "max", "Low": "min", "Close": "last", "Volume": "sum"}


def case(sample, ours, rule):
    df = pd.read_csv(SAMPLES / f"{sample}.csv", index_col=0, parse_dates=True)
    r = df.resample(rule, label="left", closed="left").agg(AGG).dropna(subset=["Open"])
    return {
        "sample": sample,
        "timeframe": ours,
        "pandas_rule": rule,
        "time": [t.strftime("%Y-%m-%dT%H:%M:%S") for t in r.index],
        **{k.lower(): [float(x) for x in r[k]] for k in AGG},
    }


cases = [
    case("EURUSD", "4h", "4h"),
    case("EURUSD", "1d", "D"),
    case("EURUSD", "1w", "W-MON"),
    case("GOOG", "1w", "W-MON"),
    case("GOOG", "1mo", "MS"),
]
out = {"generated_with": {"pandas": pd.__version__}, "cases": cases}
(ROOT / "testdata" / "timeframe" / "reference.json").write_text(json.dumps(out) + "\n")
