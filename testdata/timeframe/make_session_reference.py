"""Reference bars for `--resample` with `--session-start`, made by pandas from the samples.

A session starting at S (a time of day) makes the day run from S to S: sessions from noon on
belong to the next calendar day (an FX day opening 22:00 UTC Sunday is Monday's), so the
session's offset from midnight is S before noon and S minus a day from noon on (22:00 ->
-2h). Each case resamples a bundled sample as `make_reference.py` does (label and close on
the left, Open first, High max, Low min, Close last, Volume sum, empty buckets dropped),
with the buckets moved by that offset:

- minutes, hours and days: pandas' own `resample(rule, offset=...)`;
- weeks (`W-MON`) and months (`MS`), where pandas ignores `offset` (it only applies to fixed
  spans): the index moved back by the offset, resampled, and the labels moved forward by it
  again. The script checks that this construction equals pandas' `offset` for every
  hour and day case before using it for weeks and months.

Run from the repository root with pandas installed:
    python testdata/timeframe/make_session_reference.py
"""

import json
import pathlib

import pandas as pd

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "crates" / "data" / "samples"
AGG = {"Open": "first", "High": "max", "Low": "min", "Close": "last", "Volume": "sum"}


def offset(session):
    """The session's start as a signed offset from the midnight that begins its day."""
    h, m = (int(x) for x in session.split(":"))
    start = pd.Timedelta(hours=h, minutes=m)
    return start - pd.Timedelta(days=1) if h >= 12 else start


def agg(resampler):
    return resampler.agg(AGG).dropna(subset=["Open"])


def with_offset(df, rule, session):
    return agg(df.resample(rule, label="left", closed="left", offset=offset(session)))


def shifted(df, rule, session):
    off = offset(session)
    moved = df.set_axis(df.index - off)
    r = agg(moved.resample(rule, label="left", closed="left"))
    return r.set_axis(r.index + off)


def case(sample, session, ours, rule, rows=None):
    """`rows`: only the sample's first rows (for cases with as many buckets as bars)."""
    df = pd.read_csv(SAMPLES / f"{sample}.csv", index_col=0, parse_dates=True)
    rows = rows or len(df)
    df = df.iloc[:rows]
    if rule in ("W-MON", "MS"):
        r, how = shifted(df, rule, session), "shifted"
    else:
        r, how = with_offset(df, rule, session), "offset"
        pd.testing.assert_frame_equal(r, shifted(df, rule, session))
    return {
        "sample": sample,
        "rows": rows,
        "session_start": session,
        "timeframe": ours,
        "pandas_rule": rule,
        "pandas_offset": str(offset(session)),
        "construction": how,
        "time": [t.strftime("%Y-%m-%dT%H:%M:%S") for t in r.index],
        **{k.lower(): [float(x) for x in r[k]] for k in AGG},
    }


cases = [
    # FX: the day opens 22:00 UTC the evening before.
    case("EURUSD", "22:00", "4h", "4h"),
    case("EURUSD", "22:00", "1d", "D"),
    case("EURUSD", "22:00", "1w", "W-MON"),
    case("EURUSD", "22:00", "1mo", "MS"),
    # An exchange opening at 09:30: hours from the open, days from open to open.
    case("EURUSD", "09:30", "1h", "1h", rows=500),
    case("EURUSD", "09:30", "2h", "2h", rows=2000),
    case("EURUSD", "09:30", "1d", "D"),
    # Daily bars stamped at midnight lie before a 09:30 open: each belongs to the session
    # of the day before (a Monday's to the week before, a 1st's to the month before).
    case("GOOG", "09:30", "1w", "W-MON"),
    case("GOOG", "09:30", "1mo", "MS"),
]
out = {"generated_with": {"pandas": pd.__version__}, "cases": cases}
(ROOT / "testdata" / "timeframe" / "session_reference.json").write_text(json.dumps(out) + "\n")
