"""The README's Python example runs verbatim (from the repository root)."""

from __future__ import annotations

import os
import re

from conftest import ROOT


def test_readme_python_example_runs(tmp_path):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Python: `from backtide import Backtest`")[1].split("\n## ")[0]
    code = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(code) == 1
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        ns: dict = {}
        exec(compile(code[0], "README.md", "exec"), ns)
    finally:
        os.chdir(cwd)
        (ROOT / "sma_cross.html").unlink(missing_ok=True)
    assert ns["stats"]["# Trades"] == 93
    assert abs(ns["stats"]["Return [%]"] - 462.6351934) < 1e-6
    assert ns["best"]["Equity Final [$]"] >= ns["stats"]["Equity Final [$]"] * 0.9
    assert len(ns["sweep"]) > 50 and ns["sweep"].attrs["overfitting"] is not None
    assert ns["rsi"]["# Trades"] > 0
    assert len(ns["windows"]) == 6
    assert len(ns["pf"].trades) > 10
