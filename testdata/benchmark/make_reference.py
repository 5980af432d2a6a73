"""Reference values for `backtide run --benchmark`, computed independently with pandas.

The equity curves are the reference tools' own (backtesting.py 0.6.6's per-bar `Equity` of the
golden cases in `../golden/`, and vectorbt 1.2's portfolio `value` of a case in
`../golden/portfolio/`), so neither the curve nor the statistics come from Backtide. Benchmarks are the
adjusted daily closes of the bundled stocks sample (`crates/data/samples/stocks/`); one copy
with rows removed (`MSFT_gaps.csv`, written here) makes the as-of alignment carry closes over.

Definitions (as `crates/core/src/stats/benchmark.rs` documents them):
- each bar takes the benchmark's last close at or before it (`pandas.merge_asof`);
- benchmark return from the warm-up bar (backtesting.py's `Buy & Hold` rule);
- beta = cov / var of per-bar log returns (numpy, as backtesting.py's Beta); alpha =
  return - beta * benchmark return; correlation of the same log returns;
- active returns of daily-resampled equity and benchmark (`resample('D').last().dropna()
  .pct_change()`), tracking error = std(ddof=1) * sqrt(N), active return = mean * N,
  information ratio = mean / std * sqrt(N), N = 365 if weekends make up more than 60 % of
  2/7 of the bars, else 252 (backtesting.py's rule).

Run from the repository root with pandas installed:
    python testdata/benchmark/make_reference.py
"""

import json
import pathlib

import numpy as np
import pandas as pd

ROOT = pathlib.Path(__file__).resolve().parents[2]
HERE = ROOT / "testdata" / "benchmark"
STOCKS = ROOT / "crates" / "data" / "samples" / "stocks"


def load_close(path):
    df = pd.read_csv(path, index_col=0, parse_dates=True)
    return df["Close"].astype(float)


def reference(golden, bench_path, warmup):
    g = json.loads((ROOT / "testdata" / "golden" / golden).read_text())
    if "equity" in g:
        idx = pd.to_datetime(g["equity"]["index"])
        equity = pd.Series(g["equity"]["Equity"], index=idx, dtype=float)
        bars = pd.read_csv(ROOT / "crates" / "data" / "samples" / g["case"]["data"],
                           index_col=0, parse_dates=True)
        assert (bars.index == idx).all()
        close = bars["Close"].to_numpy()
        # The warm-up bar reproduces backtesting.py's own Buy & Hold figure.
        bh = (close[-1] - close[warmup]) / close[warmup] * 100
        assert abs(bh - g["stats"]["Buy & Hold Return [%]"]) < 1e-9, bh
    else:
        # A vectorbt portfolio case: the group's value per bar of the union timeline, from
        # the first bar (a portfolio has no warm-up).
        idx = pd.to_datetime(g["index"])
        equity = pd.Series(g["value"], index=idx, dtype=float)

    bench = load_close(bench_path)
    left = pd.DataFrame({"t": idx})
    right = pd.DataFrame({"t": bench.index, "b": bench.to_numpy()})
    b = pd.merge_asof(left, right, on="t", direction="backward")["b"]
    b.index = idx
    filled = int((~idx.isin(bench.index)).sum())

    ret = (equity.iloc[-1] - equity.iloc[0]) / equity.iloc[0] * 100
    bret = (b.iloc[-1] - b.iloc[warmup]) / b.iloc[warmup] * 100
    x = np.log(equity.to_numpy()[1:] / equity.to_numpy()[:-1])
    y = np.log(b.to_numpy()[1:] / b.to_numpy()[:-1])
    cov = np.cov(x, y)
    beta = cov[0, 1] / cov[1, 1]
    corr = np.corrcoef(x, y)[0, 1]

    n = 365.0 if idx.day_of_week.to_series().between(5, 6).mean() > 2 / 7 * 0.6 else 252.0
    er = equity.resample("D").last().dropna().pct_change()
    br = b.resample("D").last().dropna().pct_change()
    active = (er - br).dropna()
    m, sd = active.mean(), active.std(ddof=1)
    return {
        "golden": golden,
        "benchmark": str(pathlib.Path(bench_path).relative_to(ROOT)),
        "warmup": warmup,
        "bars": len(idx),
        "filled": filled,
        "stats": {
            "return_pct": bret,
            "alpha_pct": ret - beta * bret,
            "beta": beta,
            "correlation": corr,
            "active_return_ann_pct": m * n * 100,
            "tracking_error_ann_pct": sd * np.sqrt(n) * 100,
            "information_ratio": m / sd * np.sqrt(n),
        },
    }


def main():
    msft = pd.read_csv(STOCKS / "MSFT.csv")
    # Every 7th row out, and a run of 10 days: the alignment carries closes over both.
    keep = [i for i in range(len(msft)) if i % 7 != 3 and not 1500 <= i < 1510]
    gaps = HERE / "MSFT_gaps.csv"
    msft.iloc[keep].to_csv(gaps, index=False, lineterminator="\n")
    cases = [
        reference("bt_goog_readme.json", STOCKS / "MSFT.csv", 19),
        reference("bt_goog_readme.json", gaps, 19),
        reference("bt_goog_longonly.json", STOCKS / "IBM.csv", 19),
        # The asset itself: alpha and beta are backtesting.py's own.
        reference("bt_goog_readme.json", ROOT / "crates" / "data" / "samples" / "GOOG.csv", 19),
        # Five stocks sharing one account (vectorbt 1.2), against the gapped MSFT.
        reference("portfolio/vbtpf_equal_weight_monthly.json", gaps, 0),
    ]
    versions = {"pandas": pd.__version__, "numpy": np.__version__}
    out = {"generated_with": versions, "cases": cases}
    (HERE / "reference.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
