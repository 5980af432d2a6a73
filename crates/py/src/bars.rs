//! Bars from numpy columns, validated by the engine's own rules.

use std::sync::Arc;

use backtide_core::Bars;
use numpy::PyReadonlyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Validated OHLCV bars (nanosecond UTC timestamps).
#[pyclass(name = "Bars", frozen, module = "backtide._backtide")]
pub(crate) struct PyBars {
    pub(crate) bars: Arc<Bars>,
}

#[pymethods]
impl PyBars {
    /// Copies and validates the columns; an error names the first bad row, its column,
    /// value and rule.
    #[new]
    #[pyo3(signature = (time_ns, open, high, low, close, volume))]
    fn new(
        time_ns: PyReadonlyArray1<'_, i64>,
        open: PyReadonlyArray1<'_, f64>,
        high: PyReadonlyArray1<'_, f64>,
        low: PyReadonlyArray1<'_, f64>,
        close: PyReadonlyArray1<'_, f64>,
        volume: PyReadonlyArray1<'_, f64>,
    ) -> PyResult<Self> {
        let bars = Bars::try_new(
            time_ns.as_array().to_vec(),
            open.as_array().to_vec(),
            high.as_array().to_vec(),
            low.as_array().to_vec(),
            close.as_array().to_vec(),
            volume.as_array().to_vec(),
        )
        .map_err(|e| PyValueError::new_err(format!("data: {e}")))?;
        Ok(PyBars {
            bars: Arc::new(bars),
        })
    }

    fn __len__(&self) -> usize {
        self.bars.len()
    }
}
