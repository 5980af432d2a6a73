//! Broker settings from Python keyword arguments, named as in backtesting.py's `Backtest`.

use backtide_core::{BrokerConfig, Commission, Profile};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// A `BrokerConfig` from `cash`, `spread`, `commission` (a rate, or `(fixed, rate)`),
/// `margin`, `trade_on_close`, `hedging`, `exclusive_orders`, `finalize_trades`,
/// `fractional_unit`, and `profile` (`backtesting_py` | `vectorbt`); unknown keys are an
/// error naming them.
pub(crate) fn broker(kw: &Bound<'_, PyDict>) -> PyResult<(BrokerConfig, Profile)> {
    let mut cfg = BrokerConfig::default();
    let mut profile = Profile::BacktestingPy;
    for (k, v) in kw.iter() {
        let key: String = k.extract()?;
        let num = |v: &Bound<'_, PyAny>| -> PyResult<f64> {
            v.extract::<f64>()
                .map_err(|_| PyTypeError::new_err(format!("{key}: expected a number, got {v}")))
        };
        let flag = |v: &Bound<'_, PyAny>| -> PyResult<bool> {
            v.extract::<bool>().map_err(|_| {
                PyTypeError::new_err(format!("{key}: expected True or False, got {v}"))
            })
        };
        match key.as_str() {
            "cash" => cfg.cash = num(&v)?,
            "spread" => cfg.spread = num(&v)?,
            "margin" => cfg.margin = num(&v)?,
            "slippage" => cfg.slippage = num(&v)?,
            "trade_on_close" => cfg.trade_on_close = flag(&v)?,
            "hedging" => cfg.hedging = flag(&v)?,
            "exclusive_orders" => cfg.exclusive_orders = flag(&v)?,
            "finalize_trades" => cfg.finalize_trades = flag(&v)?,
            "fractional_unit" => {
                cfg.fractional_unit = if v.is_none() { None } else { Some(num(&v)?) }
            }
            "commission" => {
                cfg.commission = if let Ok(rate) = v.extract::<f64>() {
                    if rate == 0.0 {
                        Commission::None
                    } else {
                        Commission::Relative(rate)
                    }
                } else if let Ok((fixed, rate)) = v.extract::<(f64, f64)>() {
                    Commission::FixedPlusRelative { fixed, rate }
                } else {
                    return Err(PyTypeError::new_err(format!(
                        "commission: expected a rate or a (fixed, rate) pair, got {v}"
                    )));
                }
            }
            "profile" => {
                let p: String = v.extract()?;
                profile = match p.as_str() {
                    "backtesting_py" => Profile::BacktestingPy,
                    "vectorbt" => Profile::Vectorbt,
                    other => {
                        return Err(PyValueError::new_err(format!(
                            "profile: expected 'backtesting_py' or 'vectorbt', got {other:?}"
                        )));
                    }
                }
            }
            other => {
                return Err(PyTypeError::new_err(format!(
                    "unexpected broker argument {other:?}"
                )));
            }
        }
    }
    let cfg = profile
        .configure(cfg)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok((cfg, profile))
}
