//! The backtest report's data.

use backtide_core::{Bars, RunResult};
use chrono::Datelike;
use serde_json::{Map, Value, json};

use crate::{page, round};

/// Up to this many bars a report carries every bar and draws candles; beyond, it draws
/// the downsampled close as a line.
pub const FULL_DETAIL_BARS: usize = 10_000;
/// Buckets of the downsampling beyond [`FULL_DETAIL_BARS`].
pub const DISPLAY_BUCKETS: usize = 4_000;
/// Rows of the trade table (the statistics count every trade).
const MAX_TABLE_TRADES: usize = 20_000;

/// What a backtest report shows.
pub struct BacktestReport<'a> {
    /// Heading.
    pub title: &'a str,
    /// The bars it ran on.
    pub bars: &'a Bars,
    /// Its result.
    pub run: &'a RunResult,
    /// Statistics as in `backtide run --json` (either dialect).
    pub stats: &'a Map<String, Value>,
    /// Starting cash (buy-and-hold starts with it too).
    pub cash: f64,
}

pub(crate) fn secs(t: i64) -> i64 {
    t.div_euclid(1_000_000_000)
}

/// Position held at the close of each bar (long positive), from the trades.
fn positions(n: usize, run: &RunResult) -> Vec<f64> {
    let mut diff = vec![0.0; n + 1];
    for t in &run.trades {
        diff[t.entry_bar.min(n)] += t.size;
        diff[t.exit_bar.min(n)] -= t.size;
    }
    for t in &run.open_trades {
        diff[t.entry_bar.min(n)] += t.size;
    }
    let mut acc = 0.0;
    diff[..n]
        .iter()
        .map(|d| {
            acc += d;
            if acc.abs() < 1e-12 { 0.0 } else { acc }
        })
        .collect()
}

/// Month-by-month returns of the equity at the bars' times: `[year, month (1-12), return]`.
pub(crate) fn monthly(time: &[i64], equity: &[f64]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut start = equity.first().copied().unwrap_or(f64::NAN);
    let ym = |t: i64| {
        chrono::DateTime::from_timestamp(secs(t), 0).map_or((0, 0), |d| (d.year(), d.month()))
    };
    let mut current = time.first().map(|&t| ym(t)).unwrap_or((0, 0));
    for i in 0..equity.len() {
        let m = ym(time[i]);
        if m != current {
            out.push(json!([
                current.0,
                current.1,
                round(equity[i - 1] / start - 1.0, 5)
            ]));
            start = equity[i - 1];
            current = m;
        }
    }
    if let Some(&last) = equity.last() {
        out.push(json!([current.0, current.1, round(last / start - 1.0, 5)]));
    }
    out
}

/// The report as one HTML document.
pub fn backtest_html(r: &BacktestReport<'_>) -> String {
    let (bars, run) = (r.bars, r.run);
    let n = bars.len().min(run.equity.len());
    let close = &bars.close()[..n];
    let equity = &run.equity[..n];
    let trade_bars: Vec<usize> = run
        .trades
        .iter()
        .flat_map(|t| [t.entry_bar, t.exit_bar])
        .chain(run.open_trades.iter().map(|t| t.entry_bar))
        .collect();
    let full = n <= FULL_DETAIL_BARS;
    let mut keep = if full {
        (0..n).collect()
    } else {
        backtide_data::downsample_keep(
            &[close, &bars.high()[..n], &bars.low()[..n], equity],
            DISPLAY_BUCKETS,
            &trade_bars,
        )
    };
    // Chart times are whole seconds and must increase: drop bars that share a second.
    keep.dedup_by_key(|i| secs(bars.time()[*i]));
    let pos = positions(n, run);
    let dd = backtide_core::stats::drawdown(equity);
    let first_close = close.first().copied().unwrap_or(f64::NAN);
    let col = |f: &dyn Fn(usize) -> Value| -> Value { keep.iter().map(|&i| f(i)).collect() };
    // Each trade's marker goes on the drawn point at or before its bar.
    let drawn = |bar: usize| -> i64 {
        let k = keep.partition_point(|&i| i <= bar).saturating_sub(1);
        secs(bars.time()[keep.get(k).copied().unwrap_or(0)])
    };
    let mut markers = Vec::new();
    let mut levels = Vec::new();
    for t in &run.trades {
        let long = t.size > 0.0;
        markers.push(json!([
            drawn(t.entry_bar),
            if long { "L" } else { "S" },
            round(t.entry_price, 6),
            round(t.size, 6)
        ]));
        markers.push(json!([
            drawn(t.exit_bar),
            "X",
            round(t.exit_price, 6),
            round(t.pnl(), 6)
        ]));
        for (kind, level) in [("sl", t.sl), ("tp", t.tp)] {
            if let Some(v) = level {
                levels.push(json!([
                    kind,
                    drawn(t.entry_bar),
                    drawn(t.exit_bar),
                    round(v, 6)
                ]));
            }
        }
    }
    for t in &run.open_trades {
        let long = t.size > 0.0;
        markers.push(json!([
            drawn(t.entry_bar),
            if long { "L" } else { "S" },
            round(t.entry_price, 6),
            round(t.size, 6)
        ]));
        for (kind, level) in [("sl", t.sl), ("tp", t.tp)] {
            if let Some(v) = level {
                levels.push(json!([kind, drawn(t.entry_bar), drawn(n - 1), round(v, 6)]));
            }
        }
    }
    let trades: Vec<Value> = run
        .trades
        .iter()
        .take(MAX_TABLE_TRADES)
        .map(|t| {
            json!([
                backtide_data::format_timestamp(bars.time()[t.entry_bar]),
                backtide_data::format_timestamp(bars.time()[t.exit_bar]),
                if t.size > 0.0 { "long" } else { "short" },
                round(t.size.abs(), 8),
                round(t.entry_price, 8),
                round(t.exit_price, 8),
                round(t.pnl(), 8),
                round(t.return_frac() * 100.0, 6),
                t.exit_bar - t.entry_bar,
            ])
        })
        .collect();
    let data = json!({
        "bars": n,
        "full": full,
        "from": bars.time().first().map(|&t| backtide_data::format_timestamp(t)),
        "to": bars.time().get(n.saturating_sub(1)).map(|&t| backtide_data::format_timestamp(t)),
        "t": col(&|i| json!(secs(bars.time()[i]))),
        "o": if full { col(&|i| round(bars.open()[i], 8)) } else { Value::Null },
        "h": if full { col(&|i| round(bars.high()[i], 8)) } else { Value::Null },
        "l": if full { col(&|i| round(bars.low()[i], 8)) } else { Value::Null },
        "c": col(&|i| round(close[i], 8)),
        "equity": col(&|i| round(equity[i], 8)),
        "hold": col(&|i| round(r.cash * close[i] / first_close, 8)),
        "dd": col(&|i| round(-dd[i] * 100.0, 5)),
        "pos": col(&|i| round(pos[i], 8)),
        "markers": markers,
        "levels": levels,
        "stats": r.stats,
        "trades": trades,
        "trades_total": run.trades.len(),
        "monthly": monthly(bars.time(), equity),
        "warnings": run.warnings,
    });
    page(r.title, "backtest", &data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use backtide_core::{BrokerConfig, Params, run, strategy::builtin};

    fn goog() -> (Bars, RunResult) {
        let bars = backtide_data::sample("GOOG").unwrap();
        let info = builtin::find("sma_cross").unwrap();
        let params = Params::from_pairs(info.params, [("fast", "10"), ("slow", "20")]).unwrap();
        let cfg = BrokerConfig::default();
        let r = run(&bars, info.build(&params).unwrap().as_mut(), &cfg).unwrap();
        (bars, r)
    }

    fn data_of(html: &str) -> Value {
        let tag = "type=\"application/json\">";
        let start = html.find(tag).unwrap() + tag.len();
        let end = start + html[start..].find("</script>").unwrap();
        serde_json::from_str(&html[start..end].replace("<\\/", "</")).unwrap()
    }

    #[test]
    fn small_reports_carry_every_bar_and_every_trade() {
        let (bars, r) = goog();
        let stats = Map::new();
        let html = backtest_html(&BacktestReport {
            title: "t",
            bars: &bars,
            run: &r,
            stats: &stats,
            cash: 10_000.0,
        });
        let d = data_of(&html);
        assert_eq!(d["t"].as_array().unwrap().len(), bars.len());
        assert!(d["full"].as_bool().unwrap());
        let markers = d["markers"].as_array().unwrap();
        assert_eq!(markers.len(), 2 * r.trades.len() + r.open_trades.len());
        assert_eq!(d["trades"].as_array().unwrap().len(), r.trades.len());
        // Position is the open trades' size sum: flat before the first entry.
        assert_eq!(d["pos"][0], json!(0));
    }

    #[test]
    fn a_million_bar_report_stays_under_five_megabytes_with_every_trade() {
        let n = 1_000_000;
        let mut x: u64 = 42;
        let mut price = 100.0f64;
        let mut close = Vec::with_capacity(n);
        for _ in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            price *= 1.0 + 0.002 * ((x % 2001) as f64 / 1000.0 - 1.0);
            close.push(price);
        }
        let open: Vec<f64> = std::iter::once(close[0])
            .chain(close[..n - 1].iter().copied())
            .collect();
        let high: Vec<f64> = open
            .iter()
            .zip(&close)
            .map(|(o, c)| o.max(*c) * 1.001)
            .collect();
        let low: Vec<f64> = open
            .iter()
            .zip(&close)
            .map(|(o, c)| o.min(*c) * 0.999)
            .collect();
        let time: Vec<i64> = (0..n as i64)
            .map(|i| 1_600_000_000_000_000_000 + i * 60_000_000_000)
            .collect();
        let bars = Bars::try_new(time, open, high, low, close, vec![f64::NAN; n]).unwrap();
        let info = builtin::find("sma_cross").unwrap();
        let params = Params::from_pairs(info.params, [("fast", "200"), ("slow", "900")]).unwrap();
        let r = run(
            &bars,
            info.build(&params).unwrap().as_mut(),
            &BrokerConfig::default(),
        )
        .unwrap();
        assert!(r.trades.len() > 500, "{}", r.trades.len());
        let stats = Map::new();
        let html = backtest_html(&BacktestReport {
            title: "1M",
            bars: &bars,
            run: &r,
            stats: &stats,
            cash: 10_000.0,
        });
        assert!(html.len() <= 5 * 1024 * 1024, "{} bytes", html.len());
        let d = data_of(&html);
        assert!(!d["full"].as_bool().unwrap());
        let t = d["t"].as_array().unwrap();
        assert!(
            t.len() <= 4 * 2 * DISPLAY_BUCKETS + 2 * r.trades.len() + 3,
            "{}",
            t.len()
        );
        // Every trade's entry and exit bar is a drawn point.
        let drawn: std::collections::HashSet<i64> = t.iter().map(|v| v.as_i64().unwrap()).collect();
        for tr in &r.trades {
            assert!(drawn.contains(&secs(bars.time()[tr.entry_bar])));
            assert!(drawn.contains(&secs(bars.time()[tr.exit_bar])));
        }
        // The series' extremes survive.
        let closes: Vec<f64> = d["c"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let max = bars.close().iter().copied().fold(f64::MIN, f64::max);
        let drawn_max = closes.iter().copied().fold(f64::MIN, f64::max);
        assert!(
            (drawn_max - max).abs() <= 1e-7 * max,
            "{drawn_max} vs {max}"
        );
    }

    #[test]
    fn monthly_returns_compound_to_the_total() {
        let (bars, r) = goog();
        let m = monthly(bars.time(), &r.equity);
        let total: f64 = m
            .iter()
            .map(|v| 1.0 + v[2].as_f64().unwrap())
            .product::<f64>()
            - 1.0;
        let expected = r.equity.last().unwrap() / r.equity[0] - 1.0;
        assert!(
            (total - expected).abs() < 1e-3 * (1.0 + expected.abs()),
            "{total} vs {expected}"
        );
        assert_eq!(m[0][0], json!(2004));
        assert_eq!(m[0][1], json!(8));
    }
}
