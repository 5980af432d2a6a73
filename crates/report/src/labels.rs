//! The statistics' display labels, one table per dialect: the CLI's statistics table, the
//! reports and `sweep --maximize` (which accepts a label as well as a key) use these.

use serde_json::{Map, Value};

/// backtesting.py's labels for the `--json` keys of its statistics (`Stats::entries` order).
pub const BACKTESTING_PY: [(&str, &str); 32] = [
    ("start", "Start"),
    ("end", "End"),
    ("duration_s", "Duration"),
    ("exposure_time_pct", "Exposure Time [%]"),
    ("equity_final", "Equity Final [$]"),
    ("equity_peak", "Equity Peak [$]"),
    ("commissions", "Commissions [$]"),
    ("return_pct", "Return [%]"),
    ("buy_and_hold_return_pct", "Buy & Hold Return [%]"),
    ("return_ann_pct", "Return (Ann.) [%]"),
    ("volatility_ann_pct", "Volatility (Ann.) [%]"),
    ("cagr_pct", "CAGR [%]"),
    ("sharpe_ratio", "Sharpe Ratio"),
    ("sortino_ratio", "Sortino Ratio"),
    ("calmar_ratio", "Calmar Ratio"),
    ("alpha_pct", "Alpha [%]"),
    ("beta", "Beta"),
    ("max_drawdown_pct", "Max. Drawdown [%]"),
    ("avg_drawdown_pct", "Avg. Drawdown [%]"),
    ("max_drawdown_duration_s", "Max. Drawdown Duration"),
    ("avg_drawdown_duration_s", "Avg. Drawdown Duration"),
    ("num_trades", "# Trades"),
    ("win_rate_pct", "Win Rate [%]"),
    ("best_trade_pct", "Best Trade [%]"),
    ("worst_trade_pct", "Worst Trade [%]"),
    ("avg_trade_pct", "Avg. Trade [%]"),
    ("max_trade_duration_s", "Max. Trade Duration"),
    ("avg_trade_duration_s", "Avg. Trade Duration"),
    ("profit_factor", "Profit Factor"),
    ("expectancy_pct", "Expectancy [%]"),
    ("sqn", "SQN"),
    ("kelly_criterion", "Kelly Criterion"),
];

/// vectorbt's `stats()` labels for the `--json` keys of its dialect (`VbtStats::entries`
/// order).
pub const VECTORBT: [(&str, &str); 28] = [
    ("start", "Start"),
    ("end", "End"),
    ("period_s", "Period"),
    ("start_value", "Start Value"),
    ("end_value", "End Value"),
    ("total_return_pct", "Total Return [%]"),
    ("benchmark_return_pct", "Benchmark Return [%]"),
    ("max_gross_exposure_pct", "Max Gross Exposure [%]"),
    ("total_fees_paid", "Total Fees Paid"),
    ("max_drawdown_pct", "Max Drawdown [%]"),
    ("max_drawdown_duration_s", "Max Drawdown Duration"),
    ("total_trades", "Total Trades"),
    ("total_closed_trades", "Total Closed Trades"),
    ("total_open_trades", "Total Open Trades"),
    ("open_trade_pnl", "Open Trade PnL"),
    ("win_rate_pct", "Win Rate [%]"),
    ("best_trade_pct", "Best Trade [%]"),
    ("worst_trade_pct", "Worst Trade [%]"),
    ("avg_winning_trade_pct", "Avg Winning Trade [%]"),
    ("avg_losing_trade_pct", "Avg Losing Trade [%]"),
    ("avg_winning_trade_duration_s", "Avg Winning Trade Duration"),
    ("avg_losing_trade_duration_s", "Avg Losing Trade Duration"),
    ("profit_factor", "Profit Factor"),
    ("expectancy", "Expectancy"),
    ("sharpe_ratio", "Sharpe Ratio"),
    ("calmar_ratio", "Calmar Ratio"),
    ("omega_ratio", "Omega Ratio"),
    ("sortino_ratio", "Sortino Ratio"),
];

/// The label table of the dialect whose keys `stats` holds: vectorbt's when it has
/// `total_return_pct`, backtesting.py's otherwise.
pub fn table_for(stats: &Map<String, Value>) -> &'static [(&'static str, &'static str)] {
    if stats.contains_key("total_return_pct") && !stats.contains_key("return_pct") {
        &VECTORBT
    } else {
        &BACKTESTING_PY
    }
}

/// `{key: label}` for the keys of `stats` that `table` labels (a report's `labels`).
pub(crate) fn labels_of(stats: &Map<String, Value>) -> Value {
    let table = table_for(stats);
    Value::Object(
        stats
            .keys()
            .filter_map(|k| {
                let (_, label) = table.iter().find(|(key, _)| key == k)?;
                Some((k.clone(), Value::from(*label)))
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use backtide_core::Stats;
    use backtide_core::stats::VbtStats;

    /// One label per statistic, in the statistics' own order.
    #[test]
    fn the_tables_follow_the_statistics() {
        assert_eq!(BACKTESTING_PY.map(|(k, _)| k), Stats::keys());
        assert_eq!(VECTORBT.map(|(k, _)| k), VbtStats::keys());
    }

    /// A report labels its statistics by their dialect; unknown keys get no label.
    #[test]
    fn labels_follow_the_dialect() {
        let bt: Map<String, Value> =
            serde_json::from_str(r#"{"return_pct": 1.0, "max_drawdown_pct": -2.0, "extra": 3}"#)
                .unwrap();
        assert_eq!(
            labels_of(&bt),
            serde_json::json!({"return_pct": "Return [%]", "max_drawdown_pct": "Max. Drawdown [%]"})
        );
        let vbt: Map<String, Value> =
            serde_json::from_str(r#"{"total_return_pct": 1.0, "max_drawdown_pct": -2.0}"#).unwrap();
        assert_eq!(
            labels_of(&vbt),
            serde_json::json!({"total_return_pct": "Total Return [%]", "max_drawdown_pct": "Max Drawdown [%]"})
        );
    }
}
