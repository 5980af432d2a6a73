//! The portfolio report's data.

use backtide_core::Universe;
use serde_json::{Value, json};

use crate::backtest::{monthly, secs};
use crate::{page, round};

/// Up to this many bars a portfolio report carries every bar; beyond, it draws a
/// downsampled selection of at most about as many points.
pub const PORTFOLIO_FULL_BARS: usize = 4_000;
/// Buckets of the downsampling beyond [`PORTFOLIO_FULL_BARS`]: each keeps the extremes of
/// the value and of the drawdown (so at most `4 * PORTFOLIO_BUCKETS + 2` points).
pub const PORTFOLIO_BUCKETS: usize = 1_000;
/// Rows of the trade table (the statistics count every trade).
const MAX_TABLE_TRADES: usize = 20_000;
/// Warnings listed (each rejected order makes one).
const MAX_WARNINGS: usize = 200;

/// What a portfolio report shows.
pub struct PortfolioReport<'a> {
    /// Heading.
    pub title: &'a str,
    /// The universe it ran on (its closes value the positions).
    pub universe: &'a Universe,
    /// The run as `backtide_data::portfolio_json` makes it (`backtide run --json`).
    pub result: &'a Value,
    /// A benchmark drawn instead of the buy-and-hold basket, with its statistics.
    pub benchmark: Option<crate::ReportBenchmark<'a>>,
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

/// The starting cash: `start_value` (vectorbt dialect), else the first bar's value plus
/// what the first bar's orders cost beyond the value they bought (fees and the fill's
/// distance from the close).
fn initial_cash(u: &Universe, res: &Value, value: &[f64]) -> f64 {
    if let Some(v) = res["stats"]["start_value"].as_f64() {
        return v;
    }
    let Some(&first) = value.first() else {
        return f64::NAN;
    };
    let spent: f64 = list(&res["orders"])
        .iter()
        .take_while(|o| o["bar"].as_u64() == Some(0))
        .map(|o| {
            let close = u
                .assets()
                .iter()
                .find(|a| o["symbol"].as_str() == Some(a.symbol()))
                .filter(|a| a.rows().first() == Some(&0))
                .map_or(f64::NAN, |a| a.bars().close()[0]);
            let dir = if o["side"].as_str() == Some("Sell") {
                -1.0
            } else {
                1.0
            };
            num(&o["fees"]) + dir * num(&o["size"]).abs() * (num(&o["price"]) - close)
        })
        .sum();
    if spent.is_finite() {
        first + spent
    } else {
        first
    }
}

/// Each asset's `(symbol, value held after each bar)`: units × the asset's last close (its
/// first close before it lists), over the first `n` bars of the union timeline.
fn holdings(u: &Universe, positions: &Value, n: usize) -> Vec<(String, Vec<f64>)> {
    u.assets()
        .iter()
        .map(|a| {
            let units = list(&positions[a.symbol()]);
            let (close, rows) = (a.bars().close(), a.rows());
            let (mut k, mut c) = (0usize, close[0]);
            let held = (0..n)
                .map(|t| {
                    while k < rows.len() && rows[k] as usize <= t {
                        c = close[k];
                        k += 1;
                    }
                    let q = units.get(t).map_or(0.0, num);
                    if q.is_finite() && q != 0.0 {
                        q * c
                    } else {
                        0.0
                    }
                })
                .collect();
            (a.symbol().to_string(), held)
        })
        .collect()
}

/// The report as one HTML document.
pub fn portfolio_html(r: &PortfolioReport<'_>) -> String {
    let (u, res) = (r.universe, r.result);
    let time = u.time();
    let rows = list(&res["equity"]);
    let n = time.len().min(rows.len());
    let value: Vec<f64> = rows[..n].iter().map(|e| num(&e["equity"])).collect();
    let cash: Vec<f64> = rows[..n].iter().map(|e| num(&e["cash"])).collect();
    let dd: Vec<f64> = rows[..n].iter().map(|e| num(&e["drawdown"])).collect();
    let full = n <= PORTFOLIO_FULL_BARS;
    let mut keep = if full {
        (0..n).collect()
    } else {
        backtide_data::downsample_keep(&[&value, &dd], PORTFOLIO_BUCKETS, &[])
    };
    // Chart times are whole seconds and must increase: drop bars that share a second.
    keep.dedup_by_key(|i| secs(time[*i]));
    let col = |f: &dyn Fn(usize) -> Value| -> Value { keep.iter().map(|&i| f(i)).collect() };

    // Allocation: each asset's value and the cash as % of their sum (which is the value).
    let held = holdings(u, &res["positions"], n);
    let total: Vec<f64> = (0..n)
        .map(|i| cash[i] + held.iter().map(|(_, h)| h[i]).sum::<f64>())
        .collect();
    let share = |x: f64, i: usize| {
        if total[i].is_finite() && total[i] != 0.0 {
            round(100.0 * x / total[i], 4)
        } else {
            Value::Null
        }
    };
    let mut alloc: Vec<Value> = held
        .iter()
        // Assets never held at a drawn point add nothing to the picture.
        .filter(|(_, h)| keep.iter().any(|&i| h[i] != 0.0))
        .map(|(s, h)| json!({"symbol": s, "share": col(&|i| share(h[i], i))}))
        .collect();
    alloc.push(json!({"symbol": "Cash", "share": col(&|i| share(cash[i], i))}));

    let init = initial_cash(u, res, &value);
    let hold = match &r.benchmark {
        // From the same starting cash, at its close on the first bar.
        Some(b) => {
            let scale = init / b.close.first().copied().unwrap_or(f64::NAN);
            b.close.iter().map(|c| c * scale).collect()
        }
        None => backtide_core::portfolio::stats::benchmark(u, init),
    };

    let all_trades = list(&res["trades"]);
    let trades: Vec<Value> = all_trades
        .iter()
        .take(MAX_TABLE_TRADES)
        .map(|t| {
            let size = num(&t["size"]);
            json!([
                t["symbol"],
                t["entry_time"],
                t["exit_time"],
                if size > 0.0 { "long" } else { "short" },
                round(size.abs(), 8),
                round(num(&t["entry_price"]), 8),
                round(num(&t["exit_price"]), 8),
                round(num(&t["pnl"]), 8),
                round(num(&t["return"]) * 100.0, 6),
                t["exit_bar"]
                    .as_u64()
                    .zip(t["entry_bar"].as_u64())
                    .map(|(x, e)| x.saturating_sub(e)),
                round(num(&t["commission"]), 6),
            ])
        })
        .collect();
    let open: Vec<Value> = list(&res["open_trades"])
        .iter()
        .map(|t| {
            let size = num(&t["size"]);
            json!([
                t["symbol"],
                t["entry_time"],
                if size > 0.0 { "long" } else { "short" },
                round(size.abs(), 8),
                round(num(&t["entry_price"]), 8),
                round(num(&t["last_price"]), 8),
                round(num(&t["pnl"]), 8),
            ])
        })
        .collect();
    let assets: Vec<Value> = list(&res["assets"])
        .iter()
        .map(|a| {
            json!([
                a["symbol"],
                a["trades"],
                a["orders"],
                round(num(&a["exposure_pct"]), 5),
                round(num(&a["pnl"]), 8),
                round(num(&a["contribution_pct"]), 5),
                round(num(&a["final_weight_pct"]), 5),
            ])
        })
        .collect();
    let warnings = list(&res["warnings"]);
    let mut data = json!({
        "bars": n,
        "full": full,
        "from": time.first().map(|&t| backtide_data::format_timestamp(t)),
        "to": time.get(n.saturating_sub(1)).map(|&t| backtide_data::format_timestamp(t)),
        "t": col(&|i| json!(secs(time[i]))),
        "value": col(&|i| round(value[i], 8)),
        "hold": col(&|i| round(hold[i], 8)),
        "dd": col(&|i| round(-dd[i] * 100.0, 5)),
        "alloc": alloc,
        "init_cash": round(init, 10),
        "stats": res["stats"],
        "labels": res["stats"].as_object().map(crate::labels::labels_of),
        "strategy": res["strategy"],
        "profile": res["profile"],
        "universe": res["universe"],
        "assets": assets,
        "trades": trades,
        "trades_total": all_trades.len(),
        "open": open,
        "orders_total": list(&res["orders"]).len(),
        "monthly": monthly(&time[..n], &value),
        "warnings": &warnings[..warnings.len().min(MAX_WARNINGS)],
        "warnings_total": warnings.len(),
    });
    if let Some(b) = &r.benchmark {
        data["bench_name"] = json!(b.name);
        data["bench_stats"] = b
            .stats
            .entries()
            .iter()
            .map(|(_, label, v)| json!([label, serde_json::Number::from_f64(*v)]))
            .collect();
    }
    page(r.title, "portfolio", &data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use backtide_core::portfolio::{self, PortfolioConfig, builtin};
    use backtide_core::{Bars, Params, Profile};

    fn data_of(html: &str) -> Value {
        let tag = "type=\"application/json\">";
        let start = html.find(tag).unwrap() + tag.len();
        let end = start + html[start..].find("</script>").unwrap();
        serde_json::from_str(&html[start..end].replace("<\\/", "</")).unwrap()
    }

    fn stocks(profile: Profile) -> (Universe, Value) {
        let u = backtide_data::load_universe(&["sample:STOCKS"]).unwrap();
        let info = builtin::find("equal_weight").unwrap();
        let params = Params::from_pairs(&info.params, [("rebalance", "monthly")]).unwrap();
        let cfg = PortfolioConfig {
            fees: 0.001,
            ..PortfolioConfig::default()
        };
        let res = portfolio::run(&u, info.build(&params).unwrap().as_mut(), &cfg).unwrap();
        let json = backtide_data::portfolio_json(
            &u,
            &res,
            backtide_data::PortfolioRunInfo {
                profile,
                fill: cfg.fill,
                call_seq: cfg.call_seq,
                strategy: info.name,
                params: &params,
            },
        );
        (u, json)
    }

    #[test]
    fn the_report_embeds_the_run_and_reaches_nothing_online() {
        let (u, result) = stocks(Profile::Vectorbt);
        let html = portfolio_html(&PortfolioReport {
            title: "STOCKS equal_weight",
            universe: &u,
            result: &result,
            benchmark: None,
        });
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("data-kind=\"portfolio\""));
        // Only the licence comment, the attribution link and the SVG namespace name a URL:
        // nothing is loaded from the network.
        let own = html.replace(crate::CHARTS_JS, "");
        let urls: Vec<&str> = own
            .match_indices("http")
            .map(|(i, _)| &own[i..(i + 40).min(own.len())])
            .collect();
        assert!(
            urls.iter()
                .all(|s| s.starts_with("https://www.tradingview.com/\"")
                    || s.starts_with("http://www.w3.org/2000/svg")),
            "{urls:?}"
        );
        for bad in ["src=\"http", "src='http", "url(http", "<link", "@import"] {
            assert!(!html.contains(bad), "{bad}");
        }

        let d = data_of(&html);
        let n = u.len();
        assert!(n <= PORTFOLIO_FULL_BARS);
        assert_eq!(d["t"].as_array().unwrap().len(), n);
        assert_eq!(
            d["trades"].as_array().unwrap().len(),
            list(&result["trades"]).len()
        );
        assert_eq!(d["trades"][0][0], json!("AAPL"));
        assert_eq!(d["assets"].as_array().unwrap().len(), 5);
        assert_eq!(
            d["open"].as_array().unwrap().len(),
            list(&result["open_trades"]).len()
        );
        assert_eq!(d["universe"]["symbols"].as_array().unwrap().len(), 5);
        assert_eq!(d["strategy"]["name"], json!("equal_weight"));
        assert_eq!(d["stats"], result["stats"]);
        // Five assets and the cash; their shares sum to 100 % at every bar.
        let alloc = d["alloc"].as_array().unwrap();
        assert_eq!(alloc.len(), 6);
        assert_eq!(alloc[5]["symbol"], json!("Cash"));
        for i in 0..n {
            let sum: f64 = alloc.iter().map(|a| a["share"][i].as_f64().unwrap()).sum();
            assert!((sum - 100.0).abs() < 0.05, "bar {i}: {sum}");
        }
        // Right after a monthly rebalance each held asset is about a fifth of the value.
        let last = n - 1;
        for a in &alloc[..5] {
            let w = a["share"][last].as_f64().unwrap();
            assert!((w - 20.0).abs() < 1.5, "{}: {w}", a["symbol"]);
        }
        // Units × last close plus cash is the run's own value.
        let held = holdings(&u, &result["positions"], n);
        for (i, e) in list(&result["equity"]).iter().enumerate() {
            let v = num(&e["cash"]) + held.iter().map(|(_, h)| h[i]).sum::<f64>();
            assert!((v - num(&e["equity"])).abs() <= 1e-6 * v.abs(), "bar {i}");
        }
        // The basket ends where the statistics' benchmark does.
        let hold = d["hold"][n - 1].as_f64().unwrap();
        let bench = result["stats"]["benchmark_return_pct"].as_f64().unwrap();
        assert!(
            (hold / 10_000.0 - 1.0 - bench / 100.0).abs() < 1e-6,
            "{hold} {bench}"
        );
        assert!(d["monthly"].as_array().unwrap().len() > 150);
    }

    #[test]
    fn the_backtesting_py_dialect_finds_the_starting_cash() {
        let (u, result) = stocks(Profile::BacktestingPy);
        let d = data_of(&portfolio_html(&PortfolioReport {
            title: "t",
            universe: &u,
            result: &result,
            benchmark: None,
        }));
        assert!(
            (d["init_cash"].as_f64().unwrap() - 10_000.0).abs() < 1e-3,
            "{}",
            d["init_cash"]
        );
        let hold = d["hold"][u.len() - 1].as_f64().unwrap();
        let bench = result["stats"]["buy_and_hold_return_pct"].as_f64().unwrap();
        assert!((hold / 10_000.0 - 1.0 - bench / 100.0).abs() < 1e-6);
    }

    #[test]
    fn a_long_wide_run_is_downsampled() {
        // 50 assets × 20,000 bars: a million position numbers in, a few thousand points out.
        let (assets, n) = (50usize, 20_000usize);
        let time: Vec<i64> = (0..n as i64)
            .map(|i| 1_600_000_000_000_000_000 + i * 60_000_000_000)
            .collect();
        let mut x: u64 = 7;
        let u = Universe::try_new((0..assets).map(|a| {
            let mut p = 100.0f64;
            let close: Vec<f64> = (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    p *= 1.0 + 0.002 * ((x % 2001) as f64 / 1000.0 - 1.0);
                    p
                })
                .collect();
            let bars = Bars::try_new(
                time.clone(),
                close.clone(),
                close.clone(),
                close.clone(),
                close,
                vec![f64::NAN; n],
            )
            .unwrap();
            (format!("A{a:02}"), "synthetic".to_string(), bars)
        }))
        .unwrap();
        let units = 10_000.0 / assets as f64 / 100.0;
        let mut value = vec![0.0; n];
        for a in u.assets() {
            for (v, c) in value.iter_mut().zip(a.bars().close()) {
                *v += units * c;
            }
        }
        let dd = backtide_core::stats::drawdown(&value);
        let result = json!({
            "stats": {"start_value": 10_000.0},
            "equity": (0..n).map(|i| json!({"time": "", "equity": value[i], "drawdown": dd[i], "cash": 0.0})).collect::<Vec<_>>(),
            "positions": u.symbols().map(|s| (s.to_string(), json!(vec![units; n]))).collect::<serde_json::Map<_, _>>(),
            "trades": [], "open_trades": [], "orders": [], "assets": [], "warnings": [],
            "universe": {"symbols": u.symbols().collect::<Vec<_>>(), "fill": "close", "call_seq": "auto"},
            "strategy": {"name": "synthetic", "params": {}},
        });
        let html = portfolio_html(&PortfolioReport {
            title: "wide",
            universe: &u,
            result: &result,
            benchmark: None,
        });
        assert!(html.len() < 2 * 1024 * 1024, "{} bytes", html.len());
        let d = data_of(&html);
        assert!(!d["full"].as_bool().unwrap());
        let drawn = d["t"].as_array().unwrap().len();
        assert!(drawn <= 4 * PORTFOLIO_BUCKETS + 2, "{drawn}");
        let alloc = d["alloc"].as_array().unwrap();
        assert_eq!(alloc.len(), assets + 1);
        assert!(
            alloc
                .iter()
                .all(|a| a["share"].as_array().unwrap().len() == drawn)
        );
        // The deepest drawdown survives the downsampling.
        let deepest = d["dd"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .fold(0.0, f64::min);
        let max_dd = dd.iter().copied().fold(0.0, f64::max) * 100.0;
        assert!(
            (deepest + max_dd).abs() < 1e-3 * max_dd,
            "{deepest} {max_dd}"
        );
    }
}
