//! Multi-asset golden cases (`testdata/golden/portfolio/vbtpf_*.json`: vectorbt 1.2.0 with
//! `group_by=True, cash_sharing=True` on the five bundled stocks) reproduced through the
//! library: the same filled orders (bar, symbol, side; size, price and fees within 1e-9
//! relative), the same rejections, the portfolio value and cash at every bar, every trade
//! and every statistic within 1e-9 relative.

use backtide_core::Universe;
use backtide_core::portfolio::{
    self, CallSeq, FillAt, PortfolioConfig, PortfolioResult, Side, TradeStatus, builtin,
};
use backtide_core::{Params, Profile};
use serde_json::Value;

use crate::golden::{close, testdata};
use crate::vectorbt::compare_stats;

pub(crate) fn golden_pf(name: &str) -> Value {
    let text = std::fs::read_to_string(testdata(&format!("golden/portfolio/{name}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The five stocks, as the golden cases read them.
pub(crate) fn stocks() -> Universe {
    // TEMP: until sample:STOCKS lands.
    Universe::try_new(["AAPL", "FB", "GOOG", "IBM", "MSFT"].map(|s| {
        let p = format!("/work/shared/data/stocks/{s}.csv");
        (
            s.to_string(),
            p.clone(),
            backtide_data::read_csv(std::path::Path::new(&p)).unwrap(),
        )
    }))
    .unwrap()
}

/// The configuration and strategy of a golden case, from its recorded kwargs.
pub(crate) fn setup(
    g: &Value,
) -> (
    PortfolioConfig,
    &'static builtin::PortfolioStrategyInfo,
    Params,
) {
    let c = &g["case"];
    let kw = &c["kwargs"];
    let cfg = PortfolioConfig {
        cash: kw["init_cash"].as_f64().unwrap(),
        fees: kw["fees"].as_f64().unwrap(),
        fixed_fees: kw["fixed_fees"].as_f64().unwrap_or(0.0),
        slippage: kw["slippage"].as_f64().unwrap_or(0.0),
        size_granularity: None,
        call_seq: if kw["call_seq"] == "auto" {
            CallSeq::Auto
        } else {
            CallSeq::Default
        },
        fill: if c["fill"] == "next_open" {
            FillAt::NextOpen
        } else {
            FillAt::Close
        },
    };
    let info = builtin::find(c["strategy"].as_str().unwrap()).unwrap();
    let mut pairs: Vec<(String, String)> = c["params"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().map_or(v.to_string(), str::to_string)))
        .collect();
    if let Some(size) = kw["size"].as_f64() {
        pairs.push(("size".into(), size.to_string()));
        pairs.push(("size_type".into(), kw["size_type"].as_str().unwrap().into()));
    }
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // vectorbt's crossing rule, as `--profile vectorbt` picks it.
    let pairs = if info.params.iter().any(|p| p.name == "cross") {
        let mut p = pairs;
        p.push(("cross", "stateful"));
        p
    } else {
        pairs
    };
    let params = Params::from_pairs(&info.params, pairs).unwrap();
    let _ = Profile::Vectorbt;
    (cfg, info, params)
}

pub(crate) fn run_golden(g: &Value) -> (Universe, PortfolioResult) {
    let u = stocks();
    let (cfg, info, params) = setup(g);
    let mut s = info.build(&params).unwrap();
    let res = portfolio::run(&u, s.as_mut(), &cfg).unwrap();
    (u, res)
}

pub(crate) fn compare(g: &Value, u: &Universe, res: &PortfolioResult) -> Vec<String> {
    let mut bad = Vec::new();
    let symbols: Vec<&str> = u.symbols().collect();
    let want = g["orders"].as_array().unwrap();
    if want.len() != res.fills.len() {
        bad.push(format!(
            "orders: golden {} ours {}",
            want.len(),
            res.fills.len()
        ));
    }
    for (i, (w, o)) in want.iter().zip(&res.fills).enumerate() {
        let side = match o.side {
            Side::Buy => "Buy",
            Side::Sell => "Sell",
        };
        if w["bar"].as_u64() != Some(o.bar as u64)
            || w["symbol"] != symbols[o.asset]
            || w["side"] != side
            || w["partial"].as_bool() != Some(o.partial)
        {
            bad.push(format!("order {i}: golden {w} ours {o:?}"));
            break;
        }
        for (k, ours) in [
            ("size", o.size),
            ("price", o.price),
            ("fees", o.fees),
            ("cash_before", o.cash_before),
            ("group_value", o.group_value),
        ] {
            let x = w[k].as_f64().unwrap();
            if !close(x, ours, 1e-9) {
                bad.push(format!("order {i} {k}: golden {x} ours {ours}"));
            }
        }
        let requested_ok = match (w["requested_delta"].as_f64(), o.requested) {
            (Some(x), Some(y)) => close(x, y, 1e-9),
            (None, None) => true,
            _ => false,
        };
        if !requested_ok {
            bad.push(format!(
                "order {i} requested: golden {} ours {:?}",
                w["requested_delta"], o.requested
            ));
        }
        if bad.len() > 10 {
            return bad;
        }
    }
    // Rejections other than "no order" (NaN size), by status.
    let mut ours_rej = std::collections::BTreeMap::<&str, u64>::new();
    for r in &res.rejected {
        *ours_rej.entry(r.reason.label()).or_default() += 1;
    }
    for (k, v) in g["rejected"]["counts"].as_object().unwrap() {
        if k != "Ignored/SizeNaN" && ours_rej.get(k.as_str()).copied() != v.as_u64() {
            bad.push(format!(
                "rejected {k}: golden {v} ours {:?}",
                ours_rej.get(k.as_str())
            ));
        }
    }
    for (k, v) in &ours_rej {
        if g["rejected"]["counts"][*k].is_null() {
            bad.push(format!("rejected {k}: golden none, ours {v}"));
        }
    }
    for (key, ours) in [("value", &res.value), ("cash", &res.cash)] {
        let w = g[key].as_array().unwrap();
        assert_eq!(w.len(), ours.len());
        let mut shown = 0;
        for (i, (w, o)) in w.iter().zip(ours).enumerate() {
            let w = w.as_f64().unwrap();
            // Cash is exactly 0 after a partial fill; elsewhere compare relatively.
            let both_zero = w.abs() < 1e-6 && o.abs() < 1e-6;
            if !(close(w, *o, 1e-9) || both_zero) && shown < 5 {
                bad.push(format!("{key} bar {i}: golden {w} ours {o}"));
                shown += 1;
            }
        }
    }
    let pos = portfolio::positions_per_bar(u, res);
    for (a, sym) in symbols.iter().enumerate() {
        let w = g["positions"][*sym].as_array().unwrap();
        if let Some((i, (w, o))) = w
            .iter()
            .zip(&pos[a])
            .enumerate()
            .find(|(_, (w, o))| !close(w.as_f64().unwrap(), **o, 1e-9))
        {
            bad.push(format!("{sym} position bar {i}: golden {w} ours {o}"));
        }
    }
    let trades = portfolio::exit_trades(u, res);
    let wt = g["trades"].as_array().unwrap();
    if wt.len() != trades.len() {
        bad.push(format!("trades: golden {} ours {}", wt.len(), trades.len()));
    }
    for (i, (w, t)) in wt.iter().zip(&trades).enumerate() {
        let status = match t.status {
            TradeStatus::Closed => "Closed",
            TradeStatus::Open => "Open",
        };
        if w["Symbol"] != symbols[t.asset]
            || w["EntryBar"].as_u64() != Some(t.entry_bar as u64)
            || w["Status"] != status
            || w["PositionId"].as_u64() != Some(t.position_id as u64)
            || (t.status == TradeStatus::Closed && w["ExitBar"].as_u64() != Some(t.exit_bar as u64))
        {
            bad.push(format!("trade {i}: golden {w} ours {t:?}"));
            continue;
        }
        for (k, ours) in [
            ("Size", t.size),
            ("EntryPrice", t.entry_price),
            ("ExitPrice", t.exit_price),
            ("EntryFees", t.entry_fees),
            ("ExitFees", t.exit_fees),
            ("PnL", t.pnl()),
            ("ReturnPct", t.return_frac()),
        ] {
            let x = w[k].as_f64().unwrap();
            if !close(x, ours, 1e-9) {
                bad.push(format!("trade {i} {k}: golden {x} ours {ours}"));
            }
        }
        if bad.len() > 20 {
            return bad;
        }
    }
    let stats = portfolio::stats::vectorbt(u, res, &trades);
    bad.extend(compare_stats(g, &backtide_data::vbt_stats_json(&stats)));
    bad
}

macro_rules! portfolio_case {
    ($($test:ident => $file:literal),* $(,)?) => {$(
        #[test]
        fn $test() {
            let g = golden_pf($file);
            let (u, res) = run_golden(&g);
            let bad = compare(&g, &u, &res);
            assert!(bad.is_empty(), "{} mismatches:\n{}", bad.len(), bad.join("\n"));
        }
    )*};
}

portfolio_case! {
    equal_weight_monthly => "vbtpf_equal_weight_monthly",
    equal_weight_monthly_default_seq => "vbtpf_equal_weight_monthly_default_seq",
    equal_weight_quarterly_next_open => "vbtpf_equal_weight_quarterly_next_open",
    momentum_top2_monthly => "vbtpf_momentum_top2_monthly",
    sma_cross_value_sized => "vbtpf_sma_cross_value_sized",
    sma_cross_all_cash_default_seq => "vbtpf_sma_cross_all_cash_default_seq",
}

/// `backtide run --profile vectorbt --json` arguments for a golden case.
pub(crate) fn cli_args(g: &Value) -> Vec<String> {
    let c = &g["case"];
    let kw = &c["kwargs"];
    let mut args: Vec<String> = [
        "run",
        "--data",
        "sample:STOCKS",
        "--profile",
        "vectorbt",
        "--json",
    ]
    .map(String::from)
    .into();
    args.extend(["--strategy".into(), c["strategy"].as_str().unwrap().into()]);
    for (k, v) in c["params"].as_object().unwrap() {
        let v = v.as_str().map_or(v.to_string(), str::to_string);
        args.extend(["--param".into(), format!("{k}={v}")]);
    }
    if let Some(size) = kw["size"].as_f64() {
        args.extend(["--param".into(), format!("size={size}")]);
        args.extend([
            "--param".into(),
            format!("size_type={}", kw["size_type"].as_str().unwrap()),
        ]);
    }
    args.extend(["--cash".into(), kw["init_cash"].to_string()]);
    args.extend(["--commission".into(), kw["fees"].to_string()]);
    if let Some(s) = kw["slippage"].as_f64() {
        args.extend(["--slippage".into(), s.to_string()]);
    }
    if let Some(f) = kw["fixed_fees"].as_f64() {
        args.extend(["--commission-fixed".into(), f.to_string()]);
    }
    args.extend(["--call-seq".into(), kw["call_seq"].as_str().unwrap().into()]);
    args.extend(["--fill".into(), c["fill"].as_str().unwrap().into()]);
    args
}

#[test]
fn golden_portfolios_through_the_cli_json() {
    for name in [
        "vbtpf_equal_weight_monthly",
        "vbtpf_equal_weight_monthly_default_seq",
        "vbtpf_equal_weight_quarterly_next_open",
        "vbtpf_momentum_top2_monthly",
        "vbtpf_sma_cross_value_sized",
        "vbtpf_sma_cross_all_cash_default_seq",
    ] {
        let g = golden_pf(name);
        let out = crate::cli::backtide().args(cli_args(&g)).output().unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut bad = compare_stats(&g, v["stats"].as_object().unwrap());
        let (want, ours) = (
            g["orders"].as_array().unwrap(),
            v["orders"].as_array().unwrap(),
        );
        if want.len() != ours.len() {
            bad.push(format!("orders: golden {} ours {}", want.len(), ours.len()));
        }
        for (i, (w, o)) in want.iter().zip(ours).enumerate() {
            let same = ["bar", "time", "symbol", "side"]
                .iter()
                .all(|k| w[*k] == o[*k])
                && ["size", "price", "fees"]
                    .iter()
                    .all(|k| close(w[*k].as_f64().unwrap(), o[*k].as_f64().unwrap(), 1e-9));
            if !same {
                bad.push(format!("order {i}: golden {w} ours {o}"));
                break;
            }
        }
        for (i, (w, o)) in g["value"]
            .as_array()
            .unwrap()
            .iter()
            .zip(v["equity"].as_array().unwrap())
            .enumerate()
        {
            if !close(w.as_f64().unwrap(), o["equity"].as_f64().unwrap(), 1e-9) {
                bad.push(format!("value bar {i}: golden {w} ours {}", o["equity"]));
                break;
            }
        }
        for (sym, w) in g["positions"].as_object().unwrap() {
            let o = v["positions"][sym].as_array().unwrap();
            if w.as_array()
                .unwrap()
                .iter()
                .zip(o)
                .any(|(a, b)| !close(a.as_f64().unwrap(), b.as_f64().unwrap(), 1e-9))
            {
                bad.push(format!("{sym}: positions differ"));
            }
        }
        let closed = g["trades"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["Status"] == "Closed")
            .count();
        assert_eq!(v["trades"].as_array().unwrap().len(), closed, "{name}");
        assert!(v["trades"][0]["symbol"].is_string());
        assert!(
            bad.is_empty(),
            "{name}: {} mismatches:\n{}",
            bad.len(),
            bad.join("\n")
        );
    }
}

/// A universe of one asset is the single-asset case: per-asset `sma_cross` on GOOG alone
/// gives vectorbt's single-asset `from_signals` result (golden `vbt_goog_native_longonly`)
/// and the single-asset engine's trades and equity.
#[test]
fn a_universe_of_one_gives_the_single_asset_result() {
    let g = crate::golden::golden("vbt_goog_native_longonly");
    let u = backtide_data::load_universe(&["sample:GOOG"]).unwrap();
    assert_eq!(u.n_assets(), 1);
    let info = builtin::find("sma_cross").unwrap();
    let params = Params::from_pairs(
        &info.params,
        [("fast", "10"), ("slow", "20"), ("cross", "stateful")],
    )
    .unwrap();
    let cfg = PortfolioConfig {
        cash: 10_000.0,
        fees: 0.002,
        ..PortfolioConfig::default()
    };
    let res = portfolio::run(&u, info.build(&params).unwrap().as_mut(), &cfg).unwrap();
    let trades = portfolio::exit_trades(&u, &res);
    let (_, single) = crate::vectorbt::run_case(&g);
    let closed: Vec<_> = trades
        .iter()
        .filter(|t| t.status == TradeStatus::Closed)
        .collect();
    assert_eq!(closed.len(), single.trades.len());
    for (p, s) in closed.iter().zip(&single.trades) {
        assert_eq!((p.entry_bar, p.exit_bar), (s.entry_bar, s.exit_bar));
        for (a, b) in [
            (p.size, s.size),
            (p.entry_price, s.entry_price),
            (p.exit_price, s.exit_price),
        ] {
            assert!(close(a, b, 1e-12), "{a} vs {b}");
        }
        // vectorbt's PnL is exit value − entry value − fees, backtesting.py's (and the
        // single-asset engine's) size × price difference − fees: equal up to rounding.
        assert!(close(p.pnl(), s.pnl(), 1e-9), "{} vs {}", p.pnl(), s.pnl());
    }
    for (i, (a, b)) in res.value.iter().zip(&single.equity).enumerate() {
        assert!(close(*a, *b, 1e-12), "bar {i}: {a} vs {b}");
    }
    let stats = portfolio::stats::vectorbt(&u, &res, &trades);
    let bad = compare_stats(&g, &backtide_data::vbt_stats_json(&stats));
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// Bad universes stop `backtide run` with one line naming the file, symbol, line and rule.
#[test]
fn bad_universes_exit_with_one_line() {
    use crate::cli::fails_with;
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).display().to_string();
    let row = |d: &str, c: f64| format!("{d},{c},{},{},{c},100\n", c + 1.0, c - 1.0);
    let header = "date,symbol,open,high,low,close,volume\n";
    let long_row =
        |d: &str, s: &str, c: f64| format!("{d},{s},{c},{},{},{c},100\n", c + 1.0, c - 1.0);
    std::fs::write(
        p("a.csv"),
        format!(
            "date,open,high,low,close,volume\n{}{}",
            row("2020-01-01", 10.0),
            row("2020-01-02", 11.0)
        ),
    )
    .unwrap();
    std::fs::write(p("empty.csv"), "date,open,high,low,close,volume\n").unwrap();
    std::fs::write(
        p("unsorted.csv"),
        format!(
            "{header}{}{}{}",
            long_row("2020-01-02", "AAA", 10.0),
            long_row("2020-01-02", "BBB", 5.0),
            long_row("2020-01-01", "AAA", 10.0)
        ),
    )
    .unwrap();
    std::fs::write(
        p("dup.csv"),
        format!(
            "{header}{}{}{}",
            long_row("2020-01-01", "AAA", 10.0),
            long_row("2020-01-02", "BBB", 5.0),
            long_row("2020-01-01", "AAA", 10.5)
        ),
    )
    .unwrap();
    let run = |specs: &[String]| {
        let mut v = vec![
            "run".to_string(),
            "--strategy".into(),
            "equal_weight".into(),
        ];
        for s in specs {
            v.extend(["--data".into(), s.clone()]);
        }
        v
    };
    let check = |specs: &[String], parts: &[&str]| {
        let args = run(specs);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fails_with(&args, parts);
    };
    // Duplicate symbol across specs.
    check(
        &[format!("AAA={}", p("a.csv")), format!("AAA={}", p("a.csv"))],
        &["symbol `AAA` appears twice", "a.csv"],
    );
    // A symbol with no rows.
    check(
        &[format!("EMPTY={}", p("empty.csv")), p("a.csv")],
        &["symbol `EMPTY`", "empty.csv", "has no rows"],
    );
    // Unsorted and duplicate (symbol, time) rows in a long file.
    check(
        &[p("unsorted.csv")],
        &[
            "unsorted.csv",
            "line 4",
            "symbol `AAA`",
            "strictly increasing",
        ],
    );
    check(
        &[p("dup.csv")],
        &["dup.csv", "line 4", "symbol `AAA`", "duplicate"],
    );
    // A symbol that does not match the file's own symbol column.
    std::fs::write(
        p("two.csv"),
        format!(
            "{header}{}{}",
            long_row("2020-01-01", "AAA", 10.0),
            long_row("2020-01-01", "BBB", 5.0)
        ),
    )
    .unwrap();
    check(
        &[format!("CCC={}", p("two.csv"))],
        &["CCC=", "AAA, BBB", "not only `CCC`"],
    );
    // A bad value names the symbol too.
    std::fs::write(
        p("bad.csv"),
        format!(
            "{header}{}2020-01-02,BBB,5,4,3,5,100\n",
            long_row("2020-01-01", "BBB", 5.0)
        ),
    )
    .unwrap();
    check(
        &[p("bad.csv")],
        &[
            "bad.csv",
            "line 3",
            "symbol `BBB`",
            "High",
            "High must be >=",
        ],
    );
    // Portfolio-only settings are refused by name; an unknown strategy lists the known ones.
    fails_with(
        &[
            "run",
            "--data",
            "sample:STOCKS",
            "--strategy",
            "equal_weight",
            "--margin",
            "0.5",
        ],
        &["margin", "cash only"],
    );
    fails_with(
        &["run", "--data", "sample:STOCKS", "--strategy", "nope"],
        &[
            "sample:STOCKS is a portfolio",
            "equal_weight",
            "momentum_rotation",
        ],
    );
    fails_with(
        &[
            "run",
            "--data",
            "sample:STOCKS",
            "--strategy",
            "sma_cross",
            "--param",
            "direction=long_short",
        ],
        &["direction", "long_only"],
    );
}

/// The portfolio commands of the README work verbatim on the bundled sample.
#[test]
fn readme_portfolio_commands_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = |f: &str| dir.path().join(f).display().to_string();
    let cases: Vec<Vec<String>> = vec![
        "run --data sample:STOCKS --strategy equal_weight --param rebalance=monthly --profile vectorbt --commission 0.001 --slippage 0.0005 --cash 100000",
        "run --data sample:STOCKS --strategy momentum_rotation --param lookback=126 --param top=2 --fill next_open",
        "run --data sample:STOCKS --strategy sma_cross --param fast=10 --param slow=30 --param size=2500 --param size_type=value --profile vectorbt --call-seq default",
        "run --data sample:STOCKS --strategy inverse_volatility --param lookback=63 --param rebalance=quarterly",
        "sweep --data sample:STOCKS --strategy momentum_rotation --grid lookback=21:252:21 --grid top=1,2,3 --profile vectorbt",
    ]
    .into_iter()
    .map(|c| c.split(' ').map(String::from).collect())
    .collect();
    for args in cases {
        let o = crate::cli::backtide().args(&args).output().unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let o = crate::cli::backtide()
        .args([
            "run",
            "--data",
            "sample:STOCKS",
            "--strategy",
            "equal_weight",
            "--trades-csv",
            &out("t.csv"),
            "--equity-csv",
            &out("e.csv"),
            "--report",
            &out("r.html"),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let trades = std::fs::read_to_string(out("t.csv")).unwrap();
    assert!(trades.starts_with("symbol,entry_bar"));
    assert!(trades.lines().nth(1).unwrap().starts_with("AAPL,"));
    assert!(
        std::fs::read_to_string(out("e.csv"))
            .unwrap()
            .starts_with("time,equity,drawdown,cash")
    );
    assert!(std::fs::metadata(out("r.html")).unwrap().len() > 10_000);
    for (data, strategy) in [
        ("sample:STOCKS", "equal_weight"),
        ("sample:GOOG", "sma_cross"),
    ] {
        let o = crate::cli::backtide()
            .args([
                "run",
                "--data",
                data,
                "--strategy",
                strategy,
                "--equity-parquet",
                &out("e.parquet"),
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let bytes = std::fs::read(out("e.parquet")).unwrap();
        assert_eq!(&bytes[..4], b"PAR1", "{data}: a Parquet file");
    }
}
