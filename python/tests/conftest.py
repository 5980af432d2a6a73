"""Shared fixtures: the bundled data (the repository's samples, which are backtesting.py's
own test data) and result comparison with backtesting.py as the oracle."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "crates" / "data" / "samples"


def load(name: str) -> pd.DataFrame:
    df = pd.read_csv(SAMPLES / f"{name}.csv", index_col=0, parse_dates=True)
    df.index.name = None
    return df


@pytest.fixture(scope="session")
def goog() -> pd.DataFrame:
    return load("GOOG")


@pytest.fixture(scope="session")
def eurusd() -> pd.DataFrame:
    return load("EURUSD")


def close(a, b, rel=1e-9) -> bool:
    if a is None or b is None:
        return a is b
    if a is pd.NaT or b is pd.NaT:
        return a is b
    if isinstance(a, (pd.Timestamp, pd.Timedelta)) or isinstance(b, (pd.Timestamp, pd.Timedelta)):
        return (pd.isna(a) and pd.isna(b)) or a == b
    try:
        fa, fb = float(a), float(b)
    except (TypeError, ValueError):
        return a == b
    if math.isnan(fa) or math.isnan(fb):
        return math.isnan(fa) and math.isnan(fb)
    return fa == fb or abs(fa - fb) <= rel * max(abs(fa), abs(fb)) or abs(fa - fb) < 1e-12


TRADE_COLUMNS = ["Size", "EntryBar", "ExitBar", "EntryPrice", "ExitPrice", "SL", "TP", "PnL",
                 "Commission", "ReturnPct", "EntryTime", "ExitTime", "Duration"]


def assert_same_results(ours: pd.Series, theirs: pd.Series):
    """Every statistic within 1e-9 relative (counts, times and durations exact), the same
    trades, the same equity per bar."""
    bad = []
    public = [k for k in theirs.index if not k.startswith("_")]
    assert [k for k in ours.index if not k.startswith("_")] == public, (
        f"labels differ:\n ours   {list(ours.index)}\n theirs {list(theirs.index)}")
    for k in public:
        if not close(ours[k], theirs[k]):
            bad.append(f"{k}: ours {ours[k]!r} theirs {theirs[k]!r}")
    t_o, t_t = ours["_trades"], theirs["_trades"]
    if len(t_o) != len(t_t):
        bad.append(f"trade count: ours {len(t_o)} theirs {len(t_t)}")
    else:
        for c in TRADE_COLUMNS:
            for i, (x, y) in enumerate(zip(t_o[c].tolist(), t_t[c].tolist())):
                if not close(x, y):
                    bad.append(f"trade {i} {c}: ours {x!r} theirs {y!r}")
                    break
        tags_o = [None if (t is None or (isinstance(t, float) and math.isnan(t))) else str(t)
                  for t in t_o["Tag"]]
        tags_t = [None if (t is None or (isinstance(t, float) and math.isnan(t))) else str(t)
                  for t in t_t["Tag"]]
        if tags_o != tags_t:
            bad.append(f"tags: ours {tags_o[:5]} theirs {tags_t[:5]}")
        # A Python strategy's indicators at each trade's entry and exit, as backtesting.py
        # adds them (a built-in strategy declares none).
        if hasattr(ours["_strategy"], "_indicators"):
            if list(t_o.columns) != list(t_t.columns):
                bad.append(f"_trades columns: ours {list(t_o.columns)} theirs {list(t_t.columns)}")
            else:
                for c in [c for c in t_t.columns if c.startswith(("Entry_", "Exit_"))]:
                    for i, (x, y) in enumerate(zip(t_o[c].tolist(), t_t[c].tolist())):
                        if not close(x, y):
                            bad.append(f"trade {i} {c}: ours {x!r} theirs {y!r}")
                            break
    e_o = ours["_equity_curve"]["Equity"].to_numpy()
    e_t = theirs["_equity_curve"]["Equity"].to_numpy()
    diff = np.flatnonzero(~np.isclose(e_o, e_t, rtol=1e-9, atol=1e-9))
    if len(diff):
        i = diff[0]
        bad.append(f"equity bar {i}: ours {e_o[i]} theirs {e_t[i]}")
    dd_o = ours["_equity_curve"]["DrawdownDuration"]
    dd_t = theirs["_equity_curve"]["DrawdownDuration"]
    if not (dd_o.isna().equals(dd_t.isna()) and (dd_o.dropna() == dd_t.dropna()).all()):
        bad.append("drawdown durations differ")
    d_o = ours["_equity_curve"]["DrawdownPct"].to_numpy()
    d_t = theirs["_equity_curve"]["DrawdownPct"].to_numpy()
    if not np.allclose(d_o, d_t, rtol=1e-9, atol=1e-12):
        bad.append("drawdown differs")
    assert not bad, "\n".join(bad)
