"""Backtide: fast backtesting with backtesting.py's and vectorbt's semantics, in Rust.

    from backtide import Backtest, Strategy
    from backtide.lib import crossover

A backtesting.py user changes one import: `Backtest`, `Strategy` and `backtide.lib` take
the same arguments and give the same trades and statistics, faster.
"""

from ._backtide import __version__
from .backtest import Backtest, strategies
from .strategy import Strategy
from .sweep import sweep
from .vectorized import Portfolio, from_orders, from_signals
from . import lib, ta

__all__ = ["Backtest", "Strategy", "lib", "ta", "sweep", "strategies", "from_signals",
           "from_orders", "Portfolio", "__version__"]
