//! The rule language end to end: rules restating every built-in give the built-in's
//! trades, equity and statistics bit for bit on every bundled single-asset data set; two
//! strategies that need the language reproduce backtesting.py 0.6.6
//! (`testdata/golden/rules/`, made by the script beside them); errors through the CLI.

use assert_cmd::Command;
use backtide_core::strategy::builtin;
use backtide_core::{BrokerConfig, Commission, Params, Profile, run, stats};
use serde_json::Value;

use crate::golden::{compare, golden};

/// A built-in and the rules that restate it (same decisions, same registered indicators).
struct Restated {
    builtin: &'static str,
    params: &'static [(&'static str, &'static str)],
    rules: &'static [(&'static str, &'static str)],
}

const SMA_UP: &str = "crossover(sma(close, 10), sma(close, 30))";
const SMA_DOWN: &str = "crossunder(sma(close, 10), sma(close, 30))";

const RESTATED: &[Restated] = &[
    Restated {
        builtin: "sma_cross",
        params: &[("fast", "10"), ("slow", "30"), ("direction", "long_only")],
        rules: &[("entry", SMA_UP), ("exit", SMA_DOWN)],
    },
    // backtesting.py's `position.close(); buy()` on every cross: `entries=reenter`.
    Restated {
        builtin: "sma_cross",
        params: &[("fast", "10"), ("slow", "30"), ("direction", "long_short")],
        rules: &[
            ("entry", SMA_UP),
            ("exit", SMA_DOWN),
            ("direction", "long_short"),
            ("entries", "reenter"),
        ],
    },
    Restated {
        builtin: "sma_cross",
        params: &[("fast", "10"), ("slow", "30"), ("direction", "short_only")],
        rules: &[
            ("short_entry", SMA_DOWN),
            ("short_exit", SMA_UP),
            ("direction", "short_only"),
        ],
    },
    Restated {
        builtin: "sma_cross",
        params: &[
            ("fast", "10"),
            ("slow", "30"),
            ("direction", "long_only"),
            ("sl_pct", "0.05"),
            ("tp_pct", "0.1"),
            ("size", "0.5"),
        ],
        rules: &[
            ("entry", SMA_UP),
            ("exit", SMA_DOWN),
            ("sl_pct", "0.05"),
            ("tp_pct", "0.1"),
            ("size", "0.5"),
        ],
    },
    Restated {
        builtin: "sma_cross",
        params: &[
            ("fast", "5"),
            ("slow", "25"),
            ("direction", "long_short"),
            ("cross", "stateful"),
            ("sl_pct", "0.03"),
        ],
        rules: &[
            ("entry", "crossover(sma(close, 5), sma(close, 25))"),
            ("exit", "crossunder(sma(close, 5), sma(close, 25))"),
            ("direction", "long_short"),
            ("entries", "reenter"),
            ("cross", "stateful"),
            ("sl_pct", "0.03"),
        ],
    },
    Restated {
        builtin: "ema_cross",
        params: &[("fast", "12"), ("slow", "26"), ("direction", "long_short")],
        rules: &[
            ("entry", "crossover(ema(close, 12), ema(close, 26))"),
            ("exit", "crossunder(ema(close, 12), ema(close, 26))"),
            ("direction", "long_short"),
            ("entries", "reenter"),
        ],
    },
    Restated {
        builtin: "macd_cross",
        params: &[
            ("fast", "12"),
            ("slow", "26"),
            ("signal", "9"),
            ("direction", "long_only"),
        ],
        rules: &[
            (
                "entry",
                "crossover(macd(close, 12, 26, 9), macd_signal(close, 12, 26, 9))",
            ),
            (
                "exit",
                "crossunder(macd(close, 12, 26, 9), macd_signal(close, 12, 26, 9))",
            ),
        ],
    },
    Restated {
        builtin: "rsi_reversion",
        params: &[("period", "14"), ("lower", "30"), ("upper", "70")],
        rules: &[
            ("entry", "rsi(close, 14) < 30"),
            ("exit", "rsi(close, 14) > 70"),
        ],
    },
    // long_short: with no short_entry, `exit` reverses to short.
    Restated {
        builtin: "rsi_reversion",
        params: &[
            ("period", "10"),
            ("lower", "35"),
            ("upper", "65"),
            ("direction", "long_short"),
        ],
        rules: &[
            ("entry", "rsi(close, 10) < 35"),
            ("exit", "rsi(close, 10) > 65"),
            ("direction", "long_short"),
        ],
    },
    Restated {
        builtin: "bollinger_reversion",
        params: &[("period", "20"), ("k", "2")],
        rules: &[
            ("entry", "close < bb_lower(close, 20, 2)"),
            ("exit", "close > bb_middle(close, 20, 2)"),
            ("entries", "when_flat"),
        ],
    },
    Restated {
        builtin: "bollinger_reversion",
        params: &[("period", "20"), ("k", "1.5"), ("direction", "long_short")],
        rules: &[
            ("entry", "close < bb_lower(close, 20, 1.5)"),
            ("exit", "close > bb_middle(close, 20, 1.5)"),
            ("short_entry", "close > bb_upper(close, 20, 1.5)"),
            ("short_exit", "close < bb_middle(close, 20, 1.5)"),
            ("direction", "long_short"),
            ("entries", "when_flat"),
        ],
    },
    Restated {
        builtin: "donchian_breakout",
        params: &[("entry", "20"), ("exit", "10")],
        rules: &[
            ("entry", "close > shift(highest(high, 20), 1)"),
            ("exit", "close < shift(lowest(low, 10), 1)"),
        ],
    },
    Restated {
        builtin: "donchian_breakout",
        params: &[("entry", "20"), ("exit", "10"), ("direction", "long_short")],
        rules: &[
            ("entry", "close > shift(highest(high, 20), 1)"),
            ("exit", "close < shift(lowest(low, 10), 1)"),
            ("short_entry", "close < shift(lowest(low, 20), 1)"),
            ("short_exit", "close > shift(highest(high, 10), 1)"),
            ("direction", "long_short"),
        ],
    },
];

/// Every bundled single-asset data set.
const DATA: [&str; 3] = ["GOOG", "EURUSD", "BTCUSD"];

fn cfg(profile: Profile) -> BrokerConfig {
    let base = BrokerConfig {
        cash: 1_000_000.0,
        commission: Commission::Relative(0.002),
        ..BrokerConfig::default()
    };
    profile.configure(base).unwrap()
}

/// The run and its statistics, as text (NaN-safe, bit-exact through `{:?}`).
fn outcome(
    bars: &backtide_core::Bars,
    name: &str,
    pairs: &[(&str, &str)],
    cfg: &BrokerConfig,
    signal_form: bool,
) -> (String, usize) {
    let info = builtin::find(name).unwrap().specialize(pairs).unwrap();
    let params = Params::from_pairs(info.params, pairs.iter().copied()).unwrap();
    let mut s = if signal_form {
        info.build_signals(&params).unwrap()
    } else {
        info.build(&params).unwrap()
    };
    let res = run(bars, s.as_mut(), cfg).unwrap();
    let st = stats::compute(bars, &res);
    let text = format!(
        "{:?}\n{:?}\n{:?}\n{:?}\nwarm-up {}\n{st:?}",
        res.trades, res.open_trades, res.equity, res.warnings, res.warmup
    );
    (text, res.trades.len())
}

#[test]
fn rules_restating_each_builtin_match_it_on_every_data_set() {
    let (mut checked, mut trades) = (0, 0);
    for data in DATA {
        let bars = backtide_data::sample(data).unwrap();
        for profile in [Profile::BacktestingPy, Profile::Vectorbt] {
            let cfg = cfg(profile);
            for r in RESTATED {
                let mut rules: Vec<(&str, &str)> = r.rules.to_vec();
                let mut params: Vec<(&str, &str)> = r.params.to_vec();
                if profile == Profile::Vectorbt && !params.iter().any(|(k, _)| *k == "cross") {
                    // The profile's default for both (as `backtide run --profile vectorbt`).
                    if builtin::find(r.builtin)
                        .unwrap()
                        .params
                        .iter()
                        .any(|p| p.name == "cross")
                    {
                        params.push(("cross", "stateful"));
                    }
                    rules.push(("cross", "stateful"));
                }
                let (want, n) = outcome(&bars, r.builtin, &params, &cfg, false);
                let (got, _) = outcome(&bars, "rules", &rules, &cfg, true);
                trades += n;
                assert!(
                    want == got,
                    "{data} {profile:?}: rules {:?} differ from {} {:?}",
                    r.rules,
                    r.builtin,
                    r.params
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, DATA.len() * 2 * RESTATED.len());
    // Enough decisions for the comparison to mean something (the monthly BTCUSD sample
    // has few bars, GOOG and EURUSD hundreds of trades).
    assert!(trades > 3000, "{trades} trades compared");
}

/// A backtesting.py case written with rules (`case.rules` holds the expressions).
fn run_rules_case(name: &str) -> Vec<String> {
    let g = golden(&format!("rules/{name}"));
    let c = &g["case"];
    let bars = backtide_data::sample(c["data"].as_str().unwrap().trim_end_matches(".csv")).unwrap();
    let b = &c["broker"];
    let cfg = BrokerConfig {
        cash: b["cash"].as_f64().unwrap(),
        commission: Commission::Relative(b["commission"].as_f64().unwrap()),
        spread: b["spread"].as_f64().unwrap(),
        margin: b["margin"].as_f64().unwrap(),
        ..BrokerConfig::default()
    };
    let texts: Vec<(String, String)> = c["rules"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), v)
        })
        .collect();
    let pairs: Vec<(&str, &str)> = texts
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let info = builtin::find("rules").unwrap().specialize(&pairs).unwrap();
    let params = Params::from_pairs(info.params, pairs).unwrap();
    let mut s = info.build_signals(&params).unwrap();
    let res = run(&bars, s.as_mut(), &cfg).unwrap();
    let st = stats::compute(&bars, &res);
    compare(&g, &backtide_data::result_json(&bars, &res, &st))
}

#[test]
fn rsi_entry_filtered_by_sma200_with_a_stop_loss_matches_backtesting_py() {
    let bad = run_rules_case("bt_goog_rules_rsi_sma_sl");
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn entry_on_bars_since_a_cross_with_an_atr_take_profit_matches_backtesting_py() {
    let bad = run_rules_case("bt_goog_rules_barssince_tp");
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

fn backtide() -> Command {
    Command::cargo_bin("backtide").unwrap()
}

fn json_of(args: &[&str]) -> Value {
    let out = backtide().args(args).arg("--json").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_cli_runs_rules_with_the_builtins_numbers() {
    let builtin = json_of(&[
        "run",
        "--data",
        "sample:GOOG",
        "--strategy",
        "rsi_reversion",
        "--param",
        "period=14",
    ]);
    let rules = json_of(&[
        "run",
        "--data",
        "sample:GOOG",
        "--strategy",
        "rules",
        "--param",
        "entry=rsi(close, 14) < 30",
        "--param",
        "exit=rsi(close, 14) > 70",
    ]);
    for key in ["stats", "trades", "equity"] {
        assert_eq!(builtin[key], rules[key], "{key}");
    }
    assert_eq!(rules["strategy"]["name"], "rules");
    assert_eq!(rules["strategy"]["params"]["entry"], "rsi(close, 14) < 30");
}

#[test]
fn a_rules_sweep_over_dollar_parameters_equals_the_builtin_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    let common = [
        "sweep",
        "--data",
        "sample:GOOG",
        "--constraint",
        "fast < slow",
    ];
    let out = backtide()
        .args(common)
        .args([
            "--strategy",
            "sma_cross",
            "--grid",
            "fast=5:20:5",
            "--grid",
            "slow=20:60:20",
        ])
        .args(["--param", "direction=long_only", "--out"])
        .arg(&a)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = backtide()
        .args(common)
        .args([
            "--strategy",
            "rules",
            "--grid",
            "fast=5:20:5",
            "--grid",
            "slow=20:60:20",
        ])
        .args([
            "--param",
            "entry=crossover(sma(close, $fast), sma(close, $slow))",
            "--param",
            "exit=crossunder(sma(close, $fast), sma(close, $slow))",
            "--out",
        ])
        .arg(&b)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Same statistics per combination; the rules file has the expressions as columns too.
    let read = |p: &std::path::Path| {
        let mut r = csv::Reader::from_path(p).unwrap();
        let h = r.headers().unwrap().clone();
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        (h, rows)
    };
    let ((ha, ra), (hb, rb)) = (read(&a), read(&b));
    assert_eq!(ra.len(), rb.len());
    assert!(ra.len() >= 10);
    for key in [
        "fast",
        "slow",
        "sharpe_ratio",
        "equity_final",
        "num_trades",
        "sqn",
    ] {
        let (ia, ib) = (
            ha.iter().position(|h| h == key).unwrap(),
            hb.iter().position(|h| h == key).unwrap(),
        );
        for (x, y) in ra.iter().zip(&rb) {
            assert_eq!(x[ia], y[ib], "{key}");
        }
    }
}

fn cli_error(params: &[&str]) -> String {
    let mut cmd = backtide();
    cmd.args(["run", "--data", "sample:GOOG", "--strategy", "rules"]);
    for p in params {
        cmd.args(["--param", p]);
    }
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn cli_errors_point_at_the_column_and_say_what_was_expected() {
    let e = cli_error(&["entry=rsi(close, ) < 30"]);
    assert!(e.contains("parameter `entry`: expected an operand"), "{e}");
    assert!(
        e.contains("at column 12\n  rsi(close, ) < 30\n             ^"),
        "{e}"
    );

    let e = cli_error(&["entry=rsii(close, 14) < 30"]);
    assert!(
        e.contains("unknown function `rsii` (did you mean `rsi`?)"),
        "{e}"
    );
    let e = cli_error(&["entry=clsoe > 10"]);
    assert!(
        e.contains("unknown series `clsoe` (did you mean `close`?)"),
        "{e}"
    );

    let e = cli_error(&["entry=close"]);
    assert!(
        e.contains("entry must be a condition") && e.contains("got a number series"),
        "{e}"
    );
    let e = cli_error(&["entry=close > 1 and sma(close, 5)"]);
    assert!(
        e.contains("`and` needs conditions on both sides, got a number series on the right"),
        "{e}"
    );

    let e = cli_error(&["entry=close > shift(close, -1)"]);
    assert!(e.contains("look-ahead is not allowed"), "{e}");

    let e = cli_error(&["entry=close > sma(close, $n)"]);
    assert!(
        e.contains("parameter `n`: is required") && e.contains("$n"),
        "{e}"
    );
    let e = cli_error(&["entry=close > sma(close, $n)", "n=0"]);
    assert!(
        e.contains("parameter `n`") && e.contains("[1, 100000]"),
        "{e}"
    );
    let e = cli_error(&["entry=close > sma(close, $size)"]);
    assert!(e.contains("has the name of a parameter of `rules`"), "{e}");
    let e = cli_error(&["exit=close > 1"]);
    assert!(e.contains("parameter `entry`: is required"), "{e}");
}

/// The golden portfolios (vectorbt 1.2, `cash_sharing=True`) written as rules: the
/// momentum rotation as a cross-sectional `score` with `top`, the per-asset crosses as
/// `entry`/`exit` with `$parameters`. Same orders, value and statistics as vectorbt.
#[test]
fn golden_portfolios_written_as_rules_match_vectorbt() {
    use crate::portfolio::{compare as compare_pf, golden_pf, setup, stocks};
    use backtide_core::portfolio::{self, builtin as pf};
    for (file, rules) in [
        (
            "vbtpf_momentum_top2_monthly",
            vec![
                ("score", "ret(close, $lookback)"),
                ("lookback", "126"),
                ("top", "2"),
            ],
        ),
        (
            "vbtpf_sma_cross_value_sized",
            vec![
                ("entry", "crossover(sma(close, $fast), sma(close, $slow))"),
                ("exit", "crossunder(sma(close, $fast), sma(close, $slow))"),
                ("fast", "10"),
                ("slow", "30"),
            ],
        ),
        (
            "vbtpf_sma_cross_all_cash_default_seq",
            vec![
                ("entry", "crossover(sma(close, 20), sma(close, 50))"),
                ("exit", "crossunder(sma(close, 20), sma(close, 50))"),
            ],
        ),
    ] {
        let g = golden_pf(file);
        // The golden's account settings and size; the strategy replaced by the rules.
        let (cfg, _, golden_params) = setup(&g);
        let mut pairs = rules.clone();
        pairs.push(("cross", "stateful"));
        let size = golden_params.values().get("size").map(|v| v.to_string());
        let size_type = golden_params
            .values()
            .get("size_type")
            .map(|v| v.to_string());
        if let (Some(s), Some(t)) = (&size, &size_type) {
            pairs.push(("size", s));
            pairs.push(("size_type", t));
        }
        let info = pf::find("rules").unwrap().specialize(&pairs).unwrap();
        let params = Params::from_pairs(&info.params, pairs).unwrap();
        let u = stocks();
        let mut s = info.build(&params).unwrap();
        let res = portfolio::run(&u, s.as_mut(), &cfg).unwrap();
        let bad = compare_pf(&g, &u, &res);
        assert!(
            bad.is_empty(),
            "{file}: {} mismatches:\n{}",
            bad.len(),
            bad.join("\n")
        );
    }
}

#[test]
fn portfolio_rules_errors_name_the_parameter() {
    use backtide_core::portfolio::builtin as pf;
    let build = |pairs: &[(&str, &str)]| {
        let info = pf::find("rules").unwrap().specialize(pairs)?;
        let p = Params::from_pairs(&info.params, pairs.iter().copied())?;
        info.build(&p).map(|_| ())
    };
    let e = build(&[("score", "ret(close, 20)")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("`top`: is required with score"), "{e}");
    let e = build(&[
        ("score", "ret(close, 20)"),
        ("top", "2"),
        ("entry", "close > 1"),
    ])
    .unwrap_err()
    .to_string();
    assert!(e.contains("`entry`: is per asset"), "{e}");
    let e = build(&[("entry", "close > 1"), ("top", "2")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("`top`: goes with score"), "{e}");
    let e = build(&[("score", "close > 1"), ("top", "2")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("score must be a number"), "{e}");
    let e = build(&[("score", "ret(close, $n)"), ("top", "2")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("`n`: is required"), "{e}");
}

#[test]
fn a_cross_sectional_rule_through_the_cli_equals_momentum_rotation() {
    let momentum = json_of(&[
        "run",
        "--data",
        "sample:STOCKS",
        "--strategy",
        "momentum_rotation",
        "--param",
        "lookback=63",
        "--param",
        "top=3",
        "--param",
        "rebalance=weekly",
    ]);
    let rules = json_of(&[
        "run",
        "--data",
        "sample:STOCKS",
        "--strategy",
        "rules",
        "--param",
        "score=ret(close, 63)",
        "--param",
        "top=3",
        "--param",
        "rebalance=weekly",
    ]);
    for key in ["stats", "orders", "trades", "equity"] {
        assert!(momentum.get(key).is_some(), "{key}");
        assert_eq!(momentum[key], rules[key], "{key}");
    }
}

#[test]
fn weights_and_bottom_picks_across_assets() {
    use backtide_core::portfolio::{self, PortfolioConfig, builtin as pf};
    let u = crate::portfolio::stocks();
    let cfg = PortfolioConfig::default();
    let run = |name: &str, pairs: &[(&str, &str)]| {
        let info = pf::find(name).unwrap().specialize(pairs).unwrap();
        let p = Params::from_pairs(&info.params, pairs.iter().copied()).unwrap();
        portfolio::run(&u, info.build(&p).unwrap().as_mut(), &cfg).unwrap()
    };
    // `bottom` of the negated score holds the same assets as `top` of the score.
    let top = run("rules", &[("score", "ret(close, 126)"), ("top", "2")]);
    let bottom = run("rules", &[("score", "-ret(close, 126)"), ("bottom", "2")]);
    assert_eq!(format!("{:?}", top.value), format!("{:?}", bottom.value));
    // Weights normalised over the chosen assets: every asset, weighted by 1/volatility, is
    // inverse_volatility (its sample deviation against our population one: the factor
    // cancels in the normalisation, leaving rounding).
    let inv = run("inverse_volatility", &[("lookback", "63")]);
    let rules = run(
        "rules",
        &[
            ("score", "1"),
            ("top", "10000"),
            ("weight", "1 / stddev(ret(close, 1), 63)"),
        ],
    );
    let (a, b) = (inv.value.last().unwrap(), rules.value.last().unwrap());
    assert!(((a - b) / a).abs() < 1e-9, "{a} vs {b}");
    assert_eq!(inv.fills.len(), rules.fills.len());
    assert!(inv.fills.len() > 100);
}

/// Splits a shell command line of the docs (words, single-quoted words).
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut cur, mut quoted, mut any) = (Vec::new(), String::new(), false, false);
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(cur);
    }
    words
}

/// The `backtide` commands of the ```sh blocks of `doc` (continuation lines joined).
fn doc_commands(doc: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in doc.lines() {
        if line.starts_with("```") {
            in_sh = line == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        pending.push_str(line.trim_end_matches('\\').trim());
        pending.push(' ');
        if !line.ends_with('\\') {
            commands.push(std::mem::take(&mut pending));
        }
    }
    commands
}

/// Every `backtide` command in docs/rules.md, and in the README's rules section, runs
/// verbatim on the bundled data.
#[test]
fn every_command_in_the_rules_doc_runs() {
    let doc = std::fs::read_to_string(crate::golden::testdata("../docs/rules.md")).unwrap();
    let readme = std::fs::read_to_string(crate::golden::testdata("../README.md")).unwrap();
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Your own strategies as rules"))
        .expect("the README's rules section");
    let (from_doc, from_readme) = (doc_commands(&doc), doc_commands(section));
    assert!(from_doc.len() >= 7, "{from_doc:?}");
    assert_eq!(from_readme.len(), 4, "{from_readme:?}");
    for c in from_doc.iter().chain(&from_readme) {
        let words = shell_words(c.trim());
        assert_eq!(words[0], "backtide", "{c}");
        let out = backtide().args(&words[1..]).output().unwrap();
        assert!(
            out.status.success(),
            "{c}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Trades") || text.contains("combinations"),
            "{c}\n{text}"
        );
    }
}
