//! vectorbt-style runs from arrays: orders given per bar and column (entries and exits,
//! or target weights), run through the shared-cash portfolio account (vectorbt 1.2's fill
//! rules; one column is one asset).

use backtide_core::portfolio::{
    self, CallSeq, Direction, Entry, EntrySize, ExitOf, FillAt, Intent, OrderPlan, PlanDriven,
    PlannedOrder, PortfolioConfig, PortfolioPlan, Side, StopLoss, Stops, TradeStatus,
};
use backtide_core::{Bars, Error, Universe};
use numpy::{IntoPyArray, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::result::stats_entries;
use crate::runs::value_error;

/// A plan decided up front.
struct Given(OrderPlan);

impl PortfolioPlan for Given {
    fn plan(&mut self, _: &Universe) -> Result<OrderPlan, Error> {
        Ok(std::mem::take(&mut self.0))
    }
}

/// What an order code means (see `backtide.vectorized`); `stops` go on entries.
fn intent(kind: i64, v: f64, stops: Stops) -> PyResult<Intent> {
    let size = |k: i64| match k {
        0 => EntrySize::AllCash,
        1 => EntrySize::Units(v),
        2 => EntrySize::Value(v),
        _ => EntrySize::Percent(v),
    };
    let enter = |direction, k| {
        Intent::Enter(Entry {
            direction,
            size: size(k),
            stops,
        })
    };
    Ok(match kind {
        0 => Intent::TargetPercent(v),
        1..=4 => enter(Direction::Long, kind - 1),
        5 => Intent::Exit(ExitOf::Long),
        6 => Intent::TargetValue(v),
        7 => Intent::TargetUnits(v),
        8..=11 => enter(Direction::Short, kind - 8),
        12 => Intent::Exit(ExitOf::Short),
        13 => Intent::Exit(ExitOf::Any),
        other => return Err(PyValueError::new_err(format!("unknown order code {other}"))),
    })
}

/// The stops of order `j` from the per-order arrays (NaN = none).
fn stops_of(
    j: usize,
    sl: Option<&numpy::ndarray::ArrayView1<'_, f64>>,
    trail: Option<&numpy::ndarray::ArrayView1<'_, bool>>,
    tp: Option<&numpy::ndarray::ArrayView1<'_, f64>>,
) -> Stops {
    let some = |x: f64| (!x.is_nan()).then_some(x);
    Stops {
        stop_loss: sl.and_then(|a| some(a[j])).map(|fraction| StopLoss {
            fraction,
            trailing: trail.is_some_and(|t| t[j]),
        }),
        take_profit: tp.and_then(|a| some(a[j])),
    }
}

/// Runs the orders `(bar, column, code, value)` (sorted by bar, then column) on the
/// columns' closes, filling at the close with vectorbt's `from_orders` /
/// `from_signals` rules and one shared account. `opens`/`highs`/`lows` (with the same
/// NaNs as the closes) are the bars' other prices, where stops are checked (else the
/// close); `sl_stop`, `sl_trail` and `tp_stop` are per order (NaN = none) and go on
/// entries. Returns the value and cash per bar, the fills, the exit trades and
/// vectorbt's statistics.
#[pyfunction]
#[pyo3(signature = (time_ns, closes, bars, columns, codes, values, init_cash, fees, fixed_fees, slippage, call_seq, size_granularity=None, opens=None, highs=None, lows=None, sl_stop=None, sl_trail=None, tp_stop=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_orders<'py>(
    py: Python<'py>,
    time_ns: PyReadonlyArray1<'py, i64>,
    closes: Vec<PyReadonlyArray1<'py, f64>>,
    bars: PyReadonlyArray1<'py, i64>,
    columns: PyReadonlyArray1<'py, i64>,
    codes: PyReadonlyArray1<'py, i64>,
    values: PyReadonlyArray1<'py, f64>,
    init_cash: f64,
    fees: f64,
    fixed_fees: f64,
    slippage: f64,
    call_seq: &str,
    size_granularity: Option<f64>,
    opens: Option<Vec<PyReadonlyArray1<'py, f64>>>,
    highs: Option<Vec<PyReadonlyArray1<'py, f64>>>,
    lows: Option<Vec<PyReadonlyArray1<'py, f64>>>,
    sl_stop: Option<PyReadonlyArray1<'py, f64>>,
    sl_trail: Option<PyReadonlyArray1<'py, bool>>,
    tp_stop: Option<PyReadonlyArray1<'py, f64>>,
) -> PyResult<Bound<'py, PyDict>> {
    // The index as numpy holds it (one copy per column is made below, not two).
    let time_view = time_ns.as_array();
    let time: std::borrow::Cow<'_, [i64]> = match time_view.as_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(time_view.to_vec()),
    };
    let mut assets = Vec::new();
    fn other<'a, 'py>(
        given: &'a Option<Vec<PyReadonlyArray1<'py, f64>>>,
        k: usize,
        name: &str,
    ) -> PyResult<Option<numpy::ndarray::ArrayView1<'a, f64>>> {
        given
            .as_ref()
            .map(|v| {
                v.get(k)
                    .map(|a| a.as_array())
                    .ok_or_else(|| PyValueError::new_err(format!("{name}: no column {k}")))
            })
            .transpose()
    }
    for (k, c) in closes.iter().enumerate() {
        let c = c.as_array();
        let [o, h, l] = [
            other(&opens, k, "open")?,
            other(&highs, k, "high")?,
            other(&lows, k, "low")?,
        ];
        // A series on the rows where the close has a price (an asset that lists late or
        // has gaps has no bar there, as in vectorbt where its close is NaN). A column
        // without gaps is taken whole, without an index of the rows.
        let whole = !c.iter().any(|x| x.is_nan());
        let keep: Vec<usize> = if whole {
            Vec::new()
        } else {
            (0..c.len()).filter(|&i| !c[i].is_nan()).collect()
        };
        let pick = |x: numpy::ndarray::ArrayView1<'_, f64>| -> Vec<f64> {
            if whole {
                x.to_vec()
            } else {
                keep.iter().map(|&i| x[i]).collect()
            }
        };
        let t: Vec<i64> = if whole {
            time.to_vec()
        } else {
            keep.iter().map(|&i| time[i]).collect()
        };
        let p = pick(c);
        let bars = match (o, h, l) {
            // Without opens, highs and lows the bar is its close (fills are at the close):
            // one price column, no copies of it.
            (None, None, None) => Bars::try_from_close(t, p),
            (o, h, l) => {
                let [o, h, l] = [o, h, l].map(|x| x.map_or_else(|| p.clone(), pick));
                let n = t.len();
                Bars::try_new(t, o, h, l, p, vec![f64::NAN; n])
            }
        }
        .map_err(|e| PyValueError::new_err(format!("close: column {k}: {e}")))?;
        assets.push((format!("col{k}"), "close".to_string(), bars));
    }
    let universe = Universe::try_new(assets).map_err(|e| PyValueError::new_err(e.to_string()))?;
    // The universe's timeline is the bars on which some column has a price; an order on
    // another bar is ignored (vectorbt ignores orders at a NaN price).
    let union: &[i64] = universe.time();
    let (b, a, k, v) = (
        bars.as_array(),
        columns.as_array(),
        codes.as_array(),
        values.as_array(),
    );
    let (sl, trail, tp) = (
        sl_stop.as_ref().map(|x| x.as_array()),
        sl_trail.as_ref().map(|x| x.as_array()),
        tp_stop.as_ref().map(|x| x.as_array()),
    );
    for (name, len) in [
        ("sl_stop", sl.as_ref().map(|x| x.len())),
        ("sl_trail", trail.as_ref().map(|x| x.len())),
        ("tp_stop", tp.as_ref().map(|x| x.len())),
    ] {
        if len.is_some_and(|n| n != b.len()) {
            return Err(PyValueError::new_err(format!(
                "{name}: one value per order expected"
            )));
        }
    }
    let same_rows = union.len() == time.len();
    let mut orders = Vec::with_capacity(b.len());
    for j in 0..b.len() {
        let Some(&t) = time.get(b[j] as usize) else {
            return Err(PyValueError::new_err(format!(
                "order {j}: bar {} is past the data",
                b[j]
            )));
        };
        // Every bar has a price in some column (the usual case): the rows are the bars.
        let row = if same_rows {
            Ok(b[j] as usize)
        } else {
            union.binary_search(&t)
        };
        if let Ok(row) = row {
            orders.push(PlannedOrder {
                bar: row,
                asset: a[j] as usize,
                intent: intent(
                    k[j],
                    v[j],
                    stops_of(j, sl.as_ref(), trail.as_ref(), tp.as_ref()),
                )?,
            });
        }
    }
    let full_row = |row: usize| {
        if same_rows {
            row as i64
        } else {
            time.partition_point(|&x| x < union[row]) as i64
        }
    };
    let cfg = PortfolioConfig {
        cash: init_cash,
        fees,
        fixed_fees,
        slippage,
        size_granularity,
        call_seq: match call_seq {
            "auto" => CallSeq::Auto,
            "default" => CallSeq::Default,
            other => {
                return Err(PyValueError::new_err(format!(
                    "call_seq: expected 'default' or 'auto', got {other:?}"
                )));
            }
        },
        fill: FillAt::Close,
    };
    let mut strategy = PlanDriven::new(Given(OrderPlan { orders }));
    let (res, trades, stats) = py
        .detach(|| {
            let res = portfolio::run(&universe, &mut strategy, &cfg)?;
            let trades = portfolio::exit_trades(&universe, &res);
            let stats = portfolio::stats::vectorbt(&universe, &res, &trades);
            Ok::<_, Error>((res, trades, stats))
        })
        .map_err(value_error)?;
    let d = PyDict::new(py);
    d.set_item("stats", stats_entries(py, stats.entries())?)?;
    let f = &res.fills;
    let fills = PyDict::new(py);
    fills.set_item(
        "bar",
        f.iter()
            .map(|x| full_row(x.bar))
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    fills.set_item(
        "column",
        f.iter()
            .map(|x| x.asset as i64)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    fills.set_item(
        "size",
        f.iter()
            .map(|x| x.size)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    fills.set_item(
        "price",
        f.iter()
            .map(|x| x.price)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    fills.set_item(
        "fees",
        f.iter()
            .map(|x| x.fees)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    fills.set_item(
        "side",
        f.iter()
            .map(|x| matches!(x.side, Side::Sell) as i64)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    d.set_item("orders", fills)?;
    let t = PyDict::new(py);
    t.set_item(
        "column",
        trades
            .iter()
            .map(|x| x.asset as i64)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    t.set_item(
        "size",
        trades
            .iter()
            .map(|x| x.size)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    t.set_item(
        "entry_idx",
        trades
            .iter()
            .map(|x| full_row(x.entry_bar))
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    t.set_item(
        "exit_idx",
        trades
            .iter()
            .map(|x| full_row(x.exit_bar))
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    t.set_item(
        "entry_price",
        trades
            .iter()
            .map(|x| x.entry_price)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    t.set_item(
        "exit_price",
        trades
            .iter()
            .map(|x| x.exit_price)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    t.set_item(
        "entry_fees",
        trades
            .iter()
            .map(|x| x.entry_fees)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    t.set_item(
        "exit_fees",
        trades
            .iter()
            .map(|x| x.exit_fees)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    t.set_item(
        "pnl",
        trades
            .iter()
            .map(|x| x.pnl())
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    t.set_item(
        "return",
        trades
            .iter()
            .map(|x| x.return_frac())
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    t.set_item(
        "direction",
        trades
            .iter()
            .map(|x| matches!(x.direction, Direction::Short) as i64)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    t.set_item(
        "status",
        trades
            .iter()
            .map(|x| matches!(x.status, TradeStatus::Closed) as i64)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    d.set_item("trades", t)?;
    // Value and cash on every bar of the data: the initial cash before the first bar of
    // the timeline, the last value on bars without a price.
    let expand = |on_union: Vec<f64>| {
        if union.len() == time.len() {
            // Every bar has a price somewhere: the timeline is the data's.
            return on_union;
        }
        let mut out = vec![init_cash; time.len()];
        let mut r = 0;
        for i in 0..time.len() {
            if r < union.len() && union[r] == time[i] {
                out[i] = on_union[r];
                r += 1;
            } else if i > 0 {
                out[i] = out[i - 1];
            }
        }
        out
    };
    d.set_item("cash", expand(res.cash).into_pyarray(py))?;
    d.set_item("value", expand(res.value).into_pyarray(py))?;
    Ok(d)
}
