#!/usr/bin/env python3
"""Checks scripts/bench/vbt_portfolio.py against the golden vectorbt portfolios.

For each weight case in shared/golden/portfolio/ it rebuilds the union-aligned close
frame and the target weights with vbt_portfolio's own functions, runs vectorbt with
the case's kwargs, and compares with the golden JSON:

- weights: every rebalance row, bit for bit (null = NaN);
- orders: count, and bar, column, side, size, price and fees of each (bit for bit);
- value per bar: max absolute difference (expected 0.0);
- final value and order count as printed by the benchmark script itself (subprocess).

Usage: python scripts/bench/check_golden.py [--shared PATH] [--engine auto|rust|numba]
Exit status 0 when every case matches.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vbt_portfolio as vp  # noqa: E402

# Golden file -> command-line arguments of vbt_portfolio.py that reproduce it.
CASES = {
    "vbtpf_equal_weight_monthly.json":
        ["equal_weight", "--rebalance", "monthly", "--fees", "0.001", "--slippage", "0.0005"],
    "vbtpf_equal_weight_monthly_default_seq.json":
        ["equal_weight", "--rebalance", "monthly", "--fees", "0.001", "--slippage", "0.0005",
         "--call-seq", "default"],
    "vbtpf_momentum_top2_monthly.json":
        ["momentum_rotation", "--lookback", "126", "--top", "2", "--rebalance", "monthly",
         "--fees", "0.001", "--fixed-fees", "1"],
    "vbtpf_equal_weight_quarterly_next_open.json":
        ["equal_weight", "--rebalance", "quarterly", "--fill", "next_open", "--fees", "0.0005"],
}


def check_kwargs(golden: dict, args: argparse.Namespace) -> list[str]:
    """The golden case's vectorbt kwargs must be the ones our arguments produce."""
    kw = golden["case"]["kwargs"]
    ours = {
        "fees": args.fees, "fixed_fees": args.fixed_fees, "slippage": args.slippage,
        "call_seq": args.call_seq, "init_cash": args.init_cash,
    }
    defaults = {"fees": 0.0, "fixed_fees": 0.0, "slippage": 0.0}
    errs = []
    for k, v in ours.items():
        want = kw.get(k, defaults.get(k))
        if want != v:
            errs.append(f"kwarg {k}: golden {want!r}, ours {v!r}")
    fill = golden["case"].get("fill", "close")
    if fill != args.fill:
        errs.append(f"fill: golden {fill}, ours {args.fill}")
    return errs


def run_case(name: str, argv: list[str], shared: Path, engine: str) -> list[str]:
    import vectorbt as vbt

    golden = json.loads((shared / "golden" / "portfolio" / name).read_text())
    data = shared / "data" / "stocks"
    args = vp.parse_args([str(data), *argv, "--engine", engine])
    errs = check_kwargs(golden, args)

    symbols, index, close_np, open_np = vp.load_universe(data, args.fill == "next_open")
    if symbols != golden["case"]["symbols"]:
        errs.append(f"symbols {symbols} != {golden['case']['symbols']}")
    want_index = pd.DatetimeIndex(golden["index"])
    if not index.equals(want_index):
        errs.append("union index differs")

    rows = vp.rebalance_rows(index, args.rebalance)
    if golden.get("rebalance_bars") is not None and rows.tolist() != golden["rebalance_bars"]:
        errs.append("rebalance bars differ")
    if args.strategy == "equal_weight":
        w = vp.equal_weight(close_np, rows)
    else:
        w = vp.momentum_rotation(close_np, rows, args.lookback, args.top)

    # Golden weights are the decisions (before any next_open shift).
    want = np.full(w.shape, np.nan)
    for rec in golden["weights"]:
        for j, s in enumerate(symbols):
            v = rec["weights"][s]
            want[rec["bar"], j] = np.nan if v is None else v
    same = (np.isnan(w) & np.isnan(want)) | (w == want)
    if not same.all():
        bad = np.argwhere(~same)[:5].tolist()
        errs.append(f"weights differ at (bar, col) {bad}")

    price = None
    if args.fill == "next_open":
        w = vp.shift_down(w)
        price = pd.DataFrame(open_np, index=index, columns=symbols)
    close = pd.DataFrame(close_np, index=index, columns=symbols)
    weights = pd.DataFrame(w, index=index, columns=symbols)
    pf = vp.simulate(vbt, close, weights, price, args, vp.infer_freq(index))

    rec = pf.order_records
    rec = rec[np.argsort(rec["id"], kind="stable")]
    gold = golden["orders"]
    if len(rec) != len(gold):
        errs.append(f"orders: {len(rec)} != golden {len(gold)}")
    else:
        for r, g in zip(rec, gold):
            side = "Buy" if r["side"] == 0 else "Sell"
            got = (int(r["idx"]), int(r["col"]), side, float(r["size"]), float(r["price"]),
                   float(r["fees"]))
            exp = (g["bar"], g["column"], g["side"], g["size"], g["price"], g["fees"])
            if got != exp:
                errs.append(f"order {g['seq']}: {got} != golden {exp}")
                break
    value = np.asarray(pf.value(), dtype=float)
    diff = float(np.max(np.abs(value - np.asarray(golden["value"], dtype=float))))
    if diff != 0.0:
        errs.append(f"value max abs diff {diff}")
    print(f"  in-process: orders {len(rec)} (golden {golden['n_orders']}), "
          f"final value {value[-1]:.2f} (golden {golden['value'][-1]:.2f}), value max diff {diff}")

    # The benchmark script itself, as the Rust bench runs it: a whole process.
    script = Path(__file__).resolve().parent / "vbt_portfolio.py"
    proc = subprocess.run([sys.executable, str(script), str(data), *argv, "--engine", engine],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        errs.append(f"vbt_portfolio.py exited {proc.returncode}: {proc.stderr[-2000:]}")
    else:
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"  script: orders {out['orders']}, final value {out['final_value']!r} "
              f"(golden value[-1] {golden['value'][-1]!r}), engine {out['engine']}")
        if out["orders"] != golden["n_orders"]:
            errs.append(f"script orders {out['orders']} != {golden['n_orders']}")
        if out["final_value"] != golden["value"][-1]:
            errs.append(f"script final value {out['final_value']!r} != {golden['value'][-1]!r}")
    return errs


def main() -> int:
    here = Path(__file__).resolve()
    # shared/ sits beside the repository (…/main/scripts/bench -> …/shared), or inside it.
    candidates = [here.parents[2] / "shared", here.parents[3] / "shared"]
    default_shared = next((c for c in candidates if (c / "golden").is_dir()), candidates[-1])
    p = argparse.ArgumentParser(description="check vbt_portfolio.py against the goldens")
    p.add_argument("--shared", type=Path, default=default_shared)
    p.add_argument("--engine", default="auto", choices=("auto", "rust", "numba"))
    args = p.parse_args()
    failed = 0
    for name, argv in CASES.items():
        print(f"{name} [{args.engine}]")
        errs = run_case(name, argv, args.shared, args.engine)
        for e in errs:
            print(f"  MISMATCH: {e}")
        print("  ok" if not errs else "  FAILED")
        failed += bool(errs)
    print(f"{len(CASES) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
