"""Type stubs of the Rust extension module (see crates/py)."""

from typing import Any, Callable, Optional

import numpy as np
import numpy.typing as npt

__version__: str

class Bars:
    def __init__(
        self,
        time_ns: npt.NDArray[np.int64],
        open: npt.NDArray[np.float64],
        high: npt.NDArray[np.float64],
        low: npt.NDArray[np.float64],
        close: npt.NDArray[np.float64],
        volume: Optional[npt.NDArray[np.float64]],
        *,
        frozen: Any = None,
    ) -> None: ...
    def __len__(self) -> int: ...
    def _lent_columns(self) -> int: ...

def run_builtin(bars: Bars, name: str, params: list[tuple[str, str]], **broker: Any) -> dict[str, Any]: ...
def run_python(bars: Bars, strategy: Any, report_title: Optional[str] = None, **broker: Any) -> dict[str, Any]: ...
def run_sweep(
    bars: Bars,
    name: str,
    fixed: list[tuple[str, str]],
    grid: list[tuple[str, str]],
    constraint: Optional[str] = None,
    maximize: str = "sqn",
    minimize: bool = False,
    method: str = "grid",
    samples: int = 0,
    seed: int = 0,
    threads: int = 0,
    pbo_blocks: int = 16,
    progress: Optional[Callable[[int, int], Any]] = None,
    walk_forward: Optional[str] = None,
    **broker: Any,
) -> dict[str, Any]: ...
def run_orders(
    time_ns: npt.NDArray[np.int64],
    closes: list[npt.NDArray[np.float64]],
    bars: npt.NDArray[np.int64],
    columns: npt.NDArray[np.int64],
    codes: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    init_cash: float,
    fees: float,
    fixed_fees: float,
    slippage: float,
    call_seq: str,
    size_granularity: Optional[float] = None,
    opens: Optional[list[npt.NDArray[np.float64]]] = None,
    highs: Optional[list[npt.NDArray[np.float64]]] = None,
    lows: Optional[list[npt.NDArray[np.float64]]] = None,
    sl_stop: Optional[npt.NDArray[np.float64]] = None,
    sl_trail: Optional[npt.NDArray[np.bool_]] = None,
    tp_stop: Optional[npt.NDArray[np.float64]] = None,
) -> dict[str, Any]: ...
def strategies() -> list[tuple[str, str, list[tuple[str, str, str, str]]]]: ...
def indicator(name: str, series: list[npt.NDArray[np.float64]], numbers: list[float]) -> npt.NDArray[np.float64]: ...
def indicator_names() -> list[tuple[str, str, str]]: ...
def report_html(bars: Bars, name: str, params: list[tuple[str, str]], title: str, **broker: Any) -> str: ...
