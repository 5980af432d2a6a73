//! Self-contained interactive HTML reports: one file with the chart library and the data
//! embedded, so it opens offline, by e-mail, years later.
//!
//! [`backtest_html`] draws price with entry/exit markers and SL/TP levels, equity against
//! buy-and-hold, drawdown, position, the statistics, a sortable trade table and a
//! monthly-returns heat-map, with zoom and pan linked across the charts.
//! [`sweep_html`] draws a heat-map of the objective over any two parameters, its
//! distribution, the best combinations, walk-forward windows and the overfitting checks.
//! [`portfolio_html`] draws a portfolio run (several assets, one account): its value
//! against the equal-weight buy-and-hold basket, the drawdown, the allocation over time
//! (each asset's share of the value and the cash, stacked to 100 %), each asset's
//! contribution and final weight, the trades with their symbol, the statistics and the
//! universe, strategy and parameters.
//! Long series are downsampled for display: every bucket keeps its extremes (a backtest's
//! in one pass over the bars, a portfolio's through [`backtide_data::downsample_keep`]). A
//! backtest draws at most [`MAX_CHART_TRADES`] trades as markers (the half with the largest
//! |PnL| and an even sample of the rest) and lists every trade in its table as compact
//! columns, paged in the browser past 1,000 rows; a million bars with 20,000 trades make
//! about 2 MB, written in a few tens of milliseconds (the `backtest` module says what
//! each number keeps).
//!
//! ```
//! use backtide_core::{BrokerConfig, Params, run, stats, strategy::builtin};
//!
//! let bars = backtide_data::sample("GOOG")?;
//! let info = builtin::find("sma_cross")?;
//! let params = Params::from_pairs(info.params, [("fast", "10"), ("slow", "20")])?;
//! let result = run(&bars, info.build(&params)?.as_mut(), &BrokerConfig::default())?;
//! let stats = backtide_data::stats_json(&stats::compute(&bars, &result));
//! let html = backtide_report::backtest_html(&backtide_report::BacktestReport {
//!     title: "GOOG sma_cross(10, 20)",
//!     bars: &bars,
//!     run: &result,
//!     stats: &stats,
//!     cash: 10_000.0,
//!     benchmark: None,
//! });
//! assert!(html.starts_with("<!DOCTYPE html>"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod backtest;
mod json;
pub mod labels;
mod portfolio;
mod sweep;

pub use backtest::{
    BacktestReport, DISPLAY_BUCKETS, FULL_DETAIL_BARS, MAX_CHART_OPEN, MAX_CHART_TRADES,
    ReportBenchmark, backtest_html,
};
pub use portfolio::{PORTFOLIO_BUCKETS, PORTFOLIO_FULL_BARS, PortfolioReport, portfolio_html};
pub use sweep::{SweepReport, SweepRow, sweep_html};

const CHARTS_JS: &str =
    include_str!("../vendor/lightweight-charts/lightweight-charts.standalone.production.js");
const REPORT_JS: &str = include_str!("../assets/report.js");
const STYLE: &str = include_str!("../assets/style.css");

/// The page around a report's data: `kind` selects the renderer in `report.js`.
fn page(title: &str, kind: &str, data: &serde_json::Value) -> String {
    // `</` cannot appear inside the embedded JSON, or it could close the script element.
    let json = data.to_string().replace("</", "<\\/");
    let mut out = page_open(title, kind, json.len());
    out.extend_from_slice(json.as_bytes());
    page_close(out)
}

/// The page up to the opening of the data's script element; the caller appends the JSON
/// (with no `</` in it) and then [`page_close`]. `data_len` is a capacity hint.
fn page_open(title: &str, kind: &str, data_len: usize) -> Vec<u8> {
    let title = escape(title);
    let mut out =
        Vec::with_capacity(data_len + CHARTS_JS.len() + REPORT_JS.len() + STYLE.len() + 2048);
    out.extend_from_slice(format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style>\
         <script>window.__errors=[];addEventListener('error',function(e){{__errors.push(String(e.message||e))}});</script>\
         </head>\n<body data-kind=\"{kind}\">\
         <header><h1>{title}</h1><p class=\"sub\" id=\"subtitle\"></p></header>\
         <main id=\"report\"></main>\
         <footer>Made by Backtide. Charts: <a href=\"https://www.tradingview.com/\">TradingView \
         Lightweight Charts™</a> Copyright (c) 2025 TradingView, Inc. (Apache-2.0).</footer>\n\
         <script id=\"report-data\" type=\"application/json\">"
    ).as_bytes());
    out
}

/// Closes what [`page_open`] opened (the chart library and the renderer) and returns the
/// page.
fn page_close(mut out: Vec<u8>) -> String {
    for part in [
        "</script>\n<script>",
        CHARTS_JS,
        "</script>\n<script>",
        REPORT_JS,
        "</script>\n</body></html>\n",
    ] {
        out.extend_from_slice(part.as_bytes());
    }
    // Everything written is UTF-8 (serde_json's text, ASCII numbers and markup).
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A float rounded to `digits` significant digits (JSON size: a report carries hundreds of
/// thousands of numbers, and a chart cannot show more precision than that). NaN → null.
fn round(x: f64, digits: i32) -> serde_json::Value {
    if !x.is_finite() {
        return serde_json::Value::Null;
    }
    if x == 0.0 {
        return serde_json::json!(0);
    }
    let scale = 10f64.powi(digits - 1 - x.abs().log10().floor() as i32);
    let r = (x * scale).round() / scale;
    serde_json::Number::from_f64(r).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_keeps_significant_digits() {
        assert_eq!(round(123_456.789, 6), serde_json::json!(123_457.0));
        assert_eq!(round(0.000_123_456_7, 4), serde_json::json!(0.000_123_5));
        assert_eq!(round(f64::NAN, 4), serde_json::Value::Null);
        assert_eq!(round(-2.5, 3), serde_json::json!(-2.5));
    }

    #[test]
    fn embedded_json_cannot_close_the_script() {
        let html = page(
            "<b>x</b>",
            "backtest",
            &serde_json::json!({"a": "</script><script>alert(1)"}),
        );
        assert!(!html.contains("</script><script>alert"));
        assert!(html.contains("<title>&lt;b&gt;x&lt;/b&gt;</title>"));
    }
}
