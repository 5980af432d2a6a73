//! A strategy written in Python, run bar by bar through the Rust broker.
//!
//! The Python side (`backtide.Strategy`) records what `next` asks for (orders, closes,
//! SL/TP changes, cancels) and the bridge applies it to the broker when `next` returns:
//! backtesting.py processes orders placed in `next` only at the following fills, so the
//! order of effects is the same. Before each call the bridge hands over what `next` may
//! read: the bar, equity, open trades, pending orders and the trades closed since the
//! last call.

use backtide_core::{Context, Error, Init, OrderRequest, Strategy};
use numpy::PyReadonlyArray1;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

/// Bars between two checks for Ctrl-C.
const SIGNAL_CHECK: usize = 4096;

pub(crate) struct Bridge {
    obj: Py<PyAny>,
    error: Option<PyErr>,
    /// Closed trades already handed to Python.
    closed_sent: usize,
    calls: usize,
    /// What the open trades and pending orders looked like when last handed over (they
    /// are resent only when it changes or `next` acted: most bars change nothing).
    sent: Option<Fingerprint>,
}

/// A cheap summary of the broker's open trades and pending orders.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Fingerprint {
    trades: usize,
    last_trade: Option<u64>,
    units: f64,
    orders: usize,
    last_order: Option<u64>,
    stops: usize,
}

impl Fingerprint {
    fn of(ctx: &Context<'_>) -> Fingerprint {
        Fingerprint {
            trades: ctx.trades().len(),
            last_trade: ctx.trades().last().map(|t| t.id().get()),
            units: ctx.trades().iter().map(|t| t.size).sum(),
            orders: ctx.orders().len(),
            last_order: ctx.orders().last().map(|o| o.id().get()),
            stops: ctx.orders().iter().filter(|o| o.stop.is_some()).count(),
        }
    }
}

type TradeRow = (
    u64,
    f64,
    f64,
    usize,
    Option<f64>,
    Option<f64>,
    Option<String>,
);
type OrderRow = (
    u64,
    f64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<String>,
    Option<u64>,
);
/// `("order", signed size, limit, stop, sl, tp, tag)` from `Strategy.buy/sell`.
type OrderAction = (
    String,
    f64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<String>,
);
type ClosedRow = (
    f64,
    usize,
    usize,
    f64,
    f64,
    Option<f64>,
    Option<f64>,
    f64,
    f64,
    Option<String>,
);

impl Bridge {
    pub(crate) fn new(obj: Py<PyAny>) -> Self {
        Bridge {
            obj,
            error: None,
            closed_sent: 0,
            calls: 0,
            sent: None,
        }
    }

    /// The Python exception that stopped the run, if one did.
    pub(crate) fn take_error(&mut self) -> Option<PyErr> {
        self.error.take()
    }

    fn fail(&mut self, e: PyErr) -> Error {
        let text = e.to_string();
        self.error = Some(e);
        Error::Strategy(text)
    }

    fn apply(ctx: &mut Context<'_>, actions: &Bound<'_, PyList>) -> PyResult<Vec<u64>> {
        let mut placed = Vec::new();
        let engine = |e: Error| pyo3::exceptions::PyValueError::new_err(e.to_string());
        for a in actions.iter() {
            let a = a.cast_into::<PyTuple>()?;
            let kind: String = a.get_item(0)?.extract()?;
            match kind.as_str() {
                "order" => {
                    let (_, size, limit, stop, sl, tp, tag): OrderAction = a.extract()?;
                    let req = OrderRequest {
                        size: Some(size.abs()),
                        limit,
                        stop,
                        sl,
                        tp,
                        tag,
                        ..OrderRequest::default()
                    };
                    let id = if size > 0.0 {
                        ctx.buy_with(req)
                    } else {
                        ctx.sell_with(req)
                    }
                    .map_err(engine)?;
                    placed.push(id.get());
                }
                "close_position" => {
                    let (_, portion): (String, f64) = a.extract()?;
                    ctx.close_position_portion(portion);
                }
                "close_trade" | "sl" | "tp" => {
                    let (_, id, value): (String, u64, Option<f64>) = a.extract()?;
                    let Some(t) = ctx.trades().iter().find(|t| t.id().get() == id) else {
                        continue;
                    };
                    let t = t.id();
                    match kind.as_str() {
                        "close_trade" => ctx.close_trade(t, value.unwrap_or(1.0)),
                        "sl" => ctx.set_sl(t, value).map_err(engine)?,
                        _ => ctx.set_tp(t, value).map_err(engine)?,
                    }
                }
                "cancel" => {
                    let (_, id): (String, u64) = a.extract()?;
                    if let Some(o) = ctx.orders().iter().find(|o| o.id().get() == id) {
                        let o = o.id();
                        ctx.cancel(o);
                    }
                }
                other => {
                    return Err(pyo3::exceptions::PyValueError::new_err(format!(
                        "unknown strategy action {other:?}"
                    )));
                }
            }
        }
        Ok(placed)
    }
}

impl Strategy for Bridge {
    fn init(&mut self, ctx: &mut Init<'_>) -> Result<(), Error> {
        let n = ctx.bars().len();
        let got = Python::attach(|py| -> PyResult<()> {
            let inds = self.obj.bind(py).call_method0("_bt_init")?;
            for item in inds.try_iter()? {
                let (name, values): (String, PyReadonlyArray1<'_, f64>) = item?.extract()?;
                let values = values.as_array().to_vec();
                if values.len() != n {
                    return Err(pyo3::exceptions::PyValueError::new_err(format!(
                        "self.I: indicator {name:?} has {} values for {n} bars",
                        values.len()
                    )));
                }
                ctx.indicator(name, values);
            }
            Ok(())
        });
        got.map_err(|e| self.fail(e))
    }

    fn next(&mut self, ctx: &mut Context<'_>) -> Result<(), Error> {
        self.calls += 1;
        let check = self.calls.is_multiple_of(SIGNAL_CHECK);
        let closed_from = self.closed_sent;
        let now = Fingerprint::of(ctx);
        let resend = self.sent != Some(now);
        let got = Python::attach(|py| -> PyResult<(usize, bool)> {
            if check {
                py.check_signals()?;
            }
            let trades: Option<Vec<TradeRow>> = resend.then(|| {
                ctx.trades()
                    .iter()
                    .map(|t| {
                        (
                            t.id().get(),
                            t.size,
                            t.entry_price,
                            t.entry_bar,
                            t.sl,
                            t.tp,
                            t.tag.clone(),
                        )
                    })
                    .collect()
            });
            let orders: Option<Vec<OrderRow>> = resend.then(|| {
                ctx.orders()
                    .iter()
                    .map(|o| {
                        (
                            o.id().get(),
                            o.size,
                            o.limit,
                            o.stop,
                            o.sl,
                            o.tp,
                            o.tag.clone(),
                            o.parent_trade().map(|t| t.get()),
                        )
                    })
                    .collect()
            });
            let new_closed = &ctx.closed_trades()[closed_from..];
            let closed: Option<Vec<ClosedRow>> = (!new_closed.is_empty()).then(|| {
                new_closed
                    .iter()
                    .map(|t| {
                        (
                            t.size,
                            t.entry_bar,
                            t.exit_bar,
                            t.entry_price,
                            t.exit_price,
                            t.sl,
                            t.tp,
                            t.pnl(),
                            t.commission,
                            t.tag.clone(),
                        )
                    })
                    .collect()
            });
            let n_closed = ctx.closed_trades().len();
            let obj = self.obj.bind(py);
            let actions = obj.call_method1(
                "_bt_next",
                (ctx.index(), ctx.equity(), trades, orders, closed),
            )?;
            let actions = actions.cast_into::<PyList>()?;
            let acted = !actions.is_empty();
            if acted {
                let placed = Self::apply(ctx, &actions)?;
                if !placed.is_empty() {
                    obj.call_method1("_bt_placed", (placed,))?;
                }
            }
            Ok((n_closed, acted))
        });
        match got {
            Ok((n, acted)) => {
                self.closed_sent = n;
                // After an action the broker's state differs from what Python holds (new
                // orders, moved stops): resend on the next bar.
                self.sent = (!acted).then_some(now);
                Ok(())
            }
            Err(e) => Err(self.fail(e)),
        }
    }
}
