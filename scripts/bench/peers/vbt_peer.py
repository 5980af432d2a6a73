#!/usr/bin/env python3
"""vectorbt 1.2.0 peer of scripts/bench-peers.sh: one plain process per measurement.

What a vectorbt user writes for an SMA cross (vectorbt's README idiom): vectorbt's own
moving averages, `ma_crossed_above` / `ma_crossed_below` as entries / exits, and
`Portfolio.from_signals(close, entries, exits, fees=0.001, init_cash=10_000, freq="1min")`
(long only, fills at the signal bar's close, fractional sizes, all cash in; what
`backtide run --profile vectorbt --param direction=long_only` reproduces). The engine is
vectorbt's default (`auto`: the Rust kernels of vectorbt-rust when installed). Modes:

    run    one (fast, slow) pair, then pf.stats() (nothing written)
    json   run, then write pf.stats(), pf.value() and pf.trades.records_readable as JSON
           (pandas to_json) to --out:
           {"stats": pf.stats() (ISO dates, durations as ISO 8601 strings),
            "value": pf.value() per bar (orient="split", ISO dates),
            "trades": pf.trades.records_readable (one record per trade, open or closed)}
    sweep  the vectorised sweep: MA.run(close, window=[...]) for every fast and every slow
           window of the product (fast x slow with fast < slow, element-wise lists, as in
           vectorbt's README), ma_crossed_above/below, ONE from_signals over all columns,
           then pf.sharpe_ratio() and pf.total_return() per column and the best column.
           --max-combos N keeps N combinations spread evenly over the product (to fit memory).

Prints ONE JSON line (summary and phase timings); the caller measures the whole process.
"""

from __future__ import annotations

import time

_T_START = time.perf_counter()  # before the heavy imports: t_import_s includes them

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import vectorbt as vbt  # noqa: E402

_T_IMPORT = time.perf_counter() - _T_START


def ints(text: str) -> list[int]:
    """`a:b:step` (stop included) or `v1,v2,...`."""
    if ":" in text:
        a, b, step = (int(x) for x in text.split(":"))
        return list(range(a, b + 1, step))
    return [int(x) for x in text.split(",")]


def main() -> int:
    p = argparse.ArgumentParser(description="vectorbt peer")
    p.add_argument("mode", choices=("run", "json", "sweep"))
    p.add_argument("--data", required=True)
    p.add_argument("--fast", type=int, default=10)
    p.add_argument("--slow", type=int, default=30)
    p.add_argument("--fast-grid", default="1:20:1", help="sweep: fast windows")
    p.add_argument("--slow-grid", default="30:520:10", help="sweep: slow windows")
    p.add_argument("--max-combos", type=int, default=0, help="sweep: keep at most N combos")
    p.add_argument("--fees", type=float, default=0.001)
    p.add_argument("--cash", type=float, default=10_000.0)
    p.add_argument("--out", help="json: output file")
    args = p.parse_args()
    t: dict[str, float] = {"t_import_s": _T_IMPORT}

    t0 = time.perf_counter()
    df = pd.read_csv(args.data, index_col="time", parse_dates=["time"])
    close = df["Close"]
    t["t_load_s"] = time.perf_counter() - t0
    out: dict = {"tool": "vectorbt", "version": vbt.__version__, "mode": args.mode,
                 "bars": len(df)}
    kw = dict(fees=args.fees, init_cash=args.cash, freq="1min")

    if args.mode in ("run", "json"):
        t0 = time.perf_counter()
        fast = vbt.MA.run(close, args.fast, short_name="fast")
        slow = vbt.MA.run(close, args.slow, short_name="slow")
        entries = fast.ma_crossed_above(slow)
        exits = fast.ma_crossed_below(slow)
        t["t_signals_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        pf = vbt.Portfolio.from_signals(close, entries, exits, **kw)
        t["t_sim_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        stats = pf.stats()
        t["t_stats_s"] = time.perf_counter() - t0
        out.update(trades=int(stats["Total Trades"]), end_value=float(stats["End Value"]))
        if args.mode == "json":
            t0 = time.perf_counter()
            value = pf.value()
            trades = pf.trades.records_readable
            with open(args.out, "w") as f:
                f.write('{"stats":')
                f.write(stats.to_json(date_format="iso", default_handler=str))
                f.write(',"value":')
                f.write(value.to_json(orient="split", date_format="iso"))
                f.write(',"trades":')
                f.write(trades.to_json(orient="records", date_format="iso",
                                       default_handler=str))
                f.write("}")
            t["t_write_s"] = time.perf_counter() - t0
    else:
        combos = [(f, s) for f in ints(args.fast_grid) for s in ints(args.slow_grid) if f < s]
        out["grid_combos"] = len(combos)
        if args.max_combos and args.max_combos < len(combos):
            keep = np.linspace(0, len(combos) - 1, args.max_combos).round().astype(int)
            combos = [combos[i] for i in keep]
        fw = [f for f, _ in combos]
        sw = [s for _, s in combos]
        t0 = time.perf_counter()
        fast = vbt.MA.run(close, window=fw, short_name="fast")
        slow = vbt.MA.run(close, window=sw, short_name="slow")
        entries = fast.ma_crossed_above(slow)
        exits = fast.ma_crossed_below(slow)
        t["t_signals_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        pf = vbt.Portfolio.from_signals(close, entries, exits, **kw)
        t["t_sim_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        sharpe = pf.sharpe_ratio()
        total_return = pf.total_return()
        t["t_stats_s"] = time.perf_counter() - t0
        best = sharpe.idxmax()
        out.update(combos=len(combos), columns=int(sharpe.shape[0]),
                   best={"fast": int(best[0]), "slow": int(best[1])},
                   best_sharpe=float(sharpe.max()),
                   best_total_return=float(total_return[best]))
    t["t_total_s"] = time.perf_counter() - _T_START
    out.update({k: round(v, 4) for k, v in t.items()})
    out.update(python=sys.version.split()[0], numpy=np.__version__, pandas=pd.__version__)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
