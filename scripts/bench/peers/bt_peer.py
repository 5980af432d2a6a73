#!/usr/bin/env python3
"""backtesting.py 0.6.6 peer of scripts/bench-peers.sh: one plain process per measurement.

The strategy is backtesting.py's own test-suite SMA cross (what `backtide run --strategy
sma_cross` reproduces by default: strict cross, long/short, whole units):

    on SMA(fast) crossing above SMA(slow): position.close(); buy()
    on SMA(fast) crossing below SMA(slow): position.close(); sell()

with SMA = pandas rolling mean, `Backtest(df, SmaCross, cash=10_000, commission=0.001)`
(every other setting at its default). Modes:

    run       Backtest.run() -> the stats Series (nothing written)
    json      run, then write stats + equity curve + trades as JSON (pandas to_json) to --out:
              {"stats": stats without its `_strategy`/`_equity_curve`/`_trades` entries,
               "equity": stats._equity_curve (Equity, DrawdownPct, DrawdownDuration per bar,
                         orient="split", ISO dates),
               "trades": stats._trades (one record per closed trade, ISO dates)}
    optimize  Backtest.optimize(fast=[...], slow=[...], constraint=fast < slow,
              maximize="SQN"): backtesting.py's grid search, on its own process pool (one
              worker per core); it re-runs the best combination at the end.

Prints ONE JSON line (summary and phase timings); the caller measures the whole process.
"""

from __future__ import annotations

import time

_T_START = time.perf_counter()  # before the heavy imports: t_import_s includes them

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import backtesting  # noqa: E402
from backtesting import Backtest, Strategy  # noqa: E402
from backtesting.lib import crossover  # noqa: E402

_T_IMPORT = time.perf_counter() - _T_START


def SMA(values, n):
    """backtesting.py's test-suite SMA: pandas rolling mean."""
    return pd.Series(values).rolling(n).mean()


class SmaCross(Strategy):
    fast = 10
    slow = 30

    def init(self):
        self.sma1 = self.I(SMA, self.data.Close, self.fast)
        self.sma2 = self.I(SMA, self.data.Close, self.slow)

    def next(self):
        if crossover(self.sma1, self.sma2):
            self.position.close()
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()
            self.sell()


class TimedBacktest(Backtest):
    """Backtest that records how long the main process's own run() calls take (optimize's
    final re-run of the best combination); the pool workers' runs are not affected."""
    main_run_s = 0.0

    def run(self, **kwargs):
        t1 = time.perf_counter()
        try:
            return super().run(**kwargs)
        finally:
            TimedBacktest.main_run_s += time.perf_counter() - t1


def main() -> int:
    p = argparse.ArgumentParser(description="backtesting.py peer")
    p.add_argument("mode", choices=("run", "json", "optimize"))
    p.add_argument("--data", required=True)
    p.add_argument("--fast", type=int, default=10)
    p.add_argument("--slow", type=int, default=30)
    p.add_argument("--fast-list", default="1,5,10,15,20", help="optimize: fast windows")
    p.add_argument("--slow-list", default="30,190,350,520", help="optimize: slow windows")
    p.add_argument("--commission", type=float, default=0.001)
    p.add_argument("--cash", type=float, default=10_000.0)
    p.add_argument("--out", help="json: output file")
    args = p.parse_args()
    t: dict[str, float] = {"t_import_s": _T_IMPORT}

    t0 = time.perf_counter()
    df = pd.read_csv(args.data, index_col="time", parse_dates=["time"])
    t["t_load_s"] = time.perf_counter() - t0

    warnings.simplefilter("ignore")  # large-data and open-trade warnings: expected here
    bt = TimedBacktest(df, SmaCross, cash=args.cash, commission=args.commission)
    out: dict = {"tool": "backtesting.py", "version": backtesting.__version__,
                 "mode": args.mode, "bars": len(df)}

    if args.mode in ("run", "json"):
        t0 = time.perf_counter()
        stats = bt.run(fast=args.fast, slow=args.slow)
        t["t_run_s"] = time.perf_counter() - t0
        out.update(trades=int(stats["# Trades"]), equity_final=float(stats["Equity Final [$]"]))
        if args.mode == "json":
            t0 = time.perf_counter()
            plain = stats.drop(["_strategy", "_equity_curve", "_trades"])
            with open(args.out, "w") as f:
                f.write('{"stats":')
                f.write(plain.to_json(date_format="iso", default_handler=str))
                f.write(',"equity":')
                f.write(stats._equity_curve.to_json(orient="split", date_format="iso"))
                f.write(',"trades":')
                f.write(stats._trades.to_json(orient="records", date_format="iso",
                                              default_handler=str))
                f.write("}")
            t["t_write_s"] = time.perf_counter() - t0
    else:
        fast = [int(x) for x in args.fast_list.split(",")]
        slow = [int(x) for x in args.slow_list.split(",")]
        t0 = time.perf_counter()
        stats, heatmap = bt.optimize(fast=fast, slow=slow,
                                     constraint=lambda q: q.fast < q.slow,
                                     maximize="SQN", return_heatmap=True)
        t["t_optimize_s"] = time.perf_counter() - t0
        t["t_rerun_best_s"] = TimedBacktest.main_run_s
        best = heatmap.idxmax()
        out.update(combos=int(heatmap.notna().sum()), tested=len(heatmap),
                   best={"fast": int(best[0]), "slow": int(best[1])},
                   best_sqn=float(heatmap.max()))
    t["t_total_s"] = time.perf_counter() - _T_START
    out.update({k: round(v, 4) for k, v in t.items()})
    out.update(python=sys.version.split()[0], numpy=np.__version__, pandas=pd.__version__)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
