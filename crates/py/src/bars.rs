//! Bars from numpy columns, validated by the engine's own rules.

use std::any::Any;
use std::sync::Arc;

use backtide_core::{Bars, Buffer};
use numpy::{Element, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Validated OHLCV bars (nanosecond UTC timestamps).
#[pyclass(name = "Bars", frozen, module = "backtide._backtide")]
pub(crate) struct PyBars {
    pub(crate) bars: Arc<Bars>,
    /// How many columns are read in place.
    lent: usize,
}

/// What keeps lent columns alive: the arrays and the frozen frame behind them.
struct Lender {
    _objects: Vec<Py<PyAny>>,
}

#[pymethods]
impl PyBars {
    /// Validates the columns; an error names the first bad row, its column, value and rule.
    ///
    /// The columns are copied, unless `frozen` is given: then the caller vouches that the
    /// arrays' memory belongs to `frozen` (a private shallow copy of a DataFrame under
    /// pandas' copy-on-write, which nobody writes to) and stays unchanged while it lives,
    /// and contiguous columns are read in place, kept alive with it. `volume=None`: no
    /// volume.
    #[new]
    #[pyo3(signature = (time_ns, open, high, low, close, volume, *, frozen=None))]
    fn new(
        time_ns: PyReadonlyArray1<'_, i64>,
        open: PyReadonlyArray1<'_, f64>,
        high: PyReadonlyArray1<'_, f64>,
        low: PyReadonlyArray1<'_, f64>,
        close: PyReadonlyArray1<'_, f64>,
        volume: Option<PyReadonlyArray1<'_, f64>>,
        frozen: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let lender: Option<Arc<dyn Any + Send + Sync>> = frozen.map(|f| {
            let mut objects = vec![f.unbind()];
            for a in [&open, &high, &low, &close]
                .into_iter()
                .chain(volume.as_ref())
            {
                objects.push(a.as_any().clone().unbind());
            }
            objects.push(time_ns.as_any().clone().unbind());
            Arc::new(Lender { _objects: objects }) as Arc<dyn Any + Send + Sync>
        });
        let (time, open, high, low, close) = (
            column(&time_ns, &lender),
            column(&open, &lender),
            column(&high, &lender),
            column(&low, &lender),
            column(&close, &lender),
        );
        let volume = volume.as_ref().map(|v| column(v, &lender));
        let lent = [&open, &high, &low, &close]
            .into_iter()
            .chain(volume.as_ref())
            .filter(|c| c.is_lent())
            .count()
            + usize::from(time.is_lent());
        let bars = Bars::try_from_buffers(time, open, high, low, close, volume)
            .map_err(|e| PyValueError::new_err(format!("data: {e}")))?;
        Ok(PyBars {
            bars: Arc::new(bars),
            lent,
        })
    }

    fn __len__(&self) -> usize {
        self.bars.len()
    }

    /// How many of the columns are read in place rather than copied (for tests).
    fn _lent_columns(&self) -> usize {
        self.lent
    }
}

/// The column read in place when there is a lender and the array is contiguous; copied
/// otherwise.
#[allow(
    unsafe_code,
    reason = "a frozen frame's columns are read in place: copying them was most of a run's time"
)]
fn column<T: Element + Copy + Sync>(
    a: &PyReadonlyArray1<'_, T>,
    lender: &Option<Arc<dyn Any + Send + Sync>>,
) -> Buffer<T> {
    match (lender, a.as_slice()) {
        // SAFETY: the slice is the array's memory, which the lender keeps alive (it holds
        // the array) and which the caller vouched nobody writes while the frozen frame lives.
        (Some(owner), Ok(s)) => unsafe { Buffer::lent(s.as_ptr(), s.len(), owner.clone()) },
        _ => a.as_array().to_vec().into(),
    }
}
