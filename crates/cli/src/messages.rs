//! What a single-asset run tells the user after its table: its warnings, repeated ones
//! collapsed into one line with the count, the first and last bar and the fix when it is
//! known, and why a run made no trades.
//!
//! `--json` keeps every warning's text unchanged (`warnings`); only the terminal lines are
//! written here, from [`RunResult::warning_details`].

use std::mem::discriminant;

use backtide_core::{Bars, BrokerConfig, ParamValue, Params, RunResult, RunWarning};

/// Prints [`warning_lines`] and [`zero_trades_note`] on stderr.
pub(crate) fn print(bars: &Bars, res: &RunResult, cfg: &BrokerConfig, params: &Params) {
    for line in warning_lines(bars, res, cfg) {
        eprintln!("{line}");
    }
    if let Some(note) = zero_trades_note(bars, res, params) {
        eprintln!("{note}");
    }
}

/// One `warning:` line per kind of warning, in the order each kind first occurred.
pub(crate) fn warning_lines(bars: &Bars, res: &RunResult, cfg: &BrokerConfig) -> Vec<String> {
    let mut groups: Vec<Vec<&RunWarning>> = Vec::new();
    for w in &res.warning_details {
        match groups
            .iter_mut()
            .find(|g| discriminant(g[0]) == discriminant(w))
        {
            Some(g) => g.push(w),
            None => groups.push(vec![w]),
        }
    }
    let mut lines = Vec::new();
    for g in groups {
        match g[0] {
            RunWarning::NoWholeUnit { .. } => lines.push(no_whole_unit(bars, &g, cfg)),
            RunWarning::InsufficientMargin { .. } => lines.push(insufficient(bars, &g)),
            RunWarning::ContingentInEntryBar { .. } => lines.push(format!(
                "warning: {} an SL/TP would trigger in the bar its stop/limit entry filled; it is \
                 checked from the next bar on, so {} uncertain",
                at_bars(bars, &g),
                if g.len() == 1 {
                    "this trade's result is"
                } else {
                    "these trades' results are"
                }
            )),
            RunWarning::OpenAtEnd { trades } => lines.push(if *trades == 1 {
                "warning: 1 trade remains open at the end and is left out of the trade \
                 statistics; add --finalize-trades to close it on the last bar"
                    .to_string()
            } else {
                format!(
                    "warning: {trades} trades remain open at the end and are left out of the \
                     trade statistics; add --finalize-trades to close them on the last bar"
                )
            }),
            RunWarning::OutOfMoney => {
                let bar = res.equity.iter().position(|&e| e <= 0.0);
                lines.push(format!(
                    "warning: equity fell to zero or below{}: positions liquidated, run stopped",
                    bar.map_or(String::new(), |b| format!(" at {}", bar_at(bars, b)))
                ));
            }
            // A warning this front end does not know yet: its own text, each once.
            _ => lines.extend(g.iter().map(|w| format!("warning: {w}"))),
        }
    }
    lines
}

/// Relative-sized orders that bought no whole unit.
fn no_whole_unit(bars: &Bars, g: &[&RunWarning], cfg: &BrokerConfig) -> String {
    let (mut cost, mut spend) = (0.0f64, 0.0f64);
    for w in g {
        if let RunWarning::NoWholeUnit {
            unit_cost,
            spendable,
            ..
        } = w
        {
            cost = cost.max(*unit_cost);
            spend = spend.max(*spendable);
        }
    }
    let what = orders_cancelled(g.len(), "relative-sized order");
    let head = format!(
        "warning: {what} for insufficient margin {}",
        at_bars(bars, g)
    );
    if spend <= 0.0 {
        return format!("{head}: open trades held all the margin");
    }
    // Prices are in the run's units: with a fractional unit, one fraction of a unit.
    let unit = cfg.fractional_unit.unwrap_or(1.0);
    if cfg.continuous_sizes {
        return format!(
            "{head}: an order could spend at most {}; raise --cash",
            money(spend)
        );
    }
    let fix = match cfg.fractional_unit {
        Some(u) => format!("a --fractional-unit smaller than {u}"),
        // A granularity at which one step costs at most 0.1 % of what an order can spend.
        None => format!(
            "--fractional-unit 1e{} to trade fractions of a unit",
            (spend / cost * 1e-3).log10().floor() as i32
        ),
    };
    format!(
        "{head}: one {} costs up to {} but an order could spend at most {}; only whole units \
         are traded: use {fix}, or raise --cash",
        if unit == 1.0 {
            "unit".to_string()
        } else {
            format!("step of --fractional-unit {unit}")
        },
        money(cost),
        money(spend)
    )
}

/// Orders of a number of units that the margin did not cover.
fn insufficient(bars: &Bars, g: &[&RunWarning]) -> String {
    let (mut cost, mut spend) = (0.0f64, 0.0f64);
    for w in g {
        if let RunWarning::InsufficientMargin {
            cost: c, spendable, ..
        } = w
        {
            cost = cost.max(*c);
            spend = spend.max(*spendable);
        }
    }
    format!(
        "warning: {} for insufficient margin {}: an order cost up to {} with at most {} \
         available; order fewer units (the strategy's size), raise --cash or lower --margin",
        orders_cancelled(g.len(), "order"),
        at_bars(bars, g),
        money(cost),
        money(spend)
    )
}

fn orders_cancelled(n: usize, what: &str) -> String {
    if n == 1 {
        format!("broker cancelled a {what}")
    } else {
        format!("broker cancelled {} {what}s", count(n))
    }
}

/// `at bar 34 (2021-03-06)` or `from bar 34 (2021-03-06) to bar 3269 (2024-12-31)`.
fn at_bars(bars: &Bars, g: &[&RunWarning]) -> String {
    let first = g.iter().find_map(|w| w.bar());
    let last = g.iter().rev().find_map(|w| w.bar());
    match (first, last) {
        (Some(a), Some(b)) if a != b => {
            format!("from {} to {}", bar_at(bars, a), bar_at(bars, b))
        }
        (Some(a), _) => format!("at {}", bar_at(bars, a)),
        _ => String::new(),
    }
}

/// `bar 34 (2021-03-06)`.
fn bar_at(bars: &Bars, i: usize) -> String {
    match bars.time().get(i) {
        Some(&t) => format!("bar {i} ({})", when(t)),
        None => format!("bar {i}"),
    }
}

/// A timestamp as the table prints it, without a midnight time of day.
pub(crate) fn when(t: i64) -> String {
    let s = backtide_data::format_timestamp(t).replace('T', " ");
    match s.strip_suffix(" 00:00:00") {
        Some(day) => day.to_string(),
        None => s,
    }
}

/// Why a run made no trades (closed or open), when it made none; `None` otherwise.
pub(crate) fn zero_trades_note(bars: &Bars, res: &RunResult, params: &Params) -> Option<String> {
    if !res.trades.is_empty() || !res.open_trades.is_empty() {
        return None;
    }
    let n = bars.len();
    if !res.cold_indicators.is_empty() {
        // The integer parameters at least as long as the data are the windows to blame.
        let long: Vec<String> = params
            .values()
            .iter()
            .filter_map(|(k, v)| match v {
                ParamValue::Int(w) if *w >= n as i64 => Some(format!("{k}={w}")),
                _ => None,
            })
            .collect();
        let names = res.cold_indicators.join(", ");
        let verb = if res.cold_indicators.len() == 1 {
            "has"
        } else {
            "have"
        };
        return Some(if long.is_empty() {
            format!(
                "note: no trades: the warm-up is longer than the data's {} bars, so {names} \
                 never {verb} a value; use a shorter window or more data",
                count(n)
            )
        } else {
            format!(
                "note: no trades: the warm-up is longer than the data: {} against {} bars, so \
                 {names} never {verb} a value; use a shorter window or more data",
                long.join(", "),
                count(n)
            )
        });
    }
    let start = res.warmup + 1;
    if start >= n {
        return Some(format!(
            "note: no trades: the strategy's warm-up takes {} of the data's {} bars, leaving \
             none to trade on; use a shorter window or more data",
            count(res.warmup),
            count(n)
        ));
    }
    let cancelled = res
        .warning_details
        .iter()
        .filter(|w| w.is_cancelled_order())
        .count();
    Some(if res.orders_placed == 0 {
        format!(
            "note: no trades: the strategy gave no entry signal in the {} bars after its \
             warm-up ({} to {})",
            count(n - start),
            when(bars.time()[start]),
            when(bars.time()[n - 1])
        )
    } else if cancelled >= res.orders_placed {
        format!(
            "note: no trades: the broker cancelled {} the strategy placed (see the warning above)",
            if res.orders_placed == 1 {
                "the one order".to_string()
            } else {
                format!("all {} orders", count(res.orders_placed))
            }
        )
    } else {
        format!(
            "note: no trades: the strategy placed {} order(s), {} cancelled, and none filled \
             by the last bar",
            count(res.orders_placed),
            count(cancelled)
        )
    })
}

/// `2148` → `2,148`.
pub(crate) fn count(n: usize) -> String {
    group(&n.to_string())
}

/// `29876.123` → `29,876.12`.
fn money(x: f64) -> String {
    let s = format!("{x:.2}");
    match s.split_once('.') {
        Some((int, frac)) => format!("{}.{frac}", group(int)),
        None => s,
    }
}

fn group(digits: &str) -> String {
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", digits),
    };
    let mut out = String::new();
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(count(2148), "2,148");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000_000), "1,000,000");
        assert_eq!(money(29_876.123), "29,876.12");
        assert_eq!(money(-1234.5), "-1,234.50");
        assert_eq!(money(12.0), "12.00");
    }
}
