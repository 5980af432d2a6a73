//! `backtide._backtide`: the engine for Python. Columns cross as numpy arrays (read in,
//! owned buffers out), every run releases the GIL while Rust works, and a strategy
//! written in Python runs bar by bar through the same broker as the built-ins (see
//! [`bridge`]). The Python package (`python/backtide/`) builds the backtesting.py- and
//! vectorbt-shaped API on top of these functions.

use pyo3::prelude::*;

mod bars;
mod bridge;
mod config;
mod result;
mod runs;
mod ta;
mod vectorized;

/// The module.
#[pymodule]
fn _backtide(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<bars::PyBars>()?;
    m.add_function(wrap_pyfunction!(runs::run_builtin, m)?)?;
    m.add_function(wrap_pyfunction!(runs::run_python, m)?)?;
    m.add_function(wrap_pyfunction!(runs::run_sweep, m)?)?;
    m.add_function(wrap_pyfunction!(runs::strategies, m)?)?;
    m.add_function(wrap_pyfunction!(ta::indicator, m)?)?;
    m.add_function(wrap_pyfunction!(ta::indicator_names, m)?)?;
    m.add_function(wrap_pyfunction!(runs::report_html, m)?)?;
    m.add_function(wrap_pyfunction!(vectorized::run_orders, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
