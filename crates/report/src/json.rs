//! JSON numbers written straight into the page: a report carries hundreds of thousands of
//! them, so they are formatted into one buffer (shortest round-trip with ryu, or a fixed
//! number of decimals through an integer) rather than built as `serde_json::Value`s.

/// Exact powers of ten (every one up to 1e22 is a double).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Most decimals [`fixed`] writes (its scale must be an exact double).
pub(crate) const MAX_DECIMALS: u32 = 22;

/// `x` rounded to an integer, half away from zero, for |x| < 2^52 (beyond, `x` itself,
/// which the callers do not write through the integer path). Inline, where `f64::round`
/// is a libm call on baseline x86-64; a sum that rounds up across .5 only moves the last
/// digit.
fn round(x: f64) -> f64 {
    if x.abs() < 4.5e15 {
        let r = (x.abs() + 0.5) as i64 as f64;
        if x < 0.0 { -r } else { r }
    } else {
        x
    }
}

/// "00" to "99".
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// The decimal digits of `a`, right-aligned in `buf`, two at a time; returns where they
/// start.
fn digits(buf: &mut [u8; 24], mut a: u64) -> usize {
    let mut p = buf.len();
    while a >= 100 {
        let r = (a % 100) as usize;
        a /= 100;
        p -= 2;
        buf[p..p + 2].copy_from_slice(&PAIRS[2 * r..2 * r + 2]);
    }
    if a >= 10 {
        p -= 2;
        let r = a as usize;
        buf[p..p + 2].copy_from_slice(&PAIRS[2 * r..2 * r + 2]);
    } else {
        p -= 1;
        buf[p] = b'0' + a as u8;
    }
    p
}

/// An integer.
pub(crate) fn int(out: &mut Vec<u8>, v: i64) {
    let mut buf = [0u8; 24];
    let p = digits(&mut buf, v.unsigned_abs());
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[p..]);
}

/// The shortest text that reads back as exactly `v` (`1` rather than `1.0`); `null` when
/// not finite. Values with at most 8 decimals (prices read from a file, whole sizes) take
/// an integer path: `m / 1e8 == v` means the decimal `m·10⁻⁸` parses back to `v`, as both
/// are the same rational correctly rounded.
pub(crate) fn exact(out: &mut Vec<u8>, v: f64) {
    if !v.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    let m = round(v * 1e8);
    if m.abs() < 4.5e15 && m / 1e8 == v {
        scaled(out, m as i64, 8);
        return;
    }
    let mut buf = ryu::Buffer::new();
    let s = buf.format_finite(v);
    out.extend_from_slice(s.strip_suffix(".0").unwrap_or(s).as_bytes());
}

/// `m · 10^-d` as a decimal without trailing zeros (d ≤ 22).
fn scaled(out: &mut Vec<u8>, m: i64, d: u32) {
    if m == 0 {
        out.push(b'0');
        return;
    }
    if m < 0 {
        out.push(b'-');
    }
    let mut buf = [0u8; 24];
    let p = digits(&mut buf, m.unsigned_abs());
    let d = d as usize;
    let len = buf.len() - p;
    // Trailing zeros of the fraction go.
    let mut end = buf.len();
    let mut frac = d;
    while frac > 0 && buf[end - 1] == b'0' {
        end -= 1;
        frac -= 1;
    }
    if len > d {
        out.extend_from_slice(&buf[p..end - frac]);
    } else {
        out.push(b'0');
    }
    if frac > 0 {
        out.push(b'.');
        out.extend(std::iter::repeat_n(b'0', d.saturating_sub(len)));
        out.extend_from_slice(&buf[(end - frac).max(p)..end]);
    }
}

/// `v` rounded to `decimals` places after the point, without trailing zeros; `null` when
/// not finite. Magnitudes too large for the integer path are written exactly.
pub(crate) fn fixed(out: &mut Vec<u8>, v: f64, decimals: u32) {
    if !v.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    let d = decimals.min(MAX_DECIMALS);
    let m = round(v * POW10[d as usize]);
    // Below 2^52 the rounded mantissa is an exact integer.
    if m.abs() >= 4.5e15 {
        exact(out, v);
        return;
    }
    scaled(out, m as i64, d);
}

/// Decimals that keep `digits` significant digits of the largest magnitude `max_abs`: the
/// same absolute precision for a whole series (a chart's axis is linear), never fewer
/// than 0 or more than [`MAX_DECIMALS`].
pub(crate) fn decimals_for(max_abs: f64, digits: i32) -> u32 {
    if !(max_abs.is_finite() && max_abs > 0.0) {
        return 0;
    }
    let d = digits - 1 - max_abs.log10().floor() as i32;
    d.clamp(0, MAX_DECIMALS as i32) as u32
}

/// The number as the report's tables show it (`fmt` in `report.js`): four decimals, or
/// four significant digits below 1e-4 (shown in exponent form there).
pub(crate) fn shown(out: &mut Vec<u8>, v: f64) {
    let a = v.abs();
    if a != 0.0 && a < 1e-4 {
        let d = 3 - a.log10().floor() as i32;
        if d > MAX_DECIMALS as i32 {
            exact(out, v);
        } else {
            fixed(out, v, d as u32);
        }
    } else {
        fixed(out, v, 4);
    }
}

/// A series as a JSON array, every value with the decimals that keep `digits` significant
/// digits of the series' largest magnitude.
pub(crate) fn series(out: &mut Vec<u8>, values: &[f64], digits: i32) {
    let max = values
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |m, v| m.max(v.abs()));
    let d = decimals_for(max, digits);
    array(out, values, |out, &v| fixed(out, v, d));
}

/// `[a,b,…]` with each item written by `f`.
pub(crate) fn array<T>(out: &mut Vec<u8>, items: &[T], mut f: impl FnMut(&mut Vec<u8>, &T)) {
    out.push(b'[');
    for (k, x) in items.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        f(out, x);
    }
    out.push(b']');
}

/// `"name":` (after a comma unless it is the object's first member).
pub(crate) fn key(out: &mut Vec<u8>, name: &str) {
    if out.last() != Some(&b'{') {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

/// serde_json's text with `</` escaped, so it cannot close the script element.
fn escaped(out: &mut Vec<u8>, s: Result<String, serde_json::Error>) {
    let s = s.unwrap_or_else(|_| "null".into());
    if s.contains("</") {
        out.extend_from_slice(s.replace("</", "<\\/").as_bytes());
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

/// A string.
pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
    escaped(out, serde_json::to_string(s));
}

/// An array of strings.
pub(crate) fn strings(out: &mut Vec<u8>, s: &[String]) {
    escaped(out, serde_json::to_string(s));
}

/// A JSON object or any other value.
pub(crate) fn value(out: &mut Vec<u8>, v: &serde_json::Value) {
    escaped(out, serde_json::to_string(v));
}

/// A JSON object.
pub(crate) fn object(out: &mut Vec<u8>, m: &serde_json::Map<String, serde_json::Value>) {
    escaped(out, serde_json::to_string(m));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut s = Vec::new();
        f(&mut s);
        String::from_utf8(s).unwrap()
    }

    #[test]
    fn fixed_rounds_and_trims() {
        assert_eq!(w(|o| fixed(o, 100.055771, 6)), "100.055771");
        assert_eq!(w(|o| fixed(o, 100.0557714, 6)), "100.055771");
        assert_eq!(w(|o| fixed(o, -2.5, 3)), "-2.5");
        assert_eq!(w(|o| fixed(o, 0.00004, 4)), "0");
        assert_eq!(w(|o| fixed(o, -0.00004, 4)), "0");
        assert_eq!(w(|o| fixed(o, 12.0, 4)), "12");
        assert_eq!(w(|o| fixed(o, 0.05, 2)), "0.05");
        assert_eq!(w(|o| fixed(o, 1e300, 2)), "1e300");
        assert_eq!(w(|o| fixed(o, f64::NAN, 2)), "null");
        assert_eq!(w(|o| fixed(o, 123_456.789, 0)), "123457");
        for v in [1.234_567_8, -98_765.432_1, 0.000_123_4, 7.0] {
            let s = w(|o| fixed(o, v, 7));
            let back: f64 = s.parse().unwrap();
            assert!((back - v).abs() <= 0.5e-7 + 1e-15, "{v} → {s}");
        }
    }

    #[test]
    fn exact_round_trips() {
        for v in [0.1, 1.0 / 3.0, 100.055771, -1e-7, 1e21, 3.0] {
            let s = w(|o| exact(o, v));
            assert_eq!(s.parse::<f64>().unwrap(), v, "{s}");
            assert!(serde_json::from_str::<f64>(&s).is_ok(), "{s}");
        }
        assert_eq!(w(|o| exact(o, 3.0)), "3");
        assert_eq!(w(|o| int(o, -1_234_567)), "-1234567");
        assert_eq!(w(|o| int(o, i64::MIN)), i64::MIN.to_string());
    }

    #[test]
    fn shown_keeps_what_the_table_displays() {
        assert_eq!(w(|o| shown(o, 123.456_789)), "123.4568");
        assert_eq!(w(|o| shown(o, -0.000_012_345_6)), "-0.00001235");
        assert_eq!(w(|o| shown(o, 0.0)), "0");
    }

    #[test]
    fn series_decimals_follow_the_largest_value() {
        assert_eq!(decimals_for(100.0, 8), 5);
        assert_eq!(decimals_for(99.9, 8), 6);
        assert_eq!(decimals_for(12_345.0, 8), 3);
        assert_eq!(decimals_for(0.0, 8), 0);
        assert_eq!(decimals_for(1e12, 8), 0);
        assert_eq!(
            w(|o| series(o, &[1.0, 10.123_456_789, f64::NAN], 4)),
            "[1,10.12,null]"
        );
    }
}
