//! The rule language against an independent, naïve interpreter written here (random
//! expression trees: every signal identical), and its no-look-ahead property (changing
//! the bars after `k` changes no value at or before `k`).

use backtide_core::indicators;
use backtide_core::rules::{self, Values};
use backtide_core::timeframe::Session;
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
    eval_in(Session::default(), b, text, params)
}

fn eval_in(session: Session, b: &Bars, text: &str, params: &[(String, f64)]) -> Values {
    let p: Vec<(&str, f64)> = params.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    rules::evaluate_in(session, b, text, &p, false).unwrap_or_else(|e| panic!("{text}: {e}"))
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

// ---- `tf(timeframe, x)`: higher-timeframe values ----

const HOUR: i64 = 3_600_000_000_000;
const TIMEFRAMES: [&str; 6] = ["15min", "1h", "4h", "1d", "1w", "1mo"];

/// `n` bars of a random walk at irregular intraday times from `from` on: steps of 15
/// minutes to two days, so that a bucket of each timeframe holds one bar, many, or none.
fn intraday(n: usize, seed: u64, from: i64) -> Bars {
    let w = walk(n, seed);
    let mut x = seed
        .wrapping_mul(2862933555777941757)
        .wrapping_add(3037000493);
    let mut t = from;
    let time: Vec<i64> = (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let steps = [1, 1, 2, 4, 4, 8, 20, 96, 192][(x >> 40) as usize % 9];
            t += steps * HOUR / 4;
            t
        })
        .collect();
    Bars::try_new(
        time,
        w.open().to_vec(),
        w.high().to_vec(),
        w.low().to_vec(),
        w.close().to_vec(),
        w.volume().to_vec(),
    )
    .unwrap()
}

/// Bars `..=k` of `b`, then `extra` other bars (other times, other prices) after them.
fn with_other_future(b: &Bars, k: usize, extra: usize, seed: u64) -> Bars {
    let later = intraday(extra, seed, b.time()[k]);
    let join = |a: &[f64], o: &[f64]| a[..=k].iter().chain(o).copied().collect::<Vec<f64>>();
    Bars::try_new(
        b.time()[..=k].iter().chain(later.time()).copied().collect(),
        join(b.open(), later.open()),
        join(b.high(), later.high()),
        join(b.low(), later.low()),
        join(b.close(), later.close()),
        join(b.volume(), later.volume()),
    )
    .unwrap()
}

/// The same bars (same times) with the prices of bar `k` and every later bar replaced.
fn with_prices_changed_from(b: &Bars, k: usize, seed: u64) -> Bars {
    let other = walk(b.len(), seed);
    let pick = |a: &[f64], o: &[f64]| a[..k].iter().chain(&o[k..]).copied().collect::<Vec<f64>>();
    Bars::try_new(
        b.time().to_vec(),
        pick(b.open(), other.open()),
        pick(b.high(), other.high()),
        pick(b.low(), other.low()),
        pick(b.close(), other.close()),
        pick(b.volume(), other.volume()),
    )
    .unwrap()
}

fn numbers(b: &Bars, text: &str, params: &[(String, f64)]) -> Vec<f64> {
    numbers_in(Session::default(), b, text, params)
}

fn numbers_in(session: Session, b: &Bars, text: &str, params: &[(String, f64)]) -> Vec<f64> {
    match eval_in(session, b, text, params) {
        Values::Numbers(v) => v,
        Values::Flags(f) => f.into_iter().map(f64::from).collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// No look-ahead through `tf`: for random intraday bars, random expressions inside
    /// and around `tf(…)` and sessions starting at any quarter hour (midnight in half the
    /// cases), replacing everything after bar `k` (prices, times, the number of
    /// later bars) changes no value at or before `k`. A bare `tf(timeframe, x)` does not
    /// even read bar `k`'s own prices: changing the prices of `k` and after changes none of
    /// its values up to `k` (a bucket's value is first seen on the bar after the bucket).
    #[test]
    fn tf_values_do_not_depend_on_later_bars(
        x in num_tree(), form in 0usize..6, t1 in 0..TIMEFRAMES.len(), t2 in 0..TIMEFRAMES.len(),
        seed in 0u64..1000, n in 20usize..300, cut in 0.0f64..1.0, extra in 0usize..300,
        start in prop_oneof![Just(0i64), 0i64..96],
    ) {
        let session = Session::starting_at(start * HOUR / 4).unwrap();
        let numbers = |b: &Bars, text: &str, params: &[(String, f64)]| {
            numbers_in(session, b, text, params)
        };
        let bars = intraday(n, seed, 1_700_000_000_000_000_000);
        let k = ((n - 1) as f64 * cut) as usize;
        let mut params = Vec::new();
        let inner = text_num(&x, &mut params);
        let (a, b) = (TIMEFRAMES[t1], TIMEFRAMES[t2]);
        let text = match form {
            0 => format!("tf(\"{a}\", {inner})"),
            1 => format!("close > tf(\"{a}\", {inner})"),
            2 => format!("tf(\"{a}\", tf(\"{b}\", {inner}))"),
            3 => format!("sma(tf(\"{a}\", {inner}), 3) - tf('{b}', sma(close, 2))"),
            4 => format!("crossover(close, tf(\"{a}\", sma({inner}, 3)))"),
            _ => format!("bars_since(tf(\"{a}\", {inner}) > tf(\"{b}\", close))"),
        };
        let want = numbers(&bars, &text, &params);
        let got = numbers(&with_other_future(&bars, k, extra, seed + 11), &text, &params);
        prop_assert!(same_numbers(&want[..=k], &got[..=k]), "{}\n{:?}\n{:?}", text, want, got);
        if form == 0 {
            let got = numbers(&with_prices_changed_from(&bars, k, seed + 13), &text, &params);
            prop_assert!(same_numbers(&want[..=k], &got[..=k]), "{}: bar {} itself", text, k);
        }
    }
}

/// With an FX session (22:00, the evening before), `tf("1d", …)`'s days run from 22:00 to
/// 22:00: a session's close is seen from the first bar at or after 22:00 (hand-computed).
#[test]
fn tf_days_in_a_session_close_at_its_start() {
    let day = 24 * HOUR;
    // Day 0 at 20:00, 21:00, 22:00, 23:00, then day 1 at 21:00 and 22:00, closing 1 … 6.
    let time = vec![
        20 * HOUR,
        21 * HOUR,
        22 * HOUR,
        23 * HOUR,
        day + 21 * HOUR,
        day + 22 * HOUR,
    ];
    let close = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let bars = Bars::try_new(
        time,
        close.clone(),
        close.clone(),
        close.clone(),
        close,
        vec![1.0; 6],
    )
    .unwrap();
    let nan = f64::NAN;
    let fx: Session = "22:00".parse().unwrap();
    // Sessions: [20:00, 21:00] closing 2, [22:00, 23:00, 21:00] closing 5, [22:00].
    let got = numbers_in(fx, &bars, "tf(\"1d\", close)", &[]);
    assert!(
        same_numbers(&got, &[nan, nan, 2.0, 2.0, 2.0, 5.0]),
        "{got:?}"
    );
    // Calendar days: day 0 closes 4, seen on day 1.
    let got = numbers(&bars, "tf(\"1d\", close)", &[]);
    assert!(
        same_numbers(&got, &[nan, nan, nan, nan, 4.0, 4.0]),
        "{got:?}"
    );
}

/// A hand-computed example of the alignment rule (the numbers are derived here, not
/// taken from the implementation): six-hourly bars over three days, `tf("1d", close)`
/// and `tf("1d", sma(close, 2))`.
#[test]
fn tf_shows_a_day_from_the_first_bar_after_it_closed() {
    let day = 24 * HOUR;
    // Day 0: bars at 00:00, 06:00, 12:00, 18:00 closing 10, 11, 12, 13 (day close 13).
    // Day 1: bars at 06:00, 18:00 closing 20, 21 (day close 21).
    // Day 2: none. Day 3: bars at 00:00, 12:00 closing 30, 31 (day close 31).
    let time = vec![
        0,
        6 * HOUR,
        12 * HOUR,
        18 * HOUR,
        day + 6 * HOUR,
        day + 18 * HOUR,
        3 * day,
        3 * day + 12 * HOUR,
    ];
    let close = vec![10.0, 11.0, 12.0, 13.0, 20.0, 21.0, 30.0, 31.0];
    let bars = Bars::try_new(
        time,
        close.clone(),
        close.clone(),
        close.clone(),
        close,
        vec![1.0; 8],
    )
    .unwrap();
    let nan = f64::NAN;
    // Day 0's close (13) is seen from the first bar of day 1 on, even on day 1's last bar
    // (its day has not closed yet, as far as a bar knows); day 1's (21) from day 3 on.
    let want = [nan, nan, nan, nan, 13.0, 13.0, 21.0, 21.0];
    assert!(same_numbers(
        &numbers(&bars, "tf(\"1d\", close)", &[]),
        &want
    ));
    // Daily closes 13, 21, 31 → SMA(2) NaN, 17, 26: 17 from day 3 on, 26 never (day 3
    // has not closed on any bar).
    let want = [nan, nan, nan, nan, nan, nan, 17.0, 17.0];
    let got = numbers(&bars, "tf('1d', sma(close, 2))", &[]);
    assert!(same_numbers(&got, &want), "{got:?}");
    // Hourly bars are already finer than a day but each six-hourly bar is its own `1h`
    // bucket: `tf("1h", x)` is the previous bar's x.
    let got = numbers(&bars, "tf(\"1h\", close) == shift(close, 1)", &[]);
    assert_eq!(got[1..], [1.0; 7]);
}

/// A run's session reaches `tf` in a rules strategy: with an FX session the daily SMA is
/// that of sessions (22:00 to 22:00), so the run's warm-up ends where `rules::evaluate_in`'s
/// series in that session first has a value, not where the calendar days' one does.
#[test]
fn a_runs_session_reaches_tf_in_rules() {
    let bars = intraday(400, 7, 1_700_000_000_000_000_000);
    let daily = "tf(\"1d\", sma(close, 3))";
    let entry = format!("close > {daily}");
    let first = |session: Session| indicators::first_valid(&numbers_in(session, &bars, daily, &[]));
    let warmup = |session: Session| {
        let pairs = [("entry", entry.as_str()), ("exit", "close < open")];
        let info = builtin::find("rules").unwrap().specialize(&pairs).unwrap();
        let p = Params::from_pairs(info.params, pairs.iter().copied()).unwrap();
        let mut s = info.build(&p).unwrap();
        let cfg = backtide_core::BrokerConfig {
            session,
            ..backtide_core::BrokerConfig::default()
        };
        backtide_core::run(&bars, s.as_mut(), &cfg).unwrap().warmup
    };
    let fx: Session = "22:00".parse().unwrap();
    assert_ne!(
        first(fx),
        first(Session::default()),
        "the sessions differ on these bars"
    );
    assert_eq!(warmup(fx), first(fx));
    assert_eq!(warmup(Session::default()), first(Session::default()));
}
