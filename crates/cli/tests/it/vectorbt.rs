//! vectorbt 1.2 `Portfolio.from_signals` golden cases (`testdata/golden/vbt_*.json`)
//! reproduced by the same broker with vectorbt's fill semantics: market orders fill at the
//! signal bar's close within that bar, sizes are exact (fractional), SL/TP are checked from
//! the next bar. vectorbt's `ma_crossed_above/below` give the same signals as the strict
//! crossover on these cases (the golden files record 0 mismatches). The trailing stop
//! loss cases (`golden/trailing/vbt_*.json`, `sl_trail=True`, made by
//! `make_vbt_trailing.py` beside them) run with `sl_trail=true`.

use backtide_core::strategy::builtin;
use backtide_core::{BrokerConfig, Commission, Params, RunResult, run};
use serde_json::Value;

use crate::golden::{close, golden};

/// Our run of a vbt golden case.
pub(crate) fn run_case(g: &Value) -> (backtide_core::Bars, RunResult) {
    run_case_on(g, Path::PerBar)
}

/// Which front end runs a case: the per-bar strategy or its signal form.
#[derive(Clone, Copy)]
enum Path {
    PerBar,
    Signals,
}

/// The `sma_cross` parameters that state a vbt golden case (`sl_trail` for the
/// trailing-stop cases in `golden/trailing/`).
fn case_params(c: &Value) -> Vec<(&'static str, String)> {
    let kw = &c["kwargs"];
    let dir = if kw["direction"] == "longonly" {
        "long_only"
    } else {
        "long_short"
    };
    let mut pairs = vec![
        ("fast", c["n1"].to_string()),
        ("slow", c["n2"].to_string()),
        ("direction", dir.to_string()),
    ];
    if let Some(st) = c["sltp"].as_array() {
        if let Some(sl) = st[0].as_f64() {
            pairs.push(("sl_pct", sl.to_string()));
        }
        if let Some(tp) = st[1].as_f64() {
            pairs.push(("tp_pct", tp.to_string()));
        }
    }
    if c["sl_trail"] == true {
        pairs.push(("sl_trail", "true".to_string()));
    }
    pairs
}

fn run_case_on(g: &Value, path: Path) -> (backtide_core::Bars, RunResult) {
    let c = &g["case"];
    let bars = backtide_data::sample("GOOG").unwrap();
    let kw = &c["kwargs"];
    let fees = kw["fees"].as_f64().unwrap();
    let native = c["fill"] == "close";
    let cfg = BrokerConfig {
        cash: kw["init_cash"].as_f64().unwrap(),
        commission: Commission::Relative(fees),
        same_bar_close_fills: native,
        continuous_sizes: native,
        // The bt-emulation case: next-open fills, whole units, always-in-market reversal.
        exclusive_orders: !native,
        ..BrokerConfig::default()
    };
    let pairs = case_params(c);
    let info = builtin::find("sma_cross").unwrap();
    let params =
        Params::from_pairs(info.params, pairs.iter().map(|(k, v)| (*k, v.as_str()))).unwrap();
    let mut strategy = match path {
        Path::PerBar => info.build(&params),
        Path::Signals => info.build_signals(&params),
    }
    .unwrap();
    let res = run(&bars, strategy.as_mut(), &cfg).unwrap();
    (bars, res)
}

fn compare_trades(g: &Value, res: &RunResult) -> Vec<String> {
    let mut bad = Vec::new();
    let all = g["trades"].as_array().unwrap();
    let closed: Vec<&Value> = all.iter().filter(|t| t["Status"] == "Closed").collect();
    let open: Vec<&Value> = all.iter().filter(|t| t["Status"] == "Open").collect();
    if closed.len() != res.trades.len() {
        bad.push(format!(
            "closed trades: golden {} ours {}",
            closed.len(),
            res.trades.len()
        ));
    }
    for (i, (w, o)) in closed.iter().zip(&res.trades).enumerate() {
        let f = |k: &str| w[k].as_f64().unwrap();
        if w["EntryBar"].as_u64() != Some(o.entry_bar as u64)
            || w["ExitBar"].as_u64() != Some(o.exit_bar as u64)
        {
            bad.push(format!(
                "trade {i} bars: golden {}..{} ours {}..{}",
                w["EntryBar"], w["ExitBar"], o.entry_bar, o.exit_bar
            ));
        }
        for (k, ours) in [
            ("Size", o.size),
            ("EntryPrice", o.entry_price),
            ("ExitPrice", o.exit_price),
            ("PnL", o.pnl()),
            ("ReturnPct", o.return_frac()),
        ] {
            if !close(f(k), ours, 1e-9) {
                bad.push(format!("trade {i} {k}: golden {} ours {ours}", f(k)));
            }
        }
        let fees = f("EntryFees") + f("ExitFees");
        if !close(fees, o.commission, 1e-9) {
            bad.push(format!(
                "trade {i} fees: golden {fees} ours {}",
                o.commission
            ));
        }
    }
    if open.len() != res.open_trades.len() {
        bad.push(format!(
            "open trades: golden {} ours {}",
            open.len(),
            res.open_trades.len()
        ));
    }
    for (w, o) in open.iter().zip(&res.open_trades) {
        if w["EntryBar"].as_u64() != Some(o.entry_bar as u64)
            || !close(w["Size"].as_f64().unwrap(), o.size, 1e-9)
            || !close(w["EntryPrice"].as_f64().unwrap(), o.entry_price, 1e-9)
        {
            bad.push(format!("open trade: golden {w} ours {o:?}"));
        }
    }
    let ge = g["equity"]["Equity"].as_array().unwrap();
    let mut shown = 0;
    for (i, (w, o)) in ge.iter().zip(&res.equity).enumerate() {
        let w = w.as_f64().unwrap();
        if !close(w, *o, 1e-9) && shown < 5 {
            bad.push(format!("equity bar {i}: golden {w} ours {o}"));
            shown += 1;
        }
    }
    bad
}

macro_rules! vbt_case {
    ($($test:ident => $file:literal),* $(,)?) => {$(
        #[test]
        fn $test() {
            let g = golden($file);
            let (_, res) = run_case(&g);
            let bad = compare_trades(&g, &res);
            assert!(bad.is_empty(), "{} mismatches:\n{}", bad.len(), bad.join("\n"));
        }
    )*};
}

vbt_case! {
    native_longonly_trades => "vbt_goog_native_longonly",
    native_longonly_sltp_trades => "vbt_goog_native_longonly_sltp",
    native_longshort_trades => "vbt_goog_native_longshort",
    readme_btemu_trades => "vbt_goog_readme_btemu",
    native_longonly_sltrail_trades => "trailing/vbt_goog_native_longonly_sltrail",
    native_longonly_sltrail_tp_trades => "trailing/vbt_goog_native_longonly_sltrail_tp",
}

/// vectorbt statistic name → Backtide JSON key (`shared/reference/vectorbt.md`).
const VBT_KEYS: &[(&str, &str)] = &[
    ("Start Value", "start_value"),
    ("End Value", "end_value"),
    ("Total Return [%]", "total_return_pct"),
    ("Benchmark Return [%]", "benchmark_return_pct"),
    ("Max Gross Exposure [%]", "max_gross_exposure_pct"),
    ("Total Fees Paid", "total_fees_paid"),
    ("Max Drawdown [%]", "max_drawdown_pct"),
    ("Total Trades", "total_trades"),
    ("Total Closed Trades", "total_closed_trades"),
    ("Total Open Trades", "total_open_trades"),
    ("Open Trade PnL", "open_trade_pnl"),
    ("Win Rate [%]", "win_rate_pct"),
    ("Best Trade [%]", "best_trade_pct"),
    ("Worst Trade [%]", "worst_trade_pct"),
    ("Avg Winning Trade [%]", "avg_winning_trade_pct"),
    ("Avg Losing Trade [%]", "avg_losing_trade_pct"),
    ("Profit Factor", "profit_factor"),
    ("Expectancy", "expectancy"),
    ("Sharpe Ratio", "sharpe_ratio"),
    ("Calmar Ratio", "calmar_ratio"),
    ("Omega Ratio", "omega_ratio"),
    ("Sortino Ratio", "sortino_ratio"),
];

const VBT_DURATIONS: &[(&str, &str)] = &[
    ("Period", "period_s"),
    ("Max Drawdown Duration", "max_drawdown_duration_s"),
    ("Avg Winning Trade Duration", "avg_winning_trade_duration_s"),
    ("Avg Losing Trade Duration", "avg_losing_trade_duration_s"),
];

pub(crate) fn compare_stats(g: &Value, ours: &serde_json::Map<String, Value>) -> Vec<String> {
    let mut bad = Vec::new();
    let gs = &g["stats"];
    for (k, key) in VBT_KEYS {
        let (w, o) = (gs[*k].as_f64(), ours[*key].as_f64());
        let ok = match (w, o) {
            (Some(w), Some(o)) => close(w, o, 1e-9),
            (None, None) => true,
            _ => false,
        };
        if !ok {
            bad.push(format!("{k}: golden {} ours {}", gs[*k], ours[*key]));
        }
    }
    for (k, key) in VBT_DURATIONS {
        // pandas prints averaged durations truncated to the microsecond.
        let (w, o) = (gs[*k]["seconds"].as_f64(), ours[*key].as_f64());
        let ok = match (w, o) {
            (Some(w), Some(o)) => (w - o).abs() < 1e-6,
            (None, None) => true,
            _ => false,
        };
        if !ok {
            bad.push(format!("{k}: golden {:?} ours {:?}", w, o));
        }
    }
    for (k, key) in [("Start", "start"), ("End", "end")] {
        if gs[k] != ours[key] {
            bad.push(format!("{k}: golden {} ours {}", gs[k], ours[key]));
        }
    }
    bad
}

macro_rules! vbt_stats_case {
    ($($test:ident => $file:literal),* $(,)?) => {$(
        #[test]
        fn $test() {
            let g = golden($file);
            let (bars, res) = run_case(&g);
            let kw = &g["case"]["kwargs"];
            let cfg = BrokerConfig {
                cash: kw["init_cash"].as_f64().unwrap(),
                commission: Commission::Relative(kw["fees"].as_f64().unwrap()),
                ..BrokerConfig::default()
            };
            let ours = backtide_data::vbt_stats_json(&backtide_core::stats::compute_vectorbt(&bars, &res, &cfg));
            assert_eq!(ours.len(), 28);
                        let bad = compare_stats(&g, &ours);
            assert!(bad.is_empty(), "{} mismatches:\n{}", bad.len(), bad.join("\n"));
        }
    )*};
}

vbt_stats_case! {
    native_longonly_stats => "vbt_goog_native_longonly",
    native_longonly_sltp_stats => "vbt_goog_native_longonly_sltp",
    native_longshort_stats => "vbt_goog_native_longshort",
    readme_btemu_stats => "vbt_goog_readme_btemu",
    native_longonly_sltrail_stats => "trailing/vbt_goog_native_longonly_sltrail",
    native_longonly_sltrail_tp_stats => "trailing/vbt_goog_native_longonly_sltrail_tp",
}

const TRAILING: [&str; 2] = [
    "trailing/vbt_goog_native_longonly_sltrail",
    "trailing/vbt_goog_native_longonly_sltrail_tp",
];

/// The trailing-stop cases through the signal front end: the same run, bit for bit, as
/// the per-bar strategy (and so the golden trades too).
#[test]
fn sltrail_per_bar_and_signal_paths_agree() {
    for file in TRAILING {
        let g = golden(file);
        let (_, per_bar) = run_case_on(&g, Path::PerBar);
        let (_, signals) = run_case_on(&g, Path::Signals);
        assert_eq!(per_bar, signals, "{file}");
        let bad = compare_trades(&g, &signals);
        assert!(bad.is_empty(), "{file}: {}", bad.join("\n"));
    }
}

/// `backtide run --profile vectorbt --param sl_pct=… --param sl_trail=true` reproduces
/// vectorbt's `sl_trail=True` cases: every statistic, every trade, the equity per bar; the
/// stops did most of the exiting (the take profit too, where given).
#[test]
fn sltrail_through_the_cli() {
    for file in TRAILING {
        let g = golden(file);
        let mut args: Vec<String> = [
            "run",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--commission",
            "0.002",
            "--profile",
            "vectorbt",
            "--json",
        ]
        .map(String::from)
        .to_vec();
        for (k, v) in case_params(&g["case"]) {
            args.extend(["--param".to_string(), format!("{k}={v}")]);
        }
        let out = crate::cli::succeeds(&args);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let bad = compare_stats(&g, v["stats"].as_object().unwrap());
        assert!(bad.is_empty(), "{file}: {}", bad.join("\n"));
        let ours = v["trades"].as_array().unwrap();
        let theirs = g["trades"].as_array().unwrap();
        assert_eq!(ours.len(), theirs.len(), "{file}");
        assert!(v["open_trades"].as_array().unwrap().is_empty());
        for (o, w) in ours.iter().zip(theirs) {
            assert_eq!(o["entry_bar"], w["EntryBar"], "{file}");
            assert_eq!(o["exit_bar"], w["ExitBar"], "{file}");
            for (ok, wk) in [
                ("size", "Size"),
                ("entry_price", "EntryPrice"),
                ("exit_price", "ExitPrice"),
                ("pnl", "PnL"),
                ("return", "ReturnPct"),
            ] {
                let (a, b) = (o[ok].as_f64().unwrap(), w[wk].as_f64().unwrap());
                assert!(close(b, a, 1e-9), "{file} {ok}: golden {b} ours {a}");
            }
            let fees = w["EntryFees"].as_f64().unwrap() + w["ExitFees"].as_f64().unwrap();
            assert!(
                close(fees, o["commission"].as_f64().unwrap(), 1e-9),
                "{file}"
            );
        }
        for (o, w) in v["equity"]
            .as_array()
            .unwrap()
            .iter()
            .zip(g["equity"]["Equity"].as_array().unwrap())
        {
            assert!(
                close(w.as_f64().unwrap(), o["equity"].as_f64().unwrap(), 1e-9),
                "{file}"
            );
        }
        let c = backtide_data::sample("GOOG").unwrap();
        let stopped = ours
            .iter()
            .filter(|t| {
                t["exit_price"].as_f64()
                    != Some(c.close()[t["exit_bar"].as_u64().unwrap() as usize])
            })
            .count();
        assert!(stopped >= 40, "{file}: {stopped} stop exits");
        if g["case"]["sltp"][1].is_f64() {
            let took = ours
                .iter()
                .filter(|t| t["tp"].as_f64().is_some() && t["exit_price"] == t["tp"])
                .count();
            assert!(took >= 5, "{file}: {took} take-profit exits");
        }
    }
}

/// Where the rule has no meaning the parameter is refused in one line: without the
/// `sl_pct` stop it trails, beside the other trailing stops, and with fills at the next
/// open (backtesting.py's default), where the entry bar's close is not the entry.
#[test]
fn sltrail_is_refused_where_it_makes_no_sense() {
    let base = ["run", "--data", "sample:GOOG", "--strategy", "sma_cross"];
    let with = |extra: &[&'static str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        a
    };
    crate::cli::fails_with(
        &with(&["--profile", "vectorbt", "--param", "sl_trail=true"]),
        &["sl_trail", "needs sl_pct"],
    );
    crate::cli::fails_with(
        &with(&[
            "--profile",
            "vectorbt",
            "--param",
            "sl_pct=0.05",
            "--param",
            "sl_trail=true",
            "--param",
            "trail_pct=0.05",
        ]),
        &["sl_trail", "trail_pct"],
    );
    crate::cli::fails_with(
        &with(&["--param", "sl_pct=0.05", "--param", "sl_trail=true"]),
        &["sl_trail", "--profile vectorbt"],
    );
    crate::cli::fails_with(
        &with(&[
            "--profile",
            "vectorbt",
            "--param",
            "sl_pct=0.05",
            "--param",
            "sl_trail=yes",
        ]),
        &["sl_trail"],
    );
    // Off is the plain stop.
    crate::cli::succeeds(with(&[
        "--profile",
        "vectorbt",
        "--param",
        "sl_pct=0.05",
        "--param",
        "sl_trail=false",
    ]));
}
