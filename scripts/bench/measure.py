#!/usr/bin/env python3
"""Whole-process wall time and peak RSS of vbt_portfolio.py on synthetic universes.

Stand-alone counterpart of what `cargo bench -p backtide-cli --bench portfolio` measures
for the vectorbt peer: each run is a fresh process, timed from the outside with
os.wait4 (wall clock around fork/exec; the child's own user+system CPU time and
ru_maxrss), so no /usr/bin/time is needed. CPU time is the steadier figure on a shared
machine. Every workload runs in three modes:

- ``cached``: a plain run; numba's on-disk cache in the venv is already primed (the state
  every timed process of the Rust bench sees after the first one);
- ``warmup``: the same with --warmup, so t_sim_s / t_stats_s are warm in-process and
  t_warmup_* hold the one-off compile / cache-load cost;
- ``cold``: a plain run with NUMBA_CACHE_DIR pointing at an empty folder (a first-ever
  run: everything numba compiles, it compiles now).

Usage:
    python scripts/bench/measure.py [--repeat 3] [--engines rust numba] [--out FILE.jsonl]
Universes are generated with gen_universe.py into /tmp when missing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

UNIVERSES = {
    # name: (folder, gen_universe.py arguments)
    "daily_500x2520": ("/tmp/bt_u500d", ["--assets", "500", "--bars", "2520", "--calendar", "daily"]),
    "minute_50x100k": ("/tmp/bt_u50m", ["--assets", "50", "--bars", "100000", "--calendar", "minute"]),
}

WORKLOADS = [
    # (universe, label, strategy arguments)
    ("daily_500x2520", "equal_weight monthly", ["equal_weight", "--rebalance", "monthly"]),
    ("daily_500x2520", "momentum L=126 top=50 monthly",
     ["momentum_rotation", "--lookback", "126", "--top", "50", "--rebalance", "monthly"]),
    ("minute_50x100k", "equal_weight monthly", ["equal_weight", "--rebalance", "monthly"]),
    ("minute_50x100k", "momentum L=1950 top=5 monthly",
     ["momentum_rotation", "--lookback", "1950", "--top", "5", "--rebalance", "monthly"]),
]


def run_once(cmd: list[str], env: dict[str, str]) -> dict:
    """One child process: wall seconds, peak RSS (MiB) and its JSON line."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    # wait4 reports the child's resource usage; read the pipes first so it cannot block.
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.decode()[-3000:]}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mib": usage.ru_maxrss / 1024.0, "result": result}


def main() -> int:
    p = argparse.ArgumentParser(description="time vbt_portfolio.py as whole processes")
    p.add_argument("--python", default=sys.executable, help="interpreter with vectorbt")
    p.add_argument("--repeat", type=int, default=3, help="runs per mode (median reported)")
    p.add_argument("--engines", nargs="+", default=["rust", "numba"])
    p.add_argument("--modes", nargs="+", default=["cached", "warmup", "cold"])
    p.add_argument("--out", type=Path, help="also append every run as a JSON line here")
    args = p.parse_args()

    for folder, gen_args in UNIVERSES.values():
        if not Path(folder).is_dir():
            subprocess.run([args.python, str(HERE / "gen_universe.py"), folder, *gen_args],
                           check=True)

    script = str(HERE / "vbt_portfolio.py")
    header = ("| universe | strategy | engine | mode | wall s | CPU s | peak RSS MiB | import | load "
              "| weights | warmup sim+stats | sim | stats | orders |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for uni, label, strat in WORKLOADS:
        folder = UNIVERSES[uni][0]
        for engine in args.engines:
            for mode in args.modes:
                runs = []
                for _ in range(args.repeat):
                    env = dict(os.environ)
                    cmd = [args.python, script, folder, *strat, "--engine", engine]
                    if mode == "warmup":
                        cmd.append("--warmup")
                    with tempfile.TemporaryDirectory() as cache:
                        if mode == "cold":
                            env["NUMBA_CACHE_DIR"] = cache
                        r = run_once(cmd, env)
                    r.update(universe=uni, strategy=label, engine=engine, mode=mode)
                    runs.append(r)
                    if args.out:
                        with args.out.open("a") as f:
                            f.write(json.dumps(r) + "\n")
                med = lambda key: statistics.median(x["result"].get(key, float("nan")) for x in runs)  # noqa: E731
                warm = (med("t_warmup_sim_s") + med("t_warmup_stats_s")) if mode == "warmup" else None
                print(f"| {uni} | {label} | {engine} | {mode} "
                      f"| {statistics.median(x['wall_s'] for x in runs):.2f} "
                      f"| {statistics.median(x['cpu_s'] for x in runs):.2f} "
                      f"| {statistics.median(x['peak_rss_mib'] for x in runs):.0f} "
                      f"| {med('t_import_s'):.2f} | {med('t_load_s'):.2f} | {med('t_weights_s'):.3f} "
                      f"| {'' if warm is None else f'{warm:.2f}'} "
                      f"| {med('t_sim_s'):.2f} | {med('t_stats_s'):.2f} "
                      f"| {runs[0]['result']['orders']} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
