"""vectorbt 1.2 (installed from PyPI) is the oracle for `from_signals` and `from_orders`:
the same arrays through `vbt.Portfolio.from_*` and `backtide.from_*`, 1-D and 2-D (one
column per asset, with and without shared cash): the same orders, value per bar, trades
and statistics within 1e-9."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import backtide
from conftest import SAMPLES, close

vbt = pytest.importorskip("vectorbt")
assert vbt.__version__ == "1.2.0"


@pytest.fixture(scope="module")
def stocks() -> pd.DataFrame:
    cols = {}
    for f in sorted((SAMPLES / "stocks").glob("*.csv")):
        df = pd.read_csv(f, index_col=0, parse_dates=True)
        cols[f.stem] = df["Close"]
    out = pd.DataFrame(cols)  # FB lists late: NaN before it, as vectorbt sees it
    out.index.name = None
    return out


def cross_signals(close: pd.DataFrame | pd.Series, fast: int, slow: int):
    f, s = close.rolling(fast).mean(), close.rolling(slow).mean()
    return (f > s) & (f.shift() <= s.shift()), (f < s) & (f.shift() >= s.shift())


def assert_same(ours, theirs, shared_or_single=True, columns=None):
    v_o, v_t = ours.value, theirs.value()
    assert np.allclose(np.asarray(v_o, dtype=float), np.asarray(v_t, dtype=float),
                       rtol=1e-9, atol=1e-9), "value differs"
    o_t = theirs.orders.records_readable
    o_o = ours.orders
    assert len(o_o) == len(o_t), f"orders: ours {len(o_o)} theirs {len(o_t)}"
    key_t = o_t.sort_values(["Timestamp", "Column"], kind="stable").reset_index(drop=True)
    key_o = o_o.sort_values(["Timestamp", "Column"], kind="stable").reset_index(drop=True)
    for c in ("Size", "Price", "Fees"):
        assert np.allclose(key_o[c], key_t[c], rtol=1e-9, atol=1e-12), c
    assert list(key_o["Side"]) == list(key_t["Side"])
    t_t = theirs.trades.records_readable
    assert len(ours.trades) == len(t_t)
    for c in ("Size", "Avg Entry Price", "Avg Exit Price", "PnL", "Return"):
        assert np.allclose(np.sort(ours.trades[c]), np.sort(t_t[c]), rtol=1e-9, atol=1e-9), c
    if shared_or_single:
        for col in columns or [None]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                st = theirs.stats(column=col) if col is not None else theirs.stats()
            so = ours.stats(column=col) if col is not None else ours.stats()
            for label, want in st.items():
                assert label in so.index, label
                got = so[label]
                if isinstance(want, pd.Timedelta) and not pd.isna(want):
                    # vectorbt derives mean durations from float days and sometimes keeps
                    # only microseconds; ours keep nanoseconds.
                    assert abs(got - want) <= pd.Timedelta(1, "us"), f"{label}: {got!r} {want!r}"
                    continue
                assert close(got, want), f"{label}: ours {got!r} theirs {want!r}"


KW = dict(fees=0.001, fixed_fees=1.0, slippage=0.0005, init_cash=10_000.0)


@pytest.mark.parametrize("size,size_type", [(np.inf, "amount"), (10, "amount"),
                                            (2500.0, "value"), (0.5, "percent")])
def test_from_signals_1d(goog, size, size_type):
    c = goog.Close
    entries, exits = cross_signals(c, 10, 30)
    theirs = vbt.Portfolio.from_signals(c, entries, exits, size=size, size_type=size_type,
                                        freq="1D", **KW)
    ours = backtide.from_signals(c, entries, exits, size=size, size_type=size_type, **KW)
    assert len(ours.orders) > 20
    assert_same(ours, theirs)


@pytest.mark.parametrize("call_seq", ["default", "auto"])
def test_from_signals_2d_with_shared_cash(stocks, call_seq):
    entries, exits = cross_signals(stocks, 10, 30)
    kw = dict(size=2500.0, size_type="value", call_seq=call_seq, **KW)
    theirs = vbt.Portfolio.from_signals(stocks, entries, exits, group_by=True,
                                        cash_sharing=True, freq="1D", **kw)
    ours = backtide.from_signals(stocks, entries, exits, cash_sharing=True, **kw)
    assert_same(ours, theirs)


def test_from_signals_2d_separate_accounts(stocks):
    entries, exits = cross_signals(stocks, 20, 50)
    theirs = vbt.Portfolio.from_signals(stocks, entries, exits, freq="1D", **KW)
    ours = backtide.from_signals(stocks, entries, exits, **KW)
    assert list(ours.value.columns) == list(stocks.columns)
    assert_same(ours, theirs, columns=["AAPL", "MSFT"])
    # Where we differ: FB lists in 2012. vectorbt's statistics of that column span the
    # whole index (from 2000, its value flat at the initial cash); ours span the bars the
    # column has, so Start, Period and the per-period ratios differ while its value,
    # orders and trades (checked above) agree.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert theirs.stats(column="FB")["Start"] == stocks.index[0]
    assert ours.stats(column="FB")["Start"] == stocks["FB"].first_valid_index()
    assert close(ours.stats(column="FB")["End Value"], theirs.stats(column="FB")["End Value"])


def test_from_orders_target_percent_2d(stocks):
    # Monthly equal weight over the assets with a price.
    month = stocks.index.to_period("M")
    first = np.r_[True, month[1:] != month[:-1]]
    has = stocks.notna()
    w = has.div(has.sum(axis=1), axis=0).where(has)
    size = w.where(pd.Series(first, index=stocks.index), np.nan, axis=0)
    kw = dict(size_type="targetpercent", call_seq="auto", **KW)
    theirs = vbt.Portfolio.from_orders(stocks, size, group_by=True, cash_sharing=True,
                                       freq="1D", **kw)
    ours = backtide.from_orders(stocks, size, cash_sharing=True, **kw)
    assert_same(ours, theirs)


def test_unsupported_arguments_say_so(goog):
    c = goog.Close
    e, x = cross_signals(c, 10, 30)
    with pytest.raises(NotImplementedError, match="direction"):
        backtide.from_signals(c, e, x, direction="both")
    with pytest.raises(NotImplementedError, match="sl_stop"):
        backtide.from_signals(c, e, x, sl_stop=0.1)
    with pytest.raises(ValueError, match="entries: 10 rows"):
        backtide.from_signals(c, e[:10], x)
    with pytest.raises(ValueError, match="close: column .* at row 3"):
        bad = c.copy()
        bad.iloc[3] = -1.0
        backtide.from_signals(bad, e, x)
