"""Backtide's Python package against the CLI and the Python peers, same data, same run.

Each task runs in a child process of its own (peak RSS is the child's); figures are the
median of three runs. Run: `scripts/bench-python.sh` (release wheel, pinned peers)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "target" / "release" / "backtide"


def synthetic(n: int, seed: int) -> pd.DataFrame:
    """Fixed-seed minute bars: a random walk with consistent OHLC."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = np.r_[close[0], close[:-1]] * (1 + rng.normal(0, 0.0002, n))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.0005, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.0005, n)))
    idx = pd.date_range("2020-01-01", periods=n, freq="min")
    return pd.DataFrame({"Open": open_, "High": high, "Low": low, "Close": close,
                         "Volume": rng.integers(100, 10_000, n).astype(float)}, index=idx)


SMA_CROSS = """
import pandas as pd
from {pkg} import Backtest, Strategy
from {pkg}.lib import crossover

def SMA(v, n):
    return pd.Series(v).rolling(n).mean()

class SmaCross(Strategy):
    n1 = 10
    n2 = 30
    def init(self):
        self.sma1 = self.I(SMA, self.data.Close, self.n1)
        self.sma2 = self.I(SMA, self.data.Close, self.n2)
    def next(self):
        if crossover(self.sma1, self.sma2):
            self.position.close()
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()
            self.sell()
"""


def signals(c: pd.Series):
    f, s = c.rolling(10).mean(), c.rolling(30).mean()
    return (f > s) & (f.shift() <= s.shift()), (f < s) & (f.shift() >= s.shift())


def task(name: str, n: int) -> float:
    """Runs one task, returns its seconds (data preparation excluded)."""
    df = synthetic(n, 7)
    warnings.simplefilter("ignore")
    if name == "builtin":
        import backtide
        backtide.Backtest(df[:1000], "sma_cross").run()  # warm, as vectorbt below
        t = time.perf_counter()
        backtide.Backtest(df, "sma_cross", commission=0.001).run(fast=10, slow=30)
        return time.perf_counter() - t
    if name in ("py_backtide", "py_backtesting"):
        pkg = "backtide" if name == "py_backtide" else "backtesting"
        ns: dict = {}
        exec(SMA_CROSS.format(pkg=pkg), ns)
        t = time.perf_counter()
        ns["Backtest"](df, ns["SmaCross"], commission=0.001).run()
        return time.perf_counter() - t
    if name in ("sig_backtide", "sig_vectorbt"):
        e, x = signals(df.Close)
        if name == "sig_vectorbt":
            import vectorbt as vbt
            vbt.Portfolio.from_signals(df.Close[:1000], e[:1000], x[:1000], fees=0.001,
                                       freq="1min").stats()  # warm: compile first
            t = time.perf_counter()
            pf = vbt.Portfolio.from_signals(df.Close, e, x, fees=0.001, freq="1min")
            pf.stats()
            return time.perf_counter() - t
        import backtide
        backtide.from_signals(df.Close[:1000], e[:1000], x[:1000], fees=0.001).stats()  # warm
        t = time.perf_counter()
        pf = backtide.from_signals(df.Close, e, x, fees=0.001)
        pf.stats()
        return time.perf_counter() - t
    if name == "sweep_python":
        import backtide
        t = time.perf_counter()
        backtide.sweep(df, "sma_cross", {"fast": range(1, 21), "slow": range(30, 521, 10)},
                       params={"direction": "long_short"}, commission=0.001, progress=False)
        return time.perf_counter() - t
    raise ValueError(name)


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(name: str, n: int):
    """(seconds, peak RSS in MB) of a task in its own process (the RSS includes the
    interpreter, pandas and the generated data)."""
    out = subprocess.run([sys.executable, __file__, "--task", name, str(n)],
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    r = json.loads(out)
    return r["seconds"], r["rss_mb"]


def cli(args: list[str]):
    """(seconds of the in-process phases after loading, whole-process seconds, peak RSS)."""
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "maxrss_kb %M", str(CLI), *args],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    whole = time.perf_counter() - t
    err = p.stderr
    if p.returncode != 0:
        raise RuntimeError(err)
    rss = next(float(l.split()[1]) / 1024 for l in err.splitlines() if l.startswith("maxrss_kb"))
    phases = {}
    for line in err.splitlines():
        if line.startswith("timings:"):
            for part in line[len("timings:"):].split(","):
                k, v, _ = part.split()
                phases[k] = float(v)
    return phases, whole, rss


def median3(f):
    runs = [f() for _ in range(3)]
    return tuple(statistics.median(r[i] for r in runs) for i in range(len(runs[0])))


def main():
    n_big, n_py, n_sweep = 1_000_000, 100_000, 100_000
    if "--quick" in sys.argv:
        n_big, n_py, n_sweep = 100_000, 20_000, 20_000
    tmp = Path(tempfile.mkdtemp())
    for n in {n_big, n_sweep}:
        synthetic(n, 7).to_parquet(tmp / f"bars{n}.parquet")
    rows = []
    # `--only builtin|python|signals|sweep` runs one workload.
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None

    def wanted(name: str) -> bool:
        return only in (None, name)

    if wanted("builtin"):
        builtin(n_big, tmp, rows)
    if wanted("python"):
        python_strategy(n_py, rows)
    if wanted("signals"):
        signals_row(n_big, rows)
    if wanted("sweep"):
        sweep_row(n_sweep, tmp, rows)
    for r in rows:
        print(" | ".join(r))


def builtin(n_big: int, tmp: Path, rows: list) -> None:
    s_py, rss_py = median3(lambda: child("builtin", n_big))
    # The CLI's in-process time (`--timings` total: the Parquet read, the run and the
    # statistics, without process start-up) and its run and statistics alone.
    total, phases, _, rss_cli = median3(lambda: (lambda r: (
        r[0]["total"], r[0]["run"] + r[0]["output"], r[1], r[2]))(
        cli(["run", "--data", str(tmp / f"bars{n_big}.parquet"), "--strategy", "sma_cross",
             "--param", "fast=10", "--param", "slow=30", "--commission", "0.001",
             "--timings"])))
    rows.append((f"built-in sma_cross, {n_big:,} bars", f"{s_py:.3f} s from Python "
                 f"({n_big / s_py / 1e6:.1f} M bars/s, {rss_py:.0f} MB)",
                 f"CLI in-process {total:.3f} s (run + statistics alone {phases:.3f} s)",
                 f"{s_py / total:.2f}x (target <= 1.3x); {s_py / phases:.2f}x the run + statistics"))


def python_strategy(n_py: int, rows: list) -> None:
    s_b, rss_b = median3(lambda: child("py_backtide", n_py))
    s_t, rss_t = median3(lambda: child("py_backtesting", n_py))
    rows.append((f"Python SmaCross (crossover twice a bar), {n_py:,} bars",
                 f"backtide {s_b:.2f} s ({n_py / s_b / 1e3:.0f} k bars/s, {rss_b:.0f} MB)",
                 f"backtesting.py {s_t:.2f} s ({n_py / s_t / 1e3:.0f} k bars/s, {rss_t:.0f} MB)",
                 f"{s_t / s_b:.1f}x faster (target >= 3x)"))


def signals_row(n_big: int, rows: list) -> None:
    s_b, rss_b = median3(lambda: child("sig_backtide", n_big))
    s_v, rss_v = median3(lambda: child("sig_vectorbt", n_big))
    rows.append((f"from_signals + stats(), {n_big:,} bars",
                 f"backtide {s_b:.3f} s ({rss_b:.0f} MB)",
                 f"vectorbt 1.2 warm {s_v:.3f} s ({rss_v:.0f} MB)",
                 f"{s_v / s_b:.1f}x faster, {rss_v / rss_b:.1f}x less memory (target >= 5x)"))


def sweep_row(n_sweep: int, tmp: Path, rows: list) -> None:
    s_p, rss_p = median3(lambda: child("sweep_python", n_sweep))
    whole, rss_c = median3(lambda: cli([
        "sweep", "--data", str(tmp / f"bars{n_sweep}.parquet"), "--strategy", "sma_cross",
        "--grid", "fast=1:20:1", "--grid", "slow=30:520:10", "--param", "direction=long_short",
        "--commission", "0.001"])[1:])
    combos = 20 * 50
    rows.append((f"sweep, {combos:,} combinations x {n_sweep:,} bars",
                 f"Python {s_p:.2f} s ({combos * n_sweep / s_p / 1e6:.0f} M bar·combos/s, {rss_p:.0f} MB)",
                 f"backtide sweep (whole process) {whole:.2f} s ({rss_c:.0f} MB)",
                 f"{s_p / whole:.2f}x (target <= 1.2x)"))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--task":
        secs = task(sys.argv[2], int(sys.argv[3]))
        print(json.dumps({"seconds": secs, "rss_mb": peak_rss_mb()}))
    else:
        main()
