//! The rule language against an independent, naïve interpreter written here (random
//! expression trees: every signal identical), and its no-look-ahead property (changing
//! the bars after `k` changes no value at or before `k`).

use backtide_core::indicators;
use backtide_core::rules::{self, Values};
use backtide_core::{Bars, ParamValue, Params, strategy::builtin};
use proptest::prelude::*;

use crate::properties::{walk, with_future_changed};

/// A number-series expression (every one contains a price series, so it is never a
/// constant and may be any function's series argument).
#[derive(Debug, Clone)]
enum Num {
    Field(usize),
    /// An indicator of a series with a window; `by_param` writes the window as `$w`.
    Ind(&'static str, Box<Num>, usize, bool),
    Shift(Box<Num>, usize),
    Ret(Box<Num>, usize),
    /// `a op c` with a constant.
    WithConst(char, Box<Num>, f64),
    Bin(char, Box<Num>, Box<Num>),
    Neg(Box<Num>),
    Abs(Box<Num>),
    MinMax(bool, Box<Num>, Box<Num>),
    BarsSince(Box<Cond>),
}

/// A condition expression.
#[derive(Debug, Clone)]
enum Cond {
    Cmp(&'static str, Num, Num),
    CmpConst(&'static str, Num, f64),
    Cross(bool, Num, Num),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
}

const FIELDS: [&str; 5] = ["open", "high", "low", "close", "volume"];
const INDICATORS: [&str; 8] = [
    "sma", "ema", "wma", "rsi", "roc", "stddev", "highest", "lowest",
];
const CMP: [&str; 6] = ["<", "<=", ">", ">=", "==", "!="];

fn num_tree() -> impl Strategy<Value = Num> {
    let leaf = (0..5usize).prop_map(Num::Field);
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (
                0..INDICATORS.len(),
                inner.clone(),
                1..12usize,
                any::<bool>()
            )
                .prop_map(|(k, x, w, p)| Num::Ind(INDICATORS[k], Box::new(x), w, p)),
            (inner.clone(), 0..6usize).prop_map(|(x, k)| Num::Shift(Box::new(x), k)),
            (inner.clone(), 1..4usize).prop_map(|(x, k)| Num::Ret(Box::new(x), k)),
            (
                prop::sample::select(vec!['+', '-', '*', '/']),
                inner.clone(),
                prop::sample::select(vec![0.5, 1.0, 2.0, 100.0])
            )
                .prop_map(|(o, x, c)| Num::WithConst(o, Box::new(x), c)),
            (
                prop::sample::select(vec!['+', '-', '*', '/']),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(o, a, b)| Num::Bin(o, Box::new(a), Box::new(b))),
            inner.clone().prop_map(|x| Num::Neg(Box::new(x))),
            inner.clone().prop_map(|x| Num::Abs(Box::new(x))),
            (any::<bool>(), inner.clone(), inner.clone()).prop_map(|(m, a, b)| Num::MinMax(
                m,
                Box::new(a),
                Box::new(b)
            )),
            (0..6usize, inner.clone(), inner)
                .prop_map(|(k, a, b)| Num::BarsSince(Box::new(Cond::Cross(k % 2 == 0, a, b)))),
        ]
    })
}

fn cond_tree() -> impl Strategy<Value = Cond> {
    let leaf = prop_oneof![
        (0..CMP.len(), num_tree(), num_tree()).prop_map(|(k, a, b)| Cond::Cmp(CMP[k], a, b)),
        (
            0..CMP.len(),
            num_tree(),
            prop::sample::select(vec![0.0, 1.0, 2.0, 3.0, 50.0, 100.0])
        )
            .prop_map(|(k, a, c)| Cond::CmpConst(CMP[k], a, c)),
        // Ties: a series against itself, and bars_since against small counts.
        (0..CMP.len(), num_tree()).prop_map(|(k, a)| Cond::Cmp(CMP[k], a.clone(), a)),
        (0..CMP.len(), num_tree(), num_tree(), 0..4usize).prop_map(|(k, a, b, c)| {
            Cond::CmpConst(
                CMP[k],
                Num::BarsSince(Box::new(Cond::Cross(true, a, b))),
                c as f64,
            )
        }),
        (any::<bool>(), num_tree(), num_tree()).prop_map(|(up, a, b)| Cond::Cross(up, a, b)),
    ];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Cond::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Cond::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| Cond::Not(Box::new(a))),
        ]
    })
}

fn text_num(n: &Num, params: &mut Vec<(String, f64)>) -> String {
    match n {
        Num::Field(k) => FIELDS[*k].to_string(),
        Num::Ind(name, x, w, by_param) => {
            let w = if *by_param {
                let p = format!("w{}", params.len());
                params.push((p.clone(), *w as f64));
                format!("${p}")
            } else {
                w.to_string()
            };
            format!("{name}({}, {w})", text_num(x, params))
        }
        Num::Shift(x, k) => format!("shift({}, {k})", text_num(x, params)),
        Num::Ret(x, k) => format!("ret({}, {k})", text_num(x, params)),
        Num::WithConst(o, x, c) => format!("({} {o} {c:?})", text_num(x, params)),
        Num::Bin(o, a, b) => format!("({} {o} {})", text_num(a, params), text_num(b, params)),
        Num::Neg(x) => format!("-{}", text_num(x, params)),
        Num::Abs(x) => format!("abs({})", text_num(x, params)),
        Num::MinMax(m, a, b) => format!(
            "{}({}, {})",
            if *m { "min" } else { "max" },
            text_num(a, params),
            text_num(b, params)
        ),
        Num::BarsSince(c) => format!("bars_since({})", text_cond(c, params)),
    }
}

fn text_cond(c: &Cond, params: &mut Vec<(String, f64)>) -> String {
    match c {
        Cond::Cmp(op, a, b) => format!("{} {op} {}", text_num(a, params), text_num(b, params)),
        Cond::CmpConst(op, a, v) => format!("{} {op} {v:?}", text_num(a, params)),
        Cond::Cross(up, a, b) => format!(
            "{}({}, {})",
            if *up { "crossover" } else { "crossunder" },
            text_num(a, params),
            text_num(b, params)
        ),
        Cond::And(a, b) => format!("({}) and ({})", text_cond(a, params), text_cond(b, params)),
        Cond::Or(a, b) => format!("({}) or ({})", text_cond(a, params), text_cond(b, params)),
        Cond::Not(a) => format!("not ({})", text_cond(a, params)),
    }
}

/// The naïve interpreter: each node a whole column by plain loops, indicators from
/// `backtide_core::indicators` (checked against TA-Lib and pandas on their own).
fn naive_num(n: &Num, b: &Bars) -> Vec<f64> {
    let len = b.len();
    match n {
        Num::Field(k) => [b.open(), b.high(), b.low(), b.close(), b.volume()][*k].to_vec(),
        Num::Ind(name, x, w, _) => {
            // An indicator of a series with a NaN prefix starts at its first value.
            let full = naive_num(x, b);
            let start = full.iter().position(|v| !v.is_nan()).unwrap_or(len);
            let x = &full[start..];
            let tail = match *name {
                "sma" => indicators::sma(x, *w),
                "ema" => indicators::ema(x, *w),
                "wma" => indicators::wma(x, *w),
                "rsi" => indicators::rsi(x, *w),
                "roc" => indicators::roc(x, *w),
                "stddev" => indicators::rolling_std(x, *w, 0),
                "highest" => indicators::highest(x, *w),
                _ => indicators::lowest(x, *w),
            };
            let mut out = vec![f64::NAN; start];
            out.extend(tail);
            out
        }
        Num::Shift(x, k) => {
            let x = naive_num(x, b);
            (0..len)
                .map(|i| if i >= *k { x[i - k] } else { f64::NAN })
                .collect()
        }
        Num::Ret(x, k) => {
            let x = naive_num(x, b);
            (0..len)
                .map(|i| {
                    if i >= *k {
                        x[i] / x[i - k] - 1.0
                    } else {
                        f64::NAN
                    }
                })
                .collect()
        }
        Num::WithConst(o, x, c) => naive_num(x, b).iter().map(|v| arith(*o, *v, *c)).collect(),
        Num::Bin(o, x, y) => {
            let (x, y) = (naive_num(x, b), naive_num(y, b));
            (0..len).map(|i| arith(*o, x[i], y[i])).collect()
        }
        Num::Neg(x) => naive_num(x, b).iter().map(|v| -v).collect(),
        Num::Abs(x) => naive_num(x, b).iter().map(|v| v.abs()).collect(),
        Num::MinMax(m, x, y) => {
            let (x, y) = (naive_num(x, b), naive_num(y, b));
            (0..len)
                .map(|i| {
                    if x[i].is_nan() || y[i].is_nan() {
                        f64::NAN
                    } else if *m {
                        x[i].min(y[i])
                    } else {
                        x[i].max(y[i])
                    }
                })
                .collect()
        }
        Num::BarsSince(c) => {
            let c = naive_cond(c, b);
            (0..len)
                .map(|i| {
                    (0..=i)
                        .rev()
                        .find(|&j| c[j])
                        .map_or(f64::NAN, |j| (i - j) as f64)
                })
                .collect()
        }
    }
}

fn arith(o: char, a: f64, b: f64) -> f64 {
    match o {
        '+' => a + b,
        '-' => a - b,
        '*' => a * b,
        _ => a / b,
    }
}

fn compare(op: &str, a: f64, b: f64) -> bool {
    match op {
        "<" => a < b,
        "<=" => a <= b,
        ">" => a > b,
        ">=" => a >= b,
        "==" => a == b,
        _ => a != b,
    }
}

fn naive_cond(c: &Cond, b: &Bars) -> Vec<bool> {
    let len = b.len();
    match c {
        Cond::Cmp(op, x, y) => {
            let (x, y) = (naive_num(x, b), naive_num(y, b));
            (0..len).map(|i| compare(op, x[i], y[i])).collect()
        }
        Cond::CmpConst(op, x, v) => naive_num(x, b)
            .iter()
            .map(|a| compare(op, *a, *v))
            .collect(),
        // backtesting.py's `crossover(a, b)`: `a[-2] < b[-2] and a[-1] > b[-1]`.
        Cond::Cross(up, x, y) => {
            let (mut x, mut y) = (naive_num(x, b), naive_num(y, b));
            if !up {
                std::mem::swap(&mut x, &mut y);
            }
            (0..len)
                .map(|i| i > 0 && x[i - 1] < y[i - 1] && x[i] > y[i])
                .collect()
        }
        Cond::And(x, y) => {
            let (x, y) = (naive_cond(x, b), naive_cond(y, b));
            (0..len).map(|i| x[i] && y[i]).collect()
        }
        Cond::Or(x, y) => {
            let (x, y) = (naive_cond(x, b), naive_cond(y, b));
            (0..len).map(|i| x[i] || y[i]).collect()
        }
        Cond::Not(x) => naive_cond(x, b).iter().map(|v| !v).collect(),
    }
}

fn eval(b: &Bars, text: &str, params: &[(String, f64)]) -> Values {
    let p: Vec<(&str, f64)> = params.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    rules::evaluate(b, text, &p, false).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn same_numbers(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_conditions_match_the_naive_interpreter(c in cond_tree(), seed in 0u64..1000, n in 30usize..160) {
        let bars = walk(n, seed);
        let mut params = Vec::new();
        let text = text_cond(&c, &mut params);
        let Values::Flags(got) = eval(&bars, &text, &params) else { panic!("{text}: not a condition") };
        prop_assert_eq!(got, naive_cond(&c, &bars), "{}", text);
    }

    #[test]
    fn random_number_series_match_the_naive_interpreter(x in num_tree(), seed in 0u64..1000, n in 30usize..160) {
        let bars = walk(n, seed);
        let mut params = Vec::new();
        let text = text_num(&x, &mut params);
        let Values::Numbers(got) = eval(&bars, &text, &params) else { panic!("{text}: not numbers") };
        let want = naive_num(&x, &bars);
        prop_assert!(same_numbers(&got, &want), "{}\n{:?}\n{:?}", text, got, want);
    }

    #[test]
    fn no_value_depends_on_later_bars(
        c in cond_tree(), x in num_tree(), seed in 0u64..1000, n in 30usize..120, cut in 0.0f64..1.0,
    ) {
        let bars = walk(n, seed);
        let k = ((n - 1) as f64 * cut) as usize;
        let changed = with_future_changed(&bars, k, seed + 7);
        let mut params = Vec::new();
        let (ct, xt) = (text_cond(&c, &mut params), text_num(&x, &mut params));
        let (Values::Flags(a), Values::Flags(b)) = (eval(&bars, &ct, &params), eval(&changed, &ct, &params)) else {
            panic!("{ct}")
        };
        prop_assert_eq!(&a[..=k], &b[..=k], "{}", ct);
        let (Values::Numbers(a), Values::Numbers(b)) = (eval(&bars, &xt, &params), eval(&changed, &xt, &params)) else {
            panic!("{xt}")
        };
        prop_assert!(same_numbers(&a[..=k], &b[..=k]), "{}", xt);
    }

    /// Through the strategy: the signals (hence trades) of a random `entry`/`exit` pair do
    /// not depend on bars after `k` either, and `$parameters` sweep like literals.
    #[test]
    fn a_rules_strategy_decides_the_same_with_parameters_as_with_literals(
        c in cond_tree(), seed in 0u64..1000, n in 60usize..160,
    ) {
        let bars = walk(n, seed);
        let mut params = Vec::new();
        let with_params = text_cond(&c, &mut params);
        let literal = params.iter().fold(with_params.clone(), |t, (k, v)| t.replace(&format!("${k}"), &format!("{v}")));
        let run = |entry: &str, given: &[(String, f64)]| {
            let texts: Vec<(String, String)> = [("entry".to_string(), entry.to_string()), ("exit".into(), format!("not ({entry})"))]
                .into_iter()
                .chain(given.iter().map(|(k, v)| (k.clone(), v.to_string())))
                .collect();
            let pairs: Vec<(&str, &str)> = texts.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let info = builtin::find("rules").unwrap().specialize(&pairs).unwrap();
            let p = Params::from_pairs(info.params, pairs.iter().copied()).unwrap();
            for (k, _) in given {
                prop_assert!(matches!(p.values().get(k.as_str()), Some(ParamValue::Int(_))), "{} is a window", k);
            }
            let mut s = info.build_signals(&p).unwrap();
            let res = backtide_core::run(&bars, s.as_mut(), &backtide_core::BrokerConfig::default()).unwrap();
            Ok(format!("{:?} {:?}", res.trades, res.equity))
        };
        prop_assert_eq!(run(&with_params, &params)?, run(&literal, &[])?);
    }
}
