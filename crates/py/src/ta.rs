//! The engine's indicators on numpy arrays (`backtide.ta`), the same functions as the
//! rule language's, so `self.I(backtide.ta.sma, close, 20)` is the built-ins' SMA.

use backtide_core::rules::FUNCTIONS;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

/// The indicator functions' names and signatures.
#[pyfunction]
pub(crate) fn indicator_names() -> Vec<(&'static str, String, &'static str)> {
    FUNCTIONS
        .iter()
        .filter(|f| f.registered)
        .map(|f| (f.name, f.signature(), f.doc))
        .collect()
}

/// `name(series…, numbers…)`: an indicator over 1-D float arrays, through the rule
/// language's evaluator (series arguments first, then windows and numbers).
#[pyfunction]
#[pyo3(signature = (name, series, numbers))]
pub(crate) fn indicator<'py>(
    py: Python<'py>,
    name: &str,
    series: Vec<PyReadonlyArray1<'py, f64>>,
    numbers: Vec<f64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    // The arrays themselves, read in place (the Python side makes them contiguous).
    let cols: Vec<&[f64]> = series
        .iter()
        .map(|a| {
            a.as_slice().map_err(|_| {
                PyValueError::new_err(format!("{name}: expected contiguous float arrays"))
            })
        })
        .collect::<PyResult<_>>()?;
    let n = cols.first().map_or(0, |c| c.len());
    if cols.iter().any(|c| c.len() != n) {
        return Err(PyValueError::new_err(format!(
            "{name}: the series have different lengths"
        )));
    }
    let out = py
        .detach(|| backtide_core::rules::call_indicator(name, &cols, &numbers))
        .map_err(|e| PyTypeError::new_err(e.to_string()))?;
    Ok(out.into_pyarray(py))
}
