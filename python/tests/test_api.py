"""The Python API beyond backtesting.py's: built-ins and rules by name, the golden cases
(the CLI's numbers), sweeps, indicators, and errors that name the bad argument."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import backtide
from backtide import Backtest, Strategy
from conftest import ROOT, close, load

GOLDEN = ROOT / "testdata" / "golden"


def golden(name):
    return json.loads((GOLDEN / f"{name}.json").read_text())


CASES = {
    # golden file: (data, built-in parameters)
    "bt_goog_readme": ("GOOG", dict(fast=10, slow=20, direction="long_short")),
    "bt_goog_longonly": ("GOOG", dict(fast=10, slow=20, direction="long_only")),
    "bt_goog_longonly_sltp": ("GOOG", dict(fast=10, slow=20, direction="long_only",
                                           sl_pct=0.05, tp_pct=0.1)),
    "bt_eurusd_margin": ("EURUSD", dict(fast=10, slow=20, direction="long_short")),
}


@pytest.mark.parametrize("name", list(CASES))
def test_golden_cases_through_python_equal_the_cli(name):
    g = golden(name)
    data, params = CASES[name]
    c = g["case"]
    p = c["params"]
    params = dict(params, fast=p["n1"], slow=p["n2"])
    b = c["broker"]
    stats = Backtest(load(data), "sma_cross", cash=b["cash"], commission=b["commission"],
                     spread=b["spread"], margin=b["margin"],
                     trade_on_close=b["trade_on_close"], hedging=b["hedging"],
                     exclusive_orders=b["exclusive_orders"],
                     finalize_trades=b["finalize_trades"]).run(**params)
    for label, want in g["stats"].items():
        if isinstance(want, dict):  # durations
            got = stats[label]
            assert (pd.isna(got) and want["seconds"] is None) or got.total_seconds() == want["seconds"], label
        elif isinstance(want, str):
            assert str(stats[label]) == want.replace("T", " "), label
        elif want is None:
            assert label not in stats or pd.isna(stats[label]), label
        else:
            assert close(stats[label], want), f"{label}: {stats[label]} vs {want}"
    assert len(stats["_trades"]) == len(g["trades"])
    for ours, theirs in zip(stats["_trades"].itertuples(), g["trades"]):
        assert ours.EntryBar == theirs["EntryBar"] and ours.ExitBar == theirs["ExitBar"]
        assert close(ours.PnL, theirs["PnL"])


def test_rules_take_the_same_strings_as_the_cli(goog):
    rules = Backtest(goog, "rules").run(entry="rsi(close, 14) < 30", exit="rsi(close, 14) > 70")
    builtin = Backtest(goog, "rsi_reversion").run(period=14)
    pd.testing.assert_series_equal(
        rules.drop(["_strategy", "_equity_curve", "_trades"]),
        builtin.drop(["_strategy", "_equity_curve", "_trades"]))
    swept = Backtest(goog, "rules").run(entry="crossover(sma(close, $f), sma(close, $s))",
                                         exit="crossunder(sma(close, $f), sma(close, $s))",
                                         f=10, s=30)
    assert swept["# Trades"] > 10
    with pytest.raises(ValueError, match=r"parameter `entry`: .*column 12"):
        Backtest(goog, "rules").run(entry="rsi(close, ) < 30")


def test_sweep_returns_every_combination_with_the_overfitting_checks(goog):
    df = backtide.sweep(goog, "sma_cross", {"fast": range(5, 30, 5), "slow": [30, 50, 100]},
                        maximize="Sharpe Ratio", progress=False)
    assert len(df) == 15
    assert list(df.columns[:2]) == ["fast", "slow"]
    assert "Sharpe Ratio" in df.columns and "# Trades" in df.columns
    best = df.attrs["best"]
    assert df["Sharpe Ratio"].iloc[best] == df["Sharpe Ratio"].max()
    over = df.attrs["overfitting"]
    assert 0 <= over["psr"] <= 1 and "pbo" in over
    # One combination equals a single run.
    row = df.iloc[7]
    one = Backtest(goog, "sma_cross").run(fast=int(row.fast), slow=int(row.slow))
    assert close(row["Equity Final [$]"], one["Equity Final [$]"])
    # Threads do not change results.
    df1 = backtide.sweep(goog, "sma_cross", {"fast": range(5, 30, 5), "slow": [30, 50, 100]},
                         threads=1, progress=False)
    pd.testing.assert_frame_equal(df.drop(columns=[]), df1)


def test_ta_is_the_engines_indicators(goog):
    c = goog.Close.to_numpy()
    sma = backtide.ta.sma(c, 20)
    ref = goog.Close.rolling(20).mean().to_numpy()
    assert np.array_equal(np.isnan(sma), np.isnan(ref))
    assert np.array_equal(sma[19:], ref[19:])  # pandas' arithmetic, bit for bit
    rsi = backtide.ta.rsi(c, 14)
    assert np.isnan(rsi[:14]).all() and not np.isnan(rsi[14:]).any()
    bb = backtide.ta.bb_upper(c, 20, 2)
    assert (bb[19:] > sma[19:]).all()
    # An indicator of an indicator starts at its first value.
    sd = backtide.ta.stddev(backtide.ta.ret(c, 1), 10)
    assert np.isnan(sd[:10]).all() and not np.isnan(sd[10:]).any()
    with pytest.raises(TypeError, match="window|n:"):
        backtide.ta.sma(c, 0)
    # Open and volume series arguments (TA-Lib's OBV and BOP, written out here).
    v = goog.Volume.to_numpy(dtype=float)
    o, h, lo = (goog[k].to_numpy() for k in ("Open", "High", "Low"))
    obv = backtide.ta.obv(c, v)
    step = np.where(np.diff(c) > 0, v[1:], np.where(np.diff(c) < 0, -v[1:], 0.0))
    assert np.allclose(obv, np.concatenate([[v[0]], v[0] + np.cumsum(step)]), rtol=1e-12)
    bop = backtide.ta.bop(o, h, lo, c)
    assert np.allclose(bop, (c - o) / (h - lo), rtol=1e-12)


# -- bad input: an exception naming the argument, never a crash -------------------------

def test_a_dataframe_without_close(goog):
    with pytest.raises(ValueError, match="without `Close`"):
        Backtest(goog.drop(columns=["Close"]), "sma_cross")


def test_nan_prices_name_column_and_row(goog):
    df = goog.copy()
    df.iloc[7, df.columns.get_loc("High")] = np.nan
    with pytest.raises(ValueError, match=r"`High` is nan at row 7 \(2004-08-30"):
        Backtest(df, "sma_cross")


def test_a_non_monotonic_index(goog):
    df = goog.iloc[[0, 2, 1, 3, 4, 5]]
    with pytest.raises(ValueError, match="strictly increasing; row 2"):
        Backtest(df, "sma_cross")
    with pytest.raises(TypeError, match="DatetimeIndex"):
        Backtest(goog.reset_index(drop=True), "sma_cross")


def test_nat_in_the_index_is_named(goog):
    for row in (0, 5):
        df = goog.iloc[:10].copy()
        index = df.index.to_series()
        index.iloc[row] = pd.NaT
        df.index = pd.DatetimeIndex(index)
        with pytest.raises(ValueError, match=f"the index has NaT at row {row}"):
            Backtest(df, "sma_cross")


def test_columns_are_read_in_place_and_later_writes_to_the_frame_change_nothing(goog):
    # Under pandas' copy-on-write the engine reads the frame's memory without a copy. A
    # write to the frame after the Backtest is made must not reach the engine: pandas
    # copies the written frame's memory, because the Backtest holds a shallow copy.
    from backtide._data import _copy_on_write, to_bars
    df = goog.copy()
    bars, _, _ = to_bars(df)
    assert bars._lent_columns() == (6 if _copy_on_write() else 0)
    bt = Backtest(df, "sma_cross")
    before = bt.run(fast=10, slow=20)
    df.loc[:, "Close"] = df["Close"] * 3
    df.iloc[50:, df.columns.get_loc("Low")] = 1e-3
    after = bt.run(fast=10, slow=20)
    pd.testing.assert_frame_equal(before["_trades"], after["_trades"])
    assert before["Equity Final [$]"] == after["Equity Final [$]"]
    # A frame whose columns need converting (integers, a non-nanosecond index) is read
    # from the converted copies, which the bars keep alive.
    ints = goog.iloc[:300].copy()
    ints.index = ints.index.as_unit("s")
    ints["Volume"] = ints["Volume"].astype("int64")
    a = Backtest(ints, "sma_cross").run(fast=10, slow=20)
    b = Backtest(goog.iloc[:300], "sma_cross").run(fast=10, slow=20)
    assert a["Equity Final [$]"] == b["Equity Final [$]"]


def test_ohlc_rules_are_checked(goog):
    df = goog.copy()
    df.iloc[3, df.columns.get_loc("High")] = 1.0
    with pytest.raises(ValueError, match="bar 3, column High"):
        Backtest(df, "sma_cross")


def test_parameters_out_of_bounds_and_unknown(goog):
    bt = Backtest(goog, "sma_cross")
    with pytest.raises(ValueError, match=r"parameter `fast`: 0 is out of range \[1, 100000\]"):
        bt.run(fast=0)
    with pytest.raises(ValueError, match="parameter `speed`: unknown parameter"):
        bt.run(speed=3)
    with pytest.raises(ValueError, match="strategy: unknown built-in 'nope'"):
        Backtest(goog, "nope")
    with pytest.raises(TypeError, match="strategy: expected a backtide.Strategy subclass"):
        Backtest(goog, object)
    with pytest.raises(ValueError, match="cash: expected a positive number"):
        Backtest(goog, "sma_cross", cash=-5)

    class S(Strategy):
        n = 3

    with pytest.raises(AttributeError, match="missing parameter 'm'"):
        Backtest(goog, S).run(m=4)


def test_an_exception_in_next_surfaces_with_its_traceback(goog):
    class Boom(Strategy):
        def init(self):
            pass

        def next(self):
            if len(self.data) > 50:
                raise KeyError("boom at bar 50")

    with pytest.raises(KeyError, match="boom at bar 50") as e:
        Backtest(goog, Boom).run()
    frames = [f.name for f in e.traceback]
    assert "next" in frames


def test_a_bad_order_and_a_bad_indicator(goog):
    class BadSize(Strategy):
        def next(self):
            self.buy(size=1.5)

    with pytest.raises(ValueError, match="size must be a positive fraction"):
        Backtest(goog, BadSize).run()

    class BadIndicator(Strategy):
        def init(self):
            self.I(lambda: np.ones(3))

    with pytest.raises(ValueError, match="same length as `data`"):
        Backtest(goog, BadIndicator).run()


def test_walk_forward_from_python(goog):
    df = backtide.sweep(goog, "sma_cross", {"fast": range(5, 30, 5), "slow": [30, 50, 100]},
                        walk_forward="train=750,test=250", constraint="fast < slow",
                        progress=False)
    assert len(df) == 6  # ceil((2148 - 750) / 250) windows, the last one shorter
    assert {"fast", "slow", "Return [%]", "test_start"} <= set(df.columns)
    assert (df["test_start"] > df["train_end"]).all()
    oos = df.attrs["oos"]
    assert oos["# Trades"] >= df["# Trades"].sum() - len(df)
    assert len(df.attrs["oos_equity"]) == 2148 - 750
    same = backtide.sweep(goog, "sma_cross", {"fast": range(5, 30, 5), "slow": [30, 50, 100]},
                          walk_forward={"train": 750, "test": 250}, constraint="fast < slow",
                          progress=False)
    pd.testing.assert_frame_equal(df, same)
    with pytest.raises(ValueError, match="walk_forward"):
        backtide.sweep(goog, "sma_cross", {"fast": [5, 10]}, walk_forward="train=1", progress=False)


def test_plot_writes_the_report_for_builtin_and_python_strategies(goog, tmp_path):
    class Dip(Strategy):
        def init(self):
            self.sma = self.I(lambda c: pd.Series(c).rolling(20).mean(), self.data.Close)

        def next(self):
            if not self.position and self.data.Close[-1] < self.sma[-1] * 0.97:
                self.buy()
            elif self.position and self.data.Close[-1] > self.sma[-1]:
                self.position.close()

    for strategy in ("sma_cross", Dip):
        bt = Backtest(goog, strategy)
        with pytest.raises(RuntimeError, match="run the backtest first"):
            bt.plot(filename=str(tmp_path / "x.html"))
        bt.run()
        path = bt.plot(filename=str(tmp_path / f"{getattr(strategy, '__name__', strategy)}.html"))
        html = open(path, encoding="utf-8").read()
        assert html.startswith("<!DOCTYPE html>") and len(html) > 10_000


def test_optimize_checks_its_arguments(goog):
    class S(Strategy):
        n = 3

    with pytest.raises(TypeError, match="text constraint"):
        Backtest(goog, S).optimize(n=[2, 3], constraint="n < 3")
    with pytest.raises(ValueError, match="maximize: unknown statistic"):
        Backtest(goog, "sma_cross").optimize(fast=[5, 10], maximize="Profit")
    with pytest.raises(ValueError, match="no parameter combination"):
        Backtest(goog, "sma_cross").optimize(fast=[50], slow=[20], constraint="fast < slow")
    # max_tries samples the grid (seeded) through the per-combination path.
    st, heat = Backtest(goog, "sma_cross").optimize(fast=range(5, 30, 5), slow=[30, 60],
                                                    max_tries=4, random_state=1,
                                                    return_heatmap=True)
    assert len(heat) == 4 and st["# Trades"] > 0
