"""vectorbt 1.2 (installed from PyPI) is the oracle for `from_signals` and `from_orders`:
the same arrays through `vbt.Portfolio.from_*` and `backtide.from_*`, 1-D and 2-D (one
column per asset, with and without shared cash): the same orders, value per bar, trades
and statistics within 1e-9. `from_signals` is checked long-only, short-only, both ways
(`direction='both'` and separate short signals, with reversals and same-bar conflicts),
and with stop losses (fixed and trailing) and take profits, against the close or, with
open/high/low given, within the bar."""

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
def stocks_ohlc() -> dict[str, pd.DataFrame]:
    """Open, High, Low and Close frames, one column per asset (FB lists late: NaN before
    it, as vectorbt sees it)."""
    frames = {f.stem: pd.read_csv(f, index_col=0, parse_dates=True)
              for f in sorted((SAMPLES / "stocks").glob("*.csv"))}
    out = {}
    for field in ("Open", "High", "Low", "Close"):
        out[field] = pd.DataFrame({k: df[field] for k, df in frames.items()})
        out[field].index.name = None
    return out


@pytest.fixture(scope="module")
def stocks(stocks_ohlc) -> pd.DataFrame:
    return stocks_ohlc["Close"]


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
    # Trade by trade: the same entry and exit bars, side, status and numbers. (A 1-D
    # run's column is named after the Series, which vectorbt drops when open/high/low
    # with other names are broadcast with it.)
    key = ["Entry Timestamp", "Exit Timestamp", "Direction"]
    if isinstance(v_o, pd.DataFrame) or len(ours.orders["Column"].unique()) > 1:
        key = ["Column"] + key
    a = ours.trades.sort_values(key, kind="stable").reset_index(drop=True)
    b = t_t.sort_values(key, kind="stable").reset_index(drop=True)
    for c in key + ["Status"]:
        assert list(a[c]) == list(b[c]), c
    for c in ("Size", "Avg Entry Price", "Entry Fees", "Avg Exit Price", "Exit Fees", "PnL",
              "Return"):
        assert np.allclose(a[c], b[c], rtol=1e-9, atol=1e-9), c
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
                if label in ("Calmar Ratio", "Max Gross Exposure [%]") and below_zero(ours, col):
                    continue  # see test_value_below_zero
                assert close(got, want), f"{label}: ours {got!r} theirs {want!r}"


def below_zero(pf, column) -> bool:
    v = pf.value if column is None or isinstance(pf.value, pd.Series) else pf.value[column]
    return bool((v <= 0).any())


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


@pytest.mark.parametrize("size,size_type", [(np.inf, "amount"), (10, "amount")])
def test_from_signals_without_signals_buys_and_holds_as_vectorbt(goog, size, size_type):
    """With neither entries nor exits, vectorbt takes every bar as an entry."""
    c = goog.Close
    theirs = vbt.Portfolio.from_signals(c, size=size, size_type=size_type, freq="1D", **KW)
    ours = backtide.from_signals(c, size=size, size_type=size_type, **KW)
    assert len(ours.orders) >= 1
    assert_same(ours, theirs)


@pytest.mark.parametrize("call_seq", ["default", "auto"])
def test_from_signals_2d_with_shared_cash(stocks, call_seq):
    entries, exits = cross_signals(stocks, 10, 30)
    kw = dict(size=2500.0, size_type="value", call_seq=call_seq, **KW)
    theirs = vbt.Portfolio.from_signals(stocks, entries, exits, group_by=True,
                                        cash_sharing=True, freq="1D", **kw)
    ours = backtide.from_signals(stocks, entries, exits, cash_sharing=True, **kw)
    assert_same(ours, theirs)


@pytest.mark.parametrize("call_seq", ["default", "auto"])
def test_signals_on_rows_without_a_price_are_dropped_as_vectorbt(stocks, call_seq):
    """Random signals, many on rows where FB (before it listed) or GOOG has no price:
    vectorbt ignores an order at a NaN price, and so do we (the engine alone would keep it
    for the column's next bar)."""
    rng = np.random.default_rng(3)
    entries = pd.DataFrame(rng.random(stocks.shape) < 0.05, index=stocks.index,
                           columns=stocks.columns)
    exits = pd.DataFrame(rng.random(stocks.shape) < 0.05, index=stocks.index,
                         columns=stocks.columns)
    assert (entries & stocks.isna()).to_numpy().sum() > 100
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


def test_bad_arguments_name_the_argument(goog):
    c = goog.Close
    e, x = cross_signals(c, 10, 30)
    with pytest.raises(ValueError, match="direction: expected .* got 'sideways'"):
        backtide.from_signals(c, e, x, direction="sideways")
    with pytest.raises(ValueError, match="sl_stop: expected fractions >= 0"):
        backtide.from_signals(c, e, x, sl_stop=-0.1)
    with pytest.raises(ValueError, match="tp_stop: expected fractions >= 0"):
        backtide.from_signals(c, e, x, tp_stop=np.where(np.arange(len(c)) == 5, -1.0, 0.1))
    with pytest.raises(ValueError, match="sl_stop: 10 rows"):
        backtide.from_signals(c, e, x, sl_stop=np.full(10, 0.1))
    with pytest.raises(ValueError, match="high: .* does not bracket"):
        backtide.from_signals(c, e, x, sl_stop=0.1, high=c * 0.9)
    with pytest.raises(ValueError, match="entries: 10 rows"):
        backtide.from_signals(c, e[:10], x)
    with pytest.raises(ValueError, match="close: column .* at row 3"):
        bad = c.copy()
        bad.iloc[3] = -1.0
        backtide.from_signals(bad, e, x)


# ---- long and short -------------------------------------------------------------------

SIZES = [(np.inf, "amount"), (10, "amount"), (2500.0, "value")]


@pytest.mark.parametrize("size,size_type", SIZES + [(0.5, "percent")])
@pytest.mark.parametrize("direction", ["shortonly", "both"])
def test_from_signals_1d_directions(goog, direction, size, size_type):
    c = goog.Close
    entries, exits = cross_signals(c, 10, 30)
    kw = dict(size=size, size_type=size_type, direction=direction, **KW)
    if direction == "both" and size_type == "percent":
        # Exits reverse a long position into a short one, which vectorbt refuses for a
        # percent size; so do we.
        with pytest.raises(ValueError, match="Percent does not support position reversal"):
            vbt.Portfolio.from_signals(c, entries, exits, freq="1D", **kw)
        with pytest.raises(ValueError, match="percent of cash cannot reverse"):
            backtide.from_signals(c, entries, exits, **kw)
        return
    theirs = vbt.Portfolio.from_signals(c, entries, exits, freq="1D", **kw)
    ours = backtide.from_signals(c, entries, exits, **kw)
    assert (ours.trades["Direction"] == "Short").sum() > 10
    if direction == "both":
        # Every exit after the first entry reverses: one order per signal.
        assert (ours.trades["Direction"] == "Long").sum() > 10
    assert_same(ours, theirs)


def long_short_signals(close):
    """Long on a 10/30 cross, short on a 5/20 cross: the two overlap, so entries reverse
    positions, and the same bar carries opposite signals."""
    le, lx = cross_signals(close, 10, 30)
    sx, se = cross_signals(close, 5, 20)
    return le, lx, se, sx


@pytest.mark.parametrize("size,size_type", SIZES)
def test_from_signals_1d_short_entries_and_exits(goog, size, size_type):
    c = goog.Close
    le, lx, se, sx = long_short_signals(c)
    # Same-bar conflicts, exercised on purpose: an entry with its own exit, a long with a
    # short entry, a long entry with a short exit.
    le.iloc[100] = lx.iloc[100] = True
    le.iloc[300] = se.iloc[300] = True
    le.iloc[500] = sx.iloc[500] = True
    kw = dict(size=size, size_type=size_type, **KW)
    theirs = vbt.Portfolio.from_signals(c, le, lx, short_entries=se, short_exits=sx,
                                        freq="1D", **kw)
    ours = backtide.from_signals(c, le, lx, short_entries=se, short_exits=sx, **kw)
    assert set(ours.trades["Direction"]) == {"Long", "Short"}
    assert_same(ours, theirs)


@pytest.mark.parametrize("call_seq", ["default", "auto"])
@pytest.mark.parametrize("direction", ["shortonly", "both"])
def test_from_signals_2d_directions_shared_cash(stocks, direction, call_seq):
    entries, exits = cross_signals(stocks, 10, 30)
    kw = dict(size=1000.0, size_type="value", call_seq=call_seq, direction=direction, **KW)
    theirs = vbt.Portfolio.from_signals(stocks, entries, exits, group_by=True,
                                        cash_sharing=True, freq="1D", **kw)
    ours = backtide.from_signals(stocks, entries, exits, cash_sharing=True, **kw)
    assert (ours.value > 0).all()
    assert_same(ours, theirs)


def test_value_below_zero(stocks):
    """Where we differ: shorts that lose more than the account take its value below zero.
    Returns then follow vectorbt (a return on a negative value has its sign flipped), so
    Sharpe, Sortino and Omega agree; but vectorbt's Calmar ratio divides by the drawdown
    of the compounded returns, which no longer track the value once it is negative, while
    ours divides by the value's own drawdown (the "Max Drawdown [%]" both report). And
    the gross exposure divides by gross + free cash, close to zero here, so it agrees to
    1e-8 only."""
    entries, exits = cross_signals(stocks, 10, 30)
    kw = dict(size=2500.0, size_type="value", direction="shortonly", **KW)
    theirs = vbt.Portfolio.from_signals(stocks, entries, exits, group_by=True,
                                        cash_sharing=True, freq="1D", **kw)
    ours = backtide.from_signals(stocks, entries, exits, cash_sharing=True, **kw)
    assert ours.value.iloc[-1] < 0
    assert np.allclose(ours.value, theirs.value(), rtol=1e-9, atol=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        st = theirs.stats()
    so = ours.stats()
    for label, want in st.items():
        if label == "Calmar Ratio":
            assert not close(so[label], want)
        elif label == "Max Gross Exposure [%]":
            assert close(so[label], want, rel=1e-8)
        elif isinstance(want, pd.Timedelta):
            assert abs(so[label] - want) <= pd.Timedelta(1, "us"), label
        else:
            assert close(so[label], want), f"{label}: ours {so[label]!r} theirs {want!r}"


@pytest.mark.parametrize("direction", ["shortonly", "both"])
def test_from_signals_2d_directions_separate_accounts(stocks, direction):
    entries, exits = cross_signals(stocks, 20, 50)
    kw = dict(direction=direction, **KW)
    theirs = vbt.Portfolio.from_signals(stocks, entries, exits, freq="1D", **kw)
    ours = backtide.from_signals(stocks, entries, exits, **kw)
    # FB's statistics span different periods (see test_from_signals_2d_separate_accounts).
    assert_same(ours, theirs, columns=["AAPL", "MSFT"])


@pytest.mark.parametrize("call_seq", ["default", "auto"])
def test_from_signals_2d_short_entries_and_exits(stocks, call_seq):
    le, lx, se, sx = long_short_signals(stocks)
    kw = dict(size=np.inf, call_seq=call_seq, **KW)
    theirs = vbt.Portfolio.from_signals(stocks, le, lx, short_entries=se, short_exits=sx,
                                        group_by=True, cash_sharing=True, freq="1D", **kw)
    ours = backtide.from_signals(stocks, le, lx, short_entries=se, short_exits=sx,
                                 cash_sharing=True, **kw)
    assert_same(ours, theirs)


def test_direction_with_short_signals_warns_as_vectorbt(goog):
    le, lx, se, sx = long_short_signals(goog.Close)
    with pytest.warns(UserWarning, match="direction has no effect"):
        backtide.from_signals(goog.Close, le, lx, short_entries=se, direction="both")


# ---- stops ---------------------------------------------------------------------------

STOPS = {
    "sl": dict(sl_stop=0.05),
    "tp": dict(tp_stop=0.1),
    "sl_trail": dict(sl_stop=0.05, sl_trail=True),
    "sl_tp": dict(sl_stop=0.08, tp_stop=0.15),
}


@pytest.mark.parametrize("stops", list(STOPS), ids=list(STOPS))
@pytest.mark.parametrize("direction", ["longonly", "both"])
def test_from_signals_1d_stops_at_the_close(goog, direction, stops):
    c = goog.Close
    entries, exits = cross_signals(c, 10, 30)
    kw = dict(direction=direction, **STOPS[stops], **KW)
    theirs = vbt.Portfolio.from_signals(c, entries, exits, freq="1D", **kw)
    ours = backtide.from_signals(c, entries, exits, **kw)
    plain = backtide.from_signals(c, entries, exits, direction=direction, **KW)
    # The stops closed trades on bars the signals alone would not have.
    assert list(ours.orders["Timestamp"]) != list(plain.orders["Timestamp"])
    # Without high and low a stop is seen at the close and fills there.
    assert set(ours.orders["Price"]) <= set(c) | set(c * (1 + KW["slippage"])) | set(
        c * (1 - KW["slippage"]))
    assert_same(ours, theirs)


@pytest.mark.parametrize("stops", list(STOPS), ids=list(STOPS))
@pytest.mark.parametrize("direction", ["longonly", "shortonly", "both"])
def test_from_signals_1d_stops_within_the_bar(goog, direction, stops):
    entries, exits = cross_signals(goog.Close, 10, 30)
    kw = dict(direction=direction, **STOPS[stops], **KW)
    theirs = vbt.Portfolio.from_signals(goog.Close, entries, exits, open=goog.Open,
                                        high=goog.High, low=goog.Low, freq="1D", **kw)
    # A DataFrame of bars gives its Open, High and Low.
    ours = backtide.from_signals(goog, entries, exits, **kw)
    # Some stops fill inside the bar, at neither its open nor its close (no slippage).
    px = ours.orders.set_index("Timestamp")["Price"]
    inside = [(t, p) for t, p in px.items()
              if not np.isclose(p, goog.Close[t] * (1 + KW["slippage"]))
              and not np.isclose(p, goog.Close[t] * (1 - KW["slippage"]))]
    assert inside, "no stop filled within a bar"
    assert_same(ours, theirs)


def test_from_signals_1d_stop_at_a_gap_fills_at_the_open(goog):
    entries, exits = cross_signals(goog.Close, 10, 30)
    kw = dict(sl_stop=0.02, tp_stop=0.02, **KW)
    theirs = vbt.Portfolio.from_signals(goog.Close, entries, exits, open=goog.Open,
                                        high=goog.High, low=goog.Low, freq="1D", **kw)
    ours = backtide.from_signals(goog.Close, entries, exits, open=goog.Open, high=goog.High,
                                 low=goog.Low, **kw)
    sells = ours.orders[ours.orders["Side"] == "Sell"].set_index("Timestamp")["Price"]
    assert any(p == goog.Open[t] for t, p in sells.items()), "no stop filled at an open"
    assert_same(ours, theirs)


def test_from_signals_1d_stops_per_bar(goog):
    """Stops as one value per bar (NaN = no stop for an entry on that bar), read on the
    entry bar."""
    c = goog.Close
    entries, exits = cross_signals(c, 10, 30)
    rng = np.random.default_rng(7)
    sl = pd.Series(rng.uniform(0.01, 0.1, len(c)), index=c.index)
    sl[rng.random(len(c)) < 0.3] = np.nan
    tp = pd.Series(rng.uniform(0.02, 0.2, len(c)), index=c.index)
    trail = pd.Series(rng.random(len(c)) < 0.5, index=c.index)
    kw = dict(sl_stop=sl, tp_stop=tp, sl_trail=trail, direction="both", **KW)
    theirs = vbt.Portfolio.from_signals(c, entries, exits, open=goog.Open, high=goog.High,
                                        low=goog.Low, freq="1D", **kw)
    ours = backtide.from_signals(goog, entries, exits, **kw)
    assert_same(ours, theirs)


@pytest.mark.parametrize("stops", list(STOPS), ids=list(STOPS))
@pytest.mark.parametrize("call_seq", ["default", "auto"])
def test_from_signals_2d_stops_within_the_bar_shared_cash(stocks_ohlc, stops, call_seq):
    close = stocks_ohlc["Close"]
    le, lx, se, sx = long_short_signals(close)
    ohlc = dict(open=stocks_ohlc["Open"], high=stocks_ohlc["High"], low=stocks_ohlc["Low"])
    kw = dict(size=2500.0, size_type="value", call_seq=call_seq, **STOPS[stops], **ohlc,
              **KW)
    theirs = vbt.Portfolio.from_signals(close, le, lx, short_entries=se, short_exits=sx,
                                        group_by=True, cash_sharing=True, freq="1D", **kw)
    ours = backtide.from_signals(close, le, lx, short_entries=se, short_exits=sx,
                                 cash_sharing=True, **kw)
    assert_same(ours, theirs)


@pytest.mark.parametrize("stops", list(STOPS), ids=list(STOPS))
def test_from_signals_2d_stops_separate_accounts(stocks_ohlc, stops):
    close = stocks_ohlc["Close"]
    entries, exits = cross_signals(close, 10, 30)
    kw = dict(direction="both", **STOPS[stops], **KW)
    ohlc = dict(open=stocks_ohlc["Open"], high=stocks_ohlc["High"], low=stocks_ohlc["Low"])
    theirs = vbt.Portfolio.from_signals(close, entries, exits, freq="1D", **ohlc, **kw)
    ours = backtide.from_signals(close, entries, exits, **ohlc, **kw)
    assert_same(ours, theirs, columns=["AAPL", "MSFT"])
    # At the close only, too.
    theirs = vbt.Portfolio.from_signals(close, entries, exits, freq="1D", **kw)
    ours = backtide.from_signals(close, entries, exits, **kw)
    assert_same(ours, theirs, columns=["AAPL", "MSFT"])
