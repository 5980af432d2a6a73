//! Indicators against independent implementations (`testdata/indicators/`: pandas for
//! SMA, bit for bit; TA-Lib for the rest, to 1e-9 relative).

use std::sync::OnceLock;

use backtide_core::indicators as ind;
use serde_json::Value;

fn fixture() -> &'static Value {
    static F: OnceLock<Value> = OnceLock::new();
    F.get_or_init(|| {
        let p = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/indicators/goog_reference.json"
        );
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    })
}

fn col(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

fn input(name: &str) -> Vec<f64> {
    col(&fixture()["input"][name])
}

fn reference(name: &str) -> Vec<f64> {
    col(&fixture()["series"][name])
}

/// Same NaN pattern, values within `rel` (0 = bit-equal).
fn check(name: &str, ours: &[f64], rel: f64) {
    check_from(name, ours, rel, 0);
}

/// As [`check`], but our series may start `earlier` bars before the reference's.
fn check_from(name: &str, ours: &[f64], rel: f64, earlier: usize) {
    let want = reference(name);
    assert_eq!(ours.len(), want.len(), "{name}: length");
    let first = want.iter().position(|x| !x.is_nan()).unwrap();
    assert_eq!(
        ours.iter().position(|x| !x.is_nan()).unwrap() + earlier,
        first,
        "{name}: warm-up"
    );
    for (i, (a, b)) in ours.iter().zip(&want).enumerate().skip(first) {
        assert_eq!(
            a.is_nan(),
            b.is_nan(),
            "{name}[{i}]: ours {a}, reference {b}"
        );
        if a.is_nan() {
            continue;
        }
        let ok = if rel == 0.0 {
            a.to_bits() == b.to_bits()
        } else {
            (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-3)
        };
        assert!(ok, "{name}[{i}]: ours {a:e}, reference {b:e}");
    }
}

#[test]
fn sma_is_bit_identical_to_pandas_rolling_mean() {
    let c = input("close");
    for n in [5, 10, 20, 25, 30] {
        check(&format!("sma_{n}"), &ind::sma(&c, n), 0.0);
    }
}

/// The tie that decides a trade on GOOG: pandas' arithmetic gives SMA(5) == SMA(25) on
/// 2010-08-17 (bar 1509), so backtesting.py's strict crossover sees no cross there.
#[test]
fn sma_reproduces_the_goog_2010_08_17_tie() {
    let c = input("close");
    let (a, b) = (ind::sma(&c, 5), ind::sma(&c, 25));
    let ties: Vec<usize> = (0..c.len())
        .filter(|&i| !a[i].is_nan() && a[i] == b[i])
        .collect();
    assert!(
        !ties.is_empty(),
        "pandas arithmetic has an exact tie on GOOG"
    );
    let pandas = (reference("sma_5"), reference("sma_25"));
    for &i in &ties {
        assert_eq!(pandas.0[i], pandas.1[i]);
    }
}

#[test]
fn ema_wma_roc_extremes_std_match_talib() {
    let (c, h, l) = (input("close"), input("high"), input("low"));
    for n in [10, 20] {
        check(&format!("ema_{n}"), &ind::ema(&c, n), 1e-9);
        check(&format!("wma_{n}"), &ind::wma(&c, n), 1e-9);
        check(&format!("roc_{n}"), &ind::roc(&c, n), 1e-9);
        check(&format!("max_{n}"), &ind::highest(&h, n), 0.0);
        check(&format!("min_{n}"), &ind::lowest(&l, n), 0.0);
        check(&format!("stddev_{n}"), &ind::rolling_std(&c, n, 0), 1e-8);
        check(
            &format!("std_sample_{n}"),
            &ind::rolling_std(&c, n, 1),
            1e-9,
        );
    }
}

#[test]
fn rsi_atr_true_range_match_talib() {
    let (c, h, l) = (input("close"), input("high"), input("low"));
    check("rsi_14", &ind::rsi(&c, 14), 1e-9);
    check("atr_14", &ind::atr(&h, &l, &c, 14), 1e-9);
    check("trange", &ind::true_range(&h, &l, &c), 1e-12);
}

#[test]
fn bollinger_stochastic_macd_match_talib() {
    let (c, h, l) = (input("close"), input("high"), input("low"));
    let bb = ind::bollinger(&c, 20, 2.0);
    check("bb_upper_20_2", &bb.upper, 1e-9);
    check("bb_middle_20_2", &bb.middle, 1e-9);
    check("bb_lower_20_2", &bb.lower, 1e-9);
    let st = ind::stochastic(&h, &l, &c, 14, 3, 3);
    // TA-Lib delays %K until %D exists (both start at bar n + smooth_k + d - 3); our %K
    // starts as soon as it is defined, `d - 1` bars earlier. Values agree from there.
    check_from("stoch_k_14_3", &st.k, 1e-9, 2);
    check("stoch_d_14_3_3", &st.d, 1e-9);
    let m = ind::macd(&c, 12, 26, 9);
    check("macd_12_26", &m.macd, 1e-9);
    check("macd_signal_9", &m.signal, 1e-9);
    check("macd_hist", &m.histogram, 1e-8);
}

#[test]
fn crossover_helpers_agree_with_definition() {
    let c = input("close");
    let (a, b) = (ind::sma(&c, 10), ind::sma(&c, 30));
    let crosses: Vec<bool> = (0..c.len()).map(|i| ind::crossover(&a, &b, i)).collect();
    for i in 1..c.len() {
        assert_eq!(crosses[i], a[i - 1] < b[i - 1] && a[i] > b[i]);
        assert_eq!(
            ind::crossunder(&a, &b, i),
            a[i - 1] > b[i - 1] && a[i] < b[i]
        );
    }
    let since = ind::bars_since(&crosses);
    let first = crosses.iter().position(|x| *x).unwrap();
    assert!(since[first - 1].is_nan());
    assert_eq!(since[first], 0.0);
    assert_eq!(since[first + 1], if crosses[first + 1] { 0.0 } else { 1.0 });
}

#[test]
fn directional_movement_matches_talib() {
    let (c, h, l) = (input("close"), input("high"), input("low"));
    let a = ind::adx(&h, &l, &c, 14);
    check("plus_di_14", &a.plus_di, 1e-9);
    check("minus_di_14", &a.minus_di, 1e-9);
    check("dx_14", &a.dx, 1e-9);
    check("adx_14", &a.adx, 1e-9);
}

#[test]
fn cci_willr_mom_cmo_linreg_match_talib() {
    let (c, h, l) = (input("close"), input("high"), input("low"));
    check("cci_14", &ind::cci(&h, &l, &c, 14), 1e-9);
    check("willr_14", &ind::williams_r(&h, &l, &c, 14), 1e-9);
    check("mom_10", &ind::momentum(&c, 10), 1e-9);
    check("cmo_14", &ind::cmo(&c, 14), 1e-9);
    check("linreg_slope_14", &ind::linreg_slope(&c, 14), 1e-9);
}

#[test]
fn volume_indicators_match_talib() {
    let (c, h, l, v) = (input("close"), input("high"), input("low"), input("volume"));
    check("obv", &ind::obv(&c, &v), 1e-12);
    check("mfi_14", &ind::mfi(&h, &l, &c, &v, 14), 1e-9);
    check("ad", &ind::ad_line(&h, &l, &c, &v), 1e-9);
    check("adosc_3_10", &ind::adosc(&h, &l, &c, &v, 3, 10), 1e-9);
}

#[test]
fn ppo_trix_dema_tema_kama_match_talib() {
    let c = input("close");
    check("ppo_12_26", &ind::ppo(&c, 12, 26), 1e-9);
    check("trix_15", &ind::trix(&c, 15), 1e-9);
    check("dema_20", &ind::dema(&c, 20), 1e-9);
    check("tema_20", &ind::tema(&c, 20), 1e-9);
    for n in [10, 30] {
        check(&format!("kama_{n}"), &ind::kama(&c, n), 1e-9);
    }
}

#[test]
fn natr_aroon_bop_ultosc_match_talib() {
    let (o, c, h, l) = (input("open"), input("close"), input("high"), input("low"));
    check("natr_14", &ind::natr(&h, &l, &c, 14), 1e-9);
    let a = ind::aroon(&h, &l, 14);
    check("aroon_up_14", &a.up, 1e-12);
    check("aroon_down_14", &a.down, 1e-12);
    check("aroonosc_14", &ind::aroon_oscillator(&h, &l, 14), 1e-12);
    check("bop", &ind::balance_of_power(&o, &h, &l, &c), 1e-12);
    check(
        "ultosc_7_14_28",
        &ind::ultimate_oscillator(&h, &l, &c, 7, 14, 28),
        1e-9,
    );
}

#[test]
fn sar_t3_stochrsi_midpoint_midprice_match_talib() {
    let (c, h, l) = (input("close"), input("high"), input("low"));
    check("sar_0.02_0.2", &ind::parabolic_sar(&h, &l, 0.02, 0.2), 1e-9);
    check("t3_5_0.7", &ind::t3(&c, 5, 0.7), 1e-9);
    let s = ind::stoch_rsi(&c, 14, 5, 3);
    check("stochrsi_k_14_5_3", &s.k, 1e-9);
    check("stochrsi_d_14_5_3", &s.d, 1e-9);
    check("midpoint_14", &ind::midpoint(&c, 14), 1e-12);
    check("midprice_14", &ind::midprice(&h, &l, 14), 1e-12);
}

/// Hull and Keltner have no TA-Lib function: the fixture composes TA-Lib's WMA, EMA, ATR.
#[test]
fn hma_keltner_match_talib_compositions() {
    let (c, h, l) = (input("close"), input("high"), input("low"));
    for n in [15, 20] {
        check(&format!("hma_{n}"), &ind::hma(&c, n), 1e-9);
    }
    let kc = ind::keltner(&h, &l, &c, 20, 2.0);
    check("kc_upper_20_2", &kc.upper, 1e-9);
    check("kc_middle_20_2", &kc.middle, 1e-9);
    check("kc_lower_20_2", &kc.lower, 1e-9);
}

/// The new indicators as rule functions: what a rule (and `backtide.ta` in Python, which
/// reads the same table) computes equals TA-Lib's series.
#[test]
fn rule_functions_give_the_talib_series() {
    let (o, h, l, c, v) = (
        input("open"),
        input("high"),
        input("low"),
        input("close"),
        input("volume"),
    );
    let day = 86_400_000_000_000i64;
    let time: Vec<i64> = (0..c.len() as i64).map(|i| i * day).collect();
    let bars = backtide_core::Bars::try_new(time, o, h, l, c, v).unwrap();
    for (expr, name, rel) in [
        ("adx(high, low, close, 14)", "adx_14", 1e-9),
        ("plus_di(high, low, close, 14)", "plus_di_14", 1e-9),
        ("minus_di(high, low, close, 14)", "minus_di_14", 1e-9),
        ("dx(high, low, close, 14)", "dx_14", 1e-9),
        ("cci(high, low, close, 14)", "cci_14", 1e-9),
        ("williams_r(high, low, close, 14)", "willr_14", 1e-9),
        ("natr(high, low, close, 14)", "natr_14", 1e-9),
        ("obv(close, volume)", "obv", 1e-12),
        ("mfi(high, low, close, volume, 14)", "mfi_14", 1e-9),
        ("ad(high, low, close, volume)", "ad", 1e-9),
        ("adosc(high, low, close, volume, 3, 10)", "adosc_3_10", 1e-9),
        ("momentum(close, 10)", "mom_10", 1e-9),
        ("cmo(close, 14)", "cmo_14", 1e-9),
        ("ppo(close, 12, 26)", "ppo_12_26", 1e-9),
        ("trix(close, 15)", "trix_15", 1e-9),
        ("dema(close, 20)", "dema_20", 1e-9),
        ("tema(close, 20)", "tema_20", 1e-9),
        ("kama(close, 30)", "kama_30", 1e-9),
        ("linreg_slope(close, 14)", "linreg_slope_14", 1e-9),
        ("aroon_up(high, low, 14)", "aroon_up_14", 1e-12),
        ("aroon_down(high, low, 14)", "aroon_down_14", 1e-12),
        ("aroon_osc(high, low, 14)", "aroonosc_14", 1e-12),
        ("bop(open, high, low, close)", "bop", 1e-12),
        (
            "ultosc(high, low, close, 7, 14, 28)",
            "ultosc_7_14_28",
            1e-9,
        ),
        ("sar(high, low, 0.02, 0.2)", "sar_0.02_0.2", 1e-9),
        ("t3(close, 5, 0.7)", "t3_5_0.7", 1e-9),
        ("stochrsi_k(close, 14, 5, 3)", "stochrsi_k_14_5_3", 1e-9),
        ("stochrsi_d(close, 14, 5, 3)", "stochrsi_d_14_5_3", 1e-9),
        ("midpoint(close, 14)", "midpoint_14", 1e-12),
        ("midprice(high, low, 14)", "midprice_14", 1e-12),
        ("hma(close, 20)", "hma_20", 1e-9),
        (
            "keltner_upper(high, low, close, 20, 2)",
            "kc_upper_20_2",
            1e-9,
        ),
        (
            "keltner_middle(high, low, close, 20, 2)",
            "kc_middle_20_2",
            1e-9,
        ),
        (
            "keltner_lower(high, low, close, 20, 2)",
            "kc_lower_20_2",
            1e-9,
        ),
    ] {
        let got = match backtide_core::rules::evaluate(&bars, expr, &[], false) {
            Ok(backtide_core::rules::Values::Numbers(x)) => x,
            other => panic!("{expr}: {other:?}"),
        };
        check(name, &got, rel);
    }
}
