//! Human-readable output: the statistics table and the strategy list.

use std::fmt::Write;

use backtide_core::{Stats, strategy::builtin::STRATEGIES};
use backtide_models::MODEL_STRATEGIES;
use backtide_report::labels::{BACKTESTING_PY, VECTORBT};

const DAY: i64 = 86_400_000_000_000;

/// A duration as pandas prints a Timedelta: `3116 days 00:00:00`.
fn duration(ns: Option<i64>) -> String {
    let Some(ns) = ns else { return "NaT".into() };
    let days = ns.div_euclid(DAY);
    let rest = ns.rem_euclid(DAY) / 1_000_000_000;
    format!(
        "{days} days {:02}:{:02}:{:02}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

fn time(t: i64) -> String {
    backtide_data::format_timestamp(t).replace('T', " ")
}

fn num(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else {
        format!("{x:.6}")
    }
}

/// A statistic's value as the table prints it.
fn value(v: backtide_core::stats::StatValue) -> String {
    use backtide_core::stats::StatValue;
    match v {
        StatValue::Time(t) => time(t),
        StatValue::Num(x) => num(x),
        StatValue::Duration(d) => duration(d),
        StatValue::Count(c) => c.to_string(),
    }
}

/// The statistics with backtesting.py's labels (the reports' too), one per line.
pub(crate) fn stats_table(s: &Stats) -> String {
    let mut out = String::new();
    for ((_, label), (_, v)) in BACKTESTING_PY.iter().zip(s.entries()) {
        let _ = writeln!(out, "{label:<26}{:>22}", value(v));
    }
    out
}

/// The statistics against a `--benchmark`, as more rows of the statistics table (labels
/// padded to `width`, the table's own).
pub(crate) fn benchmark_table(
    name: &str,
    aligned: &backtide_core::stats::AlignedBenchmark,
    s: &backtide_core::stats::BenchmarkStats,
    width: usize,
) -> String {
    let mut out = String::new();
    let filled = match aligned.filled() {
        0 => String::new(),
        n => format!(" ({n} bars use an earlier close)"),
    };
    let _ = writeln!(out, "{:<width$}{name}{filled}", "Benchmark");
    for (_, label, v) in s.entries() {
        let _ = writeln!(out, "{label:<width$}{:>22}", num(v));
    }
    out
}

/// vectorbt-dialect statistics with vectorbt's labels.
pub(crate) fn vbt_stats_table(s: &backtide_core::stats::VbtStats) -> String {
    let mut out = String::new();
    for ((_, label), (_, v)) in VECTORBT.iter().zip(s.entries()) {
        let _ = writeln!(out, "{label:<30}{:>22}", value(v));
    }
    out
}

/// Every built-in strategy with its parameters: single-asset ones first, then the
/// portfolio strategies (which run on several `--data`, or a universe).
pub(crate) fn strategies() -> String {
    let mut out = String::new();
    for s in STRATEGIES.iter().chain(MODEL_STRATEGIES.iter().copied()) {
        strategy_entry(&mut out, s.name, s.about, s.params);
    }
    rule_functions(&mut out);
    let _ = writeln!(
        out,
        "Portfolio strategies (several --data or a universe; one shared account):\n"
    );
    for s in backtide_core::portfolio::builtin::strategies() {
        // `rules` is listed in full: its portfolio form adds a cross-sectional score.
        if !s.is_per_asset() || s.name == "rules" {
            strategy_entry(&mut out, s.name, &s.about, &s.params);
        }
    }
    let _ = writeln!(
        out,
        "every built-in signal strategy above (sma_cross to buy_and_hold; rules has its own entry)\n  applied per asset with shared cash: direction long_only, no sl_pct/sl_trail/tp_pct/trail_atr/trail_pct/risk_pct, plus"
    );
    let per_asset = backtide_core::portfolio::builtin::strategies()
        .iter()
        .find(|s| s.is_per_asset());
    for p in per_asset
        .iter()
        .flat_map(|s| &s.params)
        .filter(|p| p.name == "size_type")
    {
        param_line(&mut out, p);
    }
    out.push('\n');
    out
}

/// What a `rules` expression can use (the grammar is in docs/rules.md).
fn rule_functions(out: &mut String) {
    let _ = writeln!(
        out,
        "Rule expressions (--strategy rules; grammar and examples in docs/rules.md):\n  \
         series {}; numbers; $name parameters (sweepable with --grid name=…);\n  \
         + - * /, < <= > >= == !=, and or not, parentheses; functions:",
        backtide_core::rules::SERIES.join(", ")
    );
    for f in backtide_core::rules::FUNCTIONS {
        let _ = writeln!(out, "    {:<34} {}", f.signature(), f.doc);
    }
    out.push('\n');
}

fn strategy_entry(out: &mut String, name: &str, about: &str, params: &[backtide_core::ParamSpec]) {
    let _ = writeln!(out, "{name}\n  {about}");
    for p in params {
        param_line(out, p);
    }
    out.push('\n');
}

fn param_line(out: &mut String, p: &backtide_core::ParamSpec) {
    let default = p
        .default_value()
        .map_or("(none)".to_string(), |d| d.to_string());
    let _ = writeln!(
        out,
        "    {:<10} {:<34} default {:<11} {}",
        p.name,
        p.describe_kind(),
        default,
        p.doc
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_pandas() {
        assert_eq!(duration(Some(3116 * DAY)), "3116 days 00:00:00");
        assert_eq!(duration(Some(DAY + 3_600_000_000_000)), "1 days 01:00:00");
        assert_eq!(duration(None), "NaT");
    }
}
