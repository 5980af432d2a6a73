#!/usr/bin/env python3
"""Side-by-side whole-process benchmark: Backtide vs backtesting.py 0.6.6 vs vectorbt 1.2.0.

Driven by scripts/bench-peers.sh (which builds the venv, the release binary and the data);
runs in the peers venv. Every measurement is a fresh process timed from the outside:
wall clock around fork/exec/wait, CPU = the command's user + system time, peak RSS = the
kernel's ru_maxrss as GNU time reports it (the largest single process of the tree; see
`measure` for why not os.wait4 on a child of this process). For process trees
(backtesting.py's optimize pool) the sum of the tree's RSS is also sampled every 0.1 s
and reported in the notes. Each row runs REPEAT times, interleaved with the other
rows of its workload (rep 1 of every row, then rep 2, ...), so a ratio compares runs made
under the same load; the table shows medians.

Workloads (full size; --quick divides the bar counts by 10):
  1. one sma_cross 10/30 backtest, commission 0.1 %, on 1M bars (CSV);
  2. a 1,000-combination sma_cross sweep (fast 1..20 x slow 30..520 step 10, fast < slow)
     on 100k bars; backtesting.py on a 20-combination subset, extrapolated;
  3. workload 1 with its result written as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MiB = 1024 * 1024
TIME = "/usr/bin/time"  # GNU time: peak RSS of the command alone (see measure)

FAST_GRID, SLOW_GRID = "1:20:1", "30:520:10"   # the grid of crates/cli/benches/sweep.rs
BT_FAST, BT_SLOW = "1,5,10,15,20", "30,190,350,520"  # backtesting.py's 20-combination subset


def grid(text: str) -> list[int]:
    a, b, step = (int(x) for x in text.split(":"))
    return list(range(a, b + 1, step))


# ---------------------------------------------------------------------------------------
# Measuring one process
# ---------------------------------------------------------------------------------------


def _tree_rss_sampler(pid: int, stop: threading.Event, out: dict, kill_mib: float) -> None:
    """Peak of the summed RSS of pid's descendants (the measured command and whatever it
    starts); kills them if that sum passes kill_mib (a guard for the rest of the machine)."""
    import psutil

    try:
        root = psutil.Process(pid)
    except psutil.Error:
        return
    while not stop.wait(0.1):
        try:
            kids = root.children(recursive=True)
        except psutil.Error:
            return
        total = 0
        for proc in kids:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        out["procs"] = max(out.get("procs", 1), len(kids))
        out["tree_rss"] = max(out.get("tree_rss", 0), total)
        if kill_mib and total > kill_mib * MiB:
            for proc in kids:
                try:
                    proc.kill()
                except psutil.Error:
                    pass
            out["killed"] = True
            return


def measure(cmd: list[str], stdout_path: Path | None = None, env: dict | None = None,
            kill_mib: float = 0.0) -> dict:
    """Runs cmd once; wall s, CPU s, peak RSS MiB, stdout (unless redirected to a file).

    The command runs under GNU time (`/usr/bin/time -f %M`): its peak RSS is the kernel's
    ru_maxrss of the command (the largest process of its tree). Taking ru_maxrss of a
    direct child of this Python process instead would be wrong: a child inherits the
    high-water mark of the process it was forked from, and the kernel keeps it across
    exec, so every child would report at least this process's own peak. GNU time is a
    small C program (about 1 MiB), forked afresh for each run. Wall time is taken here
    around the whole thing; CPU time is user + system of the command (os.wait4 on GNU
    time, which counts its waited-for child).
    """
    err = tempfile.TemporaryFile()
    out = open(stdout_path, "wb") if stdout_path else tempfile.TemporaryFile()
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        full = [TIME, "-f", "%M", "-o", tf.name, *cmd]
        t0 = time.perf_counter()
        proc = subprocess.Popen(full, stdout=out, stderr=err, env=env)
        stop, tree = threading.Event(), {}
        sampler = threading.Thread(target=_tree_rss_sampler,
                                   args=(proc.pid, stop, tree, kill_mib), daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        stop.set()
        sampler.join()
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code
        time_out = tf.read().strip().splitlines()
    err.seek(0)
    err_text = err.read().decode(errors="replace")
    text = ""
    if not stdout_path:
        out.seek(0)
        text = out.read().decode(errors="replace")
    out.close()
    if tree.get("killed"):
        raise SystemExit(f"bench-peers: `{shlex.join(cmd)}` passed {kill_mib:.0f} MiB of RSS and "
                         "was stopped; rerun with a lower --mem-limit-gib")
    if code != 0:
        raise SystemExit(f"bench-peers: `{shlex.join(cmd)}` failed ({code}):\n{err_text[-4000:]}"
                         f"\n{' '.join(time_out)}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "rss": int(time_out[-1]) / 1024.0, "stdout": text, "stderr": err_text,
            "tree_rss": tree.get("tree_rss", 0) / MiB, "procs": tree.get("procs", 1)}


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------
# Rows: what a row runs and how its result is summarised
# ---------------------------------------------------------------------------------------


class Row:
    def __init__(self, key, tool, what, cmd, pair=None, stdout_file=None, summary=None,
                 scale=None, cold=False, kill_mib=0.0):
        self.key, self.tool, self.what, self.cmd = key, tool, what, cmd
        self.pair = pair                  # key of the Backtide row the ratios are against
        self.stdout_file = stdout_file    # Path: stdout goes to this file (JSON output)
        self.summary = summary            # fn(run dict) -> short check text
        self.scale = scale                # fn(run dict) -> extrapolated wall s (subset rows)
        self.cold = cold                  # run with an empty numba cache every time
        self.kill_mib = kill_mib          # stop the process past this RSS
        self.runs: list[dict] = []

    def med(self, field: str) -> float:
        return statistics.median(r[field] for r in self.runs)


def backtide_text_stats(text: str) -> dict:
    """`Name   value` lines of `backtide run`'s text output."""
    stats = {}
    for line in text.splitlines():
        m = re.match(r"^(\S.*?)\s{2,}(\S.*)$", line)
        if m:
            stats[m.group(1).strip()] = m.group(2).strip()
    return stats


def summary_backtide_run(r: dict) -> str:
    s = backtide_text_stats(r["stdout"])
    if "# Trades" in s:
        return f"{int(float(s['# Trades']))} trades, equity {float(s['Equity Final [$]']):.10g}"
    return f"{int(float(s['Total Trades']))} trades, end value {float(s['End Value']):.10g}"


def summary_backtide_json(path: Path):
    def f(_r: dict) -> str:
        st = json.loads(path.read_text())["stats"]
        size = path.stat().st_size / 1e6
        if "num_trades" in st:
            return f"{size:.0f} MB: {st['num_trades']} trades, equity {st['equity_final']:.10g}"
        return f"{size:.0f} MB: {st['total_trades']} trades, end value {st['end_value']:.10g}"
    return f


def summary_peer(r: dict) -> str:
    d = last_json(r["stdout"])
    if "equity_final" in d:
        return f"{d['trades']} trades, equity {d['equity_final']:.10g}"
    if "end_value" in d:
        return f"{d['trades']} trades, end value {d['end_value']:.10g}"
    if d.get("mode") == "optimize":
        b = d["best"]
        return f"{d['combos']} combos; best of subset {b['fast']}/{b['slow']} SQN {d['best_sqn']:.6f}"
    b = d["best"]
    return f"{d['combos']} combos; best {b['fast']}/{b['slow']} Sharpe {d['best_sharpe']:.6f}"


def summary_peer_json(path: Path):
    def f(r: dict) -> str:
        return f"{path.stat().st_size / 1e6:.0f} MB: " + summary_peer(r)
    return f


def summary_backtide_sweep(r: dict) -> str:
    lines = r["stdout"].splitlines()
    m = re.match(r"^(\d+) of (\d+) combinations; best by (\S+)", lines[0])
    if not m:
        raise SystemExit(f"bench-peers: unexpected sweep output: {lines[0]!r}")
    if m.group(1) != "1000" or m.group(2) != "1000":
        raise SystemExit(f"bench-peers: the sweep ran {m.group(1)} of {m.group(2)} combinations")
    top = lines[2].split()  # rank fast slow objective ...
    return f"{m.group(1)} combos; best {top[1]}/{top[2]} {m.group(3)} {float(top[3]):.6f}"


# ---------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backtide", required=True, type=Path)
    p.add_argument("--data-dir", required=True, type=Path)
    p.add_argument("--work", required=True, type=Path, help="folder for JSON outputs")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--mem-limit-gib", type=float, default=16.0,
                   help="largest vectorbt sweep peak RSS to attempt")
    p.add_argument("--workloads", default="1,2,3")
    p.add_argument("--no-cold", action="store_true",
                   help="skip the vectorbt row with an empty numba cache")
    args = p.parse_args()

    py = sys.executable
    bt, vbt = str(HERE / "bt_peer.py"), str(HERE / "vbt_peer.py")
    exe = str(args.backtide)
    div = 10 if args.quick else 1
    n_run, n_sweep = 1_000_000 // div, 100_000 // div
    d = args.data_dir
    run_csv = d / f"bars_{n_run}.csv"
    sweep_csv = d / f"bars_{n_sweep}.csv"
    warm_csv = d / "bars_2000.csv"
    args.work.mkdir(parents=True, exist_ok=True)
    for f in (run_csv, sweep_csv, warm_csv):
        if not f.exists():
            raise SystemExit(f"bench-peers: missing {f}")
        with open(f, "rb") as fh:  # into the page cache, so no row pays the first disk read
            while fh.read(1 << 20):
                pass
    workloads = {int(w) for w in args.workloads.split(",")}

    # The grid, counted the way the constraint reads it.
    combos = [(f, s) for f in grid(FAST_GRID) for s in grid(SLOW_GRID) if f < s]
    bt_combos = [(int(f), int(s)) for f in BT_FAST.split(",") for s in BT_SLOW.split(",")
                 if int(f) < int(s)]
    assert len(combos) == 1000, len(combos)
    assert set(bt_combos) <= set(combos) and len(bt_combos) == 20

    # Warm-up (untimed): numba's on-disk cache in the venv, Python's bytecode caches.
    t0 = time.perf_counter()
    for cmd in ([py, vbt, "run", "--data", str(warm_csv)],
                [py, vbt, "json", "--data", str(warm_csv), "--out", str(args.work / "warm.json")],
                [py, vbt, "sweep", "--data", str(warm_csv), "--max-combos", "10"],
                [py, bt, "run", "--data", str(warm_csv)]):
        measure(cmd)
    print(f"warm-up (untimed: numba cache, bytecode): {time.perf_counter() - t0:.1f} s\n",
          flush=True)

    common = ["--strategy", "sma_cross", "--param", "fast=10", "--param", "slow=30",
              "--commission", "0.001"]
    vbt_sem = ["--profile", "vectorbt", "--param", "direction=long_only"]
    tables = []

    # 1. One 1M-bar backtest.
    if 1 in workloads:
        rows = [
            Row("bt1", "Backtide", "`run` (backtesting.py semantics: next-open fills, long/short)",
                [exe, "run", "--data", str(run_csv), *common], summary=summary_backtide_run),
            Row("bt1v", "Backtide", "`run --profile vectorbt --param direction=long_only`",
                [exe, "run", "--data", str(run_csv), *common, *vbt_sem],
                summary=summary_backtide_run),
            Row("py1", "backtesting.py 0.6.6", "`Backtest(df, SmaCross, cash=10_000, "
                "commission=.001).run()`", [py, bt, "run", "--data", str(run_csv)],
                pair="bt1", summary=summary_peer),
            Row("vb1", "vectorbt 1.2.0", "`MA.run` ×2, `ma_crossed_above/below`, "
                "`from_signals(fees=.001)`, `.stats()`", [py, vbt, "run", "--data", str(run_csv)],
                pair="bt1v", summary=summary_peer),
        ]
        if not args.no_cold:
            rows.append(Row("vb1c", "vectorbt 1.2.0", "the same with an empty numba cache "
                            "(a first-ever run: everything compiles)",
                            [py, vbt, "run", "--data", str(run_csv)],
                            pair="bt1v", summary=summary_peer, cold=True))
        tables.append((f"1. One `sma_cross` 10/30 backtest, {n_run:,} bars (CSV)", rows))

    # 2. The 1,000-combination sweep.
    if 2 in workloads:
        grid_args = ["--grid", f"fast={FAST_GRID}", "--grid", f"slow={SLOW_GRID}",
                     "--constraint", "fast < slow", "--commission", "0.001"]
        # vectorbt's memory grows with the number of columns: probe 50 and 100 columns,
        # fit a line, and keep the full 1,000 only if the estimate fits the limit.
        probe = {}
        for k in (50, 100):
            probe[k] = measure([py, vbt, "sweep", "--data", str(sweep_csv),
                                "--max-combos", str(k)])["rss"]
        slope = max((probe[100] - probe[50]) / 50.0, 0.0)
        est = probe[100] + slope * 900
        avail = 0.0
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) / 1024.0
        limit = min(args.mem_limit_gib * 1024.0, 0.75 * avail)
        vb_n = 1000
        if est > limit:
            vb_n = max(50, int((limit - (probe[100] - 100 * slope)) / slope) // 50 * 50)
        mem_note = (f"vectorbt sweep memory probe: {probe[50]:.0f} MiB at 50 columns, "
                    f"{probe[100]:.0f} MiB at 100 → about {slope:.1f} MiB a column, "
                    f"{est / 1024:.1f} GiB estimated for 1,000 (limit {limit / 1024:.1f} GiB: "
                    f"min({args.mem_limit_gib:g} GiB, 75 % of MemAvailable {avail / 1024:.1f} GiB))"
                    + ("" if vb_n == 1000 else
                       f"; REDUCED to {vb_n} combinations (spread evenly over the grid), "
                       f"time and RSS extrapolated to 1,000"))
        print(mem_note, flush=True)

        def bt_scale(r: dict) -> float:
            # Fixed part (interpreter, imports, CSV, pool start) once; the 20 pooled
            # backtests x 50; optimize's own re-run of the best combination once.
            dd = last_json(r["stdout"])
            pooled = dd["t_optimize_s"] - dd["t_rerun_best_s"]
            return r["wall"] - dd["t_optimize_s"] + pooled * 1000 / dd["combos"] + dd["t_rerun_best_s"]

        def vb_scale(r: dict) -> float:
            dd = last_json(r["stdout"])
            work = dd["t_signals_s"] + dd["t_sim_s"] + dd["t_stats_s"]
            return r["wall"] - work + work * 1000 / dd["combos"]

        rows = [
            Row("bt2", "Backtide", "`sweep` (backtesting.py semantics, max SQN, overfitting "
                "checks on: the default)", [exe, "sweep", "--data", str(sweep_csv), "--strategy",
                                            "sma_cross", *grid_args],
                summary=summary_backtide_sweep),
            Row("bt2v", "Backtide", "`sweep --profile vectorbt --param direction=long_only` "
                "(max Sharpe)", [exe, "sweep", "--data", str(sweep_csv), "--strategy",
                                 "sma_cross", *grid_args, *vbt_sem],
                summary=summary_backtide_sweep),
            Row("vb2", "vectorbt 1.2.0",
                ("`MA.run(window=[1,000 fast])`, `MA.run(window=[1,000 slow])`, cross, one "
                 "`from_signals` over 1,000 columns, `sharpe_ratio()` + `total_return()`")
                if vb_n == 1000 else
                (f"the same on {vb_n} of the 1,000 columns (memory), extrapolated to 1,000"),
                [py, vbt, "sweep", "--data", str(sweep_csv)]
                + ([] if vb_n == 1000 else ["--max-combos", str(vb_n)]),
                pair="bt2v", summary=summary_peer, scale=None if vb_n == 1000 else vb_scale,
                kill_mib=0.9 * avail),
            Row("py2", "backtesting.py 0.6.6",
                f"`Backtest.optimize(fast=[{BT_FAST}], slow=[{BT_SLOW}], "
                "constraint, maximize='SQN')`: a 20-combination SUBSET on its process pool, "
                "extrapolated to 1,000",
                [py, bt, "optimize", "--data", str(sweep_csv), "--fast-list", BT_FAST,
                 "--slow-list", BT_SLOW],
                pair="bt2", summary=summary_peer, scale=bt_scale),
        ]
        tables.append((f"2. Sweep of 1,000 `sma_cross` combinations (fast {FAST_GRID} × slow "
                       f"{SLOW_GRID}, fast < slow), {n_sweep:,} bars (CSV)", rows))

    # 3. The 1M-bar run written as JSON.
    if 3 in workloads:
        w = args.work
        rows = [
            Row("bt3", "Backtide", "`run --json > out.json`: one document with `stats` (every "
                "statistic), `trades` (closed), `open_trades`, `equity` (per bar: time, equity, "
                "drawdown), `warnings`, `profile`, `strategy`",
                [exe, "run", "--data", str(run_csv), *common, "--json"],
                stdout_file=w / "backtide.json", summary=summary_backtide_json(w / "backtide.json")),
            Row("bt3v", "Backtide", "the same with `--profile vectorbt --param direction=long_only`",
                [exe, "run", "--data", str(run_csv), *common, *vbt_sem, "--json"],
                stdout_file=w / "backtide_vbt.json",
                summary=summary_backtide_json(w / "backtide_vbt.json")),
            Row("py3", "backtesting.py 0.6.6", "`run()`, then one file `{stats, equity, trades}` "
                "from pandas `to_json`: the `stats` Series less its `_strategy`/`_equity_curve`/"
                "`_trades` entries; `stats._equity_curve` (per bar: Equity, DrawdownPct, "
                "DrawdownDuration; orient='split'); `stats._trades` (closed trades, records)",
                [py, bt, "json", "--data", str(run_csv), "--out", str(w / "backtesting_py.json")],
                pair="bt3", summary=summary_peer_json(w / "backtesting_py.json")),
            Row("vb3", "vectorbt 1.2.0", "`from_signals`, then one file `{stats, value, trades}` "
                "from pandas `to_json`: `pf.stats()`; `pf.value()` (per bar; orient='split'); "
                "`pf.trades.records_readable` (closed and open trades, records)",
                [py, vbt, "json", "--data", str(run_csv), "--out", str(w / "vectorbt.json")],
                pair="bt3v", summary=summary_peer_json(w / "vectorbt.json")),
        ]
        tables.append((f"3. Workload 1 written as JSON, {n_run:,} bars", rows))

    # Run: rep 1 of every row of a workload, then rep 2, ...
    t_all = time.perf_counter()
    for title, rows in tables:
        for rep in range(args.repeat):
            for row in rows:
                if row.cold:
                    with tempfile.TemporaryDirectory(prefix="numba-cold-") as cache:
                        r = measure(row.cmd, row.stdout_file,
                                    dict(os.environ, NUMBA_CACHE_DIR=cache))
                else:
                    r = measure(row.cmd, row.stdout_file, kill_mib=row.kill_mib)
                r["check"] = row.summary(r) if row.summary else ""
                if row.scale:
                    r["scaled"] = row.scale(r)
                row.runs.append(r)
                print(f"  [{title[:2]} rep {rep + 1}] {row.tool}: {r['wall']:.2f} s, "
                      f"{r['rss']:.0f} MiB" + (f" (extrapolated {r['scaled']:.1f} s)"
                                              if row.scale else ""), file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - t_all

    # Report.
    print(f"Medians of {args.repeat} interleaved runs per row; whole processes (wall clock "
          f"from fork to exit; CPU = user + system; peak RSS = the kernel's ru_maxrss via GNU "
          f"time, i.e. the largest process of the command's tree). Ratios: peer / the Backtide row with the "
          f"same semantics (backtesting.py vs row a, vectorbt vs row b).\n")
    for title, rows in tables:
        by_key = {r.key: r for r in rows}
        print(f"### {title}\n")
        print("| row | tool | what runs | wall s | CPU s | peak RSS MiB | time ratio | RSS ratio "
              "| result (last run) |")
        print("|---|---|---|--:|--:|--:|--:|--:|---|")
        for i, row in enumerate(rows):
            label = "abcdefgh"[i]
            wall = f"{row.med('wall'):.2f}"
            rss = f"{row.med('rss'):.0f}"
            t_eff, rss_eff = row.med("wall"), row.med("rss")
            if row.scale:
                t_eff = statistics.median(r["scaled"] for r in row.runs)
                wall = f"{row.med('wall'):.2f} measured → **{t_eff:.1f}** for 1,000"
                if row.key == "vb2":
                    # RSS grows about linearly with the columns: scale it by the probe slope.
                    rss_eff = row.med("rss") + slope * (1000 - vb_n)
                    rss = f"{row.med('rss'):.0f} measured → ~{rss_eff:.0f} for 1,000"
            tr = rr = "—"
            if row.pair:
                base = by_key[row.pair]
                tr = f"{t_eff / base.med('wall'):.1f}×"
                rr = f"{rss_eff / base.med('rss'):.1f}×"
                tr += f" (vs {'abcdefgh'[rows.index(base)]})"
            print(f"| {label} | {row.tool} | {row.what} | {wall} | {row.med('cpu'):.2f} | {rss} "
                  f"| {tr} | {rr} | {row.runs[-1]['check']} |")
        print()
        for row in rows:
            if any(r["procs"] > 1 for r in row.runs):
                print(f"- {row.tool}: a tree of up to {max(r['procs'] for r in row.runs)} "
                      f"processes; sum of their RSS (sampled every 0.1 s, shared pages counted "
                      f"in each) peaked at {statistics.median(r['tree_rss'] for r in row.runs):.0f}"
                      f" MiB (median); the table's RSS is the largest single process.")
            if row.tool != "Backtide" and row.runs and row.runs[0]["stdout"]:
                ph = [last_json(r["stdout"]) for r in row.runs]
                keys = [k for k in ph[0] if k.startswith("t_") and k != "t_total_s"]
                parts = ", ".join(f"{k[2:-2]} {statistics.median(x[k] for x in ph):.2f}"
                                  for k in keys)
                print(f"- {row.tool} row {'abcdefgh'[rows.index(row)]} in-process phases "
                      f"(s, medians): {parts}; in-process total "
                      f"{statistics.median(x['t_total_s'] for x in ph):.2f} (the rest of the wall "
                      f"time is interpreter start-up and exit)")
        if title.startswith("3."):
            print("- Number format: the peers' pandas `to_json` keeps its default "
                  "`double_precision=10` (10 digits after the decimal point, so prices and "
                  "equity are rounded); Backtide writes every float in shortest round-trip "
                  "form (the exact double). Sizes are of the last run's file.")
        if title.startswith("2."):
            print(f"- Grid: {len(grid(FAST_GRID))} fast × {len(grid(SLOW_GRID))} slow = "
                  f"{len(grid(FAST_GRID)) * len(grid(SLOW_GRID))} pairs, {len(combos)} with "
                  "fast < slow (dry count here; Backtide's own count, checked, is the same).")
            print(f"- {mem_note}")
            print("- backtesting.py extrapolation: wall − t_optimize + (t_optimize − the re-run "
                  "of the best) × 1000/20 + that re-run; the pool is one worker per core.")
        print()
    print(f"(measured part of this invocation: {elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
