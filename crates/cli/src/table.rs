//! Human-readable output: the statistics table and the strategy list.

use std::fmt::Write;

use backtide_core::{Stats, strategy::builtin::STRATEGIES};
use backtide_models::MODEL_STRATEGIES;

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

/// The statistics with backtesting.py's labels, one per line.
pub(crate) fn stats_table(s: &Stats) -> String {
    let rows: Vec<(&str, String)> = vec![
        ("Start", time(s.start)),
        ("End", time(s.end)),
        ("Duration", duration(Some(s.duration))),
        ("Exposure Time [%]", num(s.exposure_time_pct)),
        ("Equity Final [$]", num(s.equity_final)),
        ("Equity Peak [$]", num(s.equity_peak)),
        ("Commissions [$]", num(s.commissions)),
        ("Return [%]", num(s.return_pct)),
        ("Buy & Hold Return [%]", num(s.buy_and_hold_return_pct)),
        ("Return (Ann.) [%]", num(s.return_ann_pct)),
        ("Volatility (Ann.) [%]", num(s.volatility_ann_pct)),
        ("CAGR [%]", num(s.cagr_pct)),
        ("Sharpe Ratio", num(s.sharpe_ratio)),
        ("Sortino Ratio", num(s.sortino_ratio)),
        ("Calmar Ratio", num(s.calmar_ratio)),
        ("Alpha [%]", num(s.alpha_pct)),
        ("Beta", num(s.beta)),
        ("Max. Drawdown [%]", num(s.max_drawdown_pct)),
        ("Avg. Drawdown [%]", num(s.avg_drawdown_pct)),
        ("Max. Drawdown Duration", duration(s.max_drawdown_duration)),
        ("Avg. Drawdown Duration", duration(s.avg_drawdown_duration)),
        ("# Trades", s.num_trades.to_string()),
        ("Win Rate [%]", num(s.win_rate_pct)),
        ("Best Trade [%]", num(s.best_trade_pct)),
        ("Worst Trade [%]", num(s.worst_trade_pct)),
        ("Avg. Trade [%]", num(s.avg_trade_pct)),
        ("Max. Trade Duration", duration(s.max_trade_duration)),
        ("Avg. Trade Duration", duration(s.avg_trade_duration)),
        ("Profit Factor", num(s.profit_factor)),
        ("Expectancy [%]", num(s.expectancy_pct)),
        ("SQN", num(s.sqn)),
        ("Kelly Criterion", num(s.kelly_criterion)),
    ];
    let mut out = String::new();
    for (k, v) in rows {
        let _ = writeln!(out, "{k:<26}{v:>22}");
    }
    out
}

/// vectorbt-dialect statistics with vectorbt's labels.
pub(crate) fn vbt_stats_table(s: &backtide_core::stats::VbtStats) -> String {
    let labels = [
        "Start",
        "End",
        "Period",
        "Start Value",
        "End Value",
        "Total Return [%]",
        "Benchmark Return [%]",
        "Max Gross Exposure [%]",
        "Total Fees Paid",
        "Max Drawdown [%]",
        "Max Drawdown Duration",
        "Total Trades",
        "Total Closed Trades",
        "Total Open Trades",
        "Open Trade PnL",
        "Win Rate [%]",
        "Best Trade [%]",
        "Worst Trade [%]",
        "Avg Winning Trade [%]",
        "Avg Losing Trade [%]",
        "Avg Winning Trade Duration",
        "Avg Losing Trade Duration",
        "Profit Factor",
        "Expectancy",
        "Sharpe Ratio",
        "Calmar Ratio",
        "Omega Ratio",
        "Sortino Ratio",
    ];
    let mut out = String::new();
    for (label, (_, v)) in labels.iter().zip(s.entries()) {
        use backtide_core::stats::StatValue;
        let text = match v {
            StatValue::Time(t) => time(t),
            StatValue::Num(x) => num(x),
            StatValue::Duration(d) => duration(d),
            StatValue::Count(c) => c.to_string(),
        };
        let _ = writeln!(out, "{label:<30}{text:>22}");
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
        "every built-in signal strategy above (sma_cross to buy_and_hold; rules has its own entry)\n  applied per asset with shared cash: direction long_only, no sl_pct/tp_pct, plus"
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
