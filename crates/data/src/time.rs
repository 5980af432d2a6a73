//! Timestamp parsing and formatting at the data edge.

use backtide_core::TimestampNs;
use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// Parses an ISO 8601 date or datetime (naive = UTC; `Z` or `±HH:MM` offsets converted)
/// or epoch integers whose unit their digits tell: up to 11 seconds, 12–14 milliseconds,
/// 15–17 microseconds, 18 or more nanoseconds.
pub fn parse_timestamp(s: &str) -> Option<TimestampNs> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    if b.iter().all(u8::is_ascii_digit)
        || (b[0] == b'-' && b.len() > 1 && b[1..].iter().all(u8::is_ascii_digit))
    {
        let v: i64 = s.parse().ok()?;
        let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
        let ns = match digits {
            0..=11 => v.checked_mul(1_000_000_000)?,
            12..=14 => v.checked_mul(1_000_000)?,
            15..=17 => v.checked_mul(1_000)?,
            _ => v,
        };
        return Some(ns);
    }
    if b.len() == 10 {
        return fast_date(b).or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()?
                .and_hms_opt(0, 0, 0)?
                .and_utc()
                .timestamp_nanos_opt()
        });
    }
    if b.len() == 19
        && (b[10] == b' ' || b[10] == b'T')
        && let Some(t) = fast_datetime(b)
    {
        return Some(t);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return dt.timestamp_nanos_opt();
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
            return dt.timestamp_nanos_opt();
        }
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
            return dt.and_utc().timestamp_nanos_opt();
        }
    }
    None
}

fn digits(b: &[u8]) -> Option<i64> {
    let mut v = 0i64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

/// `YYYY-MM-DD` without chrono's format machinery (the hot path for daily files).
fn fast_date(b: &[u8]) -> Option<TimestampNs> {
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let date = NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m as u32, d as u32)?;
    date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_nanos_opt()
}

/// `YYYY-MM-DD HH:MM:SS` (or with `T`).
fn fast_datetime(b: &[u8]) -> Option<TimestampNs> {
    let day = fast_date(&b[..10])?;
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, s) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    Some(day + ((h * 60 + mi) * 60 + s) * 1_000_000_000)
}

/// ISO 8601 without offset (`2004-08-19T00:00:00`), fractional seconds only when present.
pub fn format_timestamp(t: TimestampNs) -> String {
    let dt = DateTime::from_timestamp_nanos(t).naive_utc();
    if t.rem_euclid(1_000_000_000) == 0 {
        dt.format("%Y-%m-%dT%H:%M:%S").to_string()
    } else {
        dt.format("%Y-%m-%dT%H:%M:%S%.f").to_string()
    }
}

/// Appends [`format_timestamp`]'s text to `out` without allocating: whole seconds in years
/// 0000–9999 are formatted directly (the hot path of million-row outputs), anything else
/// through chrono.
pub(crate) fn push_timestamp(out: &mut Vec<u8>, t: TimestampNs) {
    const NS: i64 = 1_000_000_000;
    let days = t.div_euclid(86_400 * NS);
    let secs = t.div_euclid(NS) - days * 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if t.rem_euclid(NS) != 0 || !(0..=9999).contains(&year) {
        out.extend_from_slice(format_timestamp(t).as_bytes());
        return;
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let d2 = |v: i64| [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8];
    out.extend_from_slice(&d2(year / 100));
    out.extend_from_slice(&d2(year % 100));
    out.push(b'-');
    out.extend_from_slice(&d2(month));
    out.push(b'-');
    out.extend_from_slice(&d2(day));
    out.push(b'T');
    out.extend_from_slice(&d2(h));
    out.push(b':');
    out.extend_from_slice(&d2(m));
    out.push(b':');
    out.extend_from_slice(&d2(s));
}

/// [`push_timestamp`] for times mostly in order: the date part (`YYYY-MM-DDT`) is worked
/// out once a day and kept, each time adds its `HH:MM:SS` (the same bytes). Times out of
/// order give the same bytes too; each change of day costs the whole date.
#[derive(Default)]
pub(crate) struct TimestampWriter {
    /// Day number (since 1970-01-01) of `prefix`, `None` before the first use.
    day: Option<i64>,
    prefix: [u8; 11],
}

impl TimestampWriter {
    pub(crate) fn push(&mut self, out: &mut Vec<u8>, t: TimestampNs) {
        const NS: i64 = 1_000_000_000;
        const DAY: i64 = 86_400 * NS;
        if t.rem_euclid(NS) != 0 {
            return push_timestamp(out, t);
        }
        let day = t.div_euclid(DAY);
        if self.day != Some(day) {
            let mut text = Vec::with_capacity(19);
            push_timestamp(&mut text, day * DAY);
            // Outside years 0000–9999 the text is another shape: no cache.
            if text.len() != 19 {
                return push_timestamp(out, t);
            }
            self.prefix.copy_from_slice(&text[..11]);
            self.day = Some(day);
        }
        let secs = t.div_euclid(NS) - day * 86_400;
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        let d = |v: i64, k: u32| b'0' + (v / 10i64.pow(k) % 10) as u8;
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(&[
            d(h, 1),
            d(h, 0),
            b':',
            d(m, 1),
            d(m, 0),
            b':',
            d(s, 1),
            d(s, 0),
        ]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The day-caching writer writes `push_timestamp`'s bytes, for times in order and
        /// out of it.
        #[test]
        fn the_caching_writer_writes_the_same_bytes(
            start in i64::MIN / 2..i64::MAX / 2,
            steps in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(1_000_000_000i64),
                    proptest::strategy::Just(60_000_000_000),
                    proptest::strategy::Just(86_400_000_000_000),
                    1i64..10_000_000_000_000,
                    -10_000_000_000_000i64..0,
                ],
                1..200,
            ),
        ) {
            let mut times = vec![start - start.rem_euclid(1_000_000_000)];
            for s in steps {
                times.push(times[times.len() - 1].saturating_add(s));
            }
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let mut w = TimestampWriter::default();
            for &t in &times {
                w.push(&mut a, t);
                a.push(b',');
                push_timestamp(&mut b, t);
                b.push(b',');
            }
            proptest::prop_assert_eq!(String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap());
        }
    }

    const DAY: i64 = 86_400_000_000_000;

    #[test]
    fn formats_accepted() {
        let d = parse_timestamp("2004-08-19").unwrap();
        assert_eq!(d, 12_649 * DAY);
        assert_eq!(
            parse_timestamp("2004-08-19 01:00:00").unwrap(),
            d + 3_600_000_000_000
        );
        assert_eq!(
            parse_timestamp("2004-08-19T01:00:00").unwrap(),
            d + 3_600_000_000_000
        );
        assert_eq!(
            parse_timestamp("2004-08-19T01:00:00Z").unwrap(),
            d + 3_600_000_000_000
        );
        assert_eq!(
            parse_timestamp("2004-08-19T03:00:00+02:00").unwrap(),
            d + 3_600_000_000_000
        );
        assert_eq!(
            parse_timestamp("2004-08-19 01:00:00.5").unwrap(),
            d + 3_600_500_000_000
        );
        assert_eq!(parse_timestamp("1092873600").unwrap(), d);
        assert_eq!(parse_timestamp("1092873600000").unwrap(), d);
        assert_eq!(parse_timestamp("1092873600000000").unwrap(), d);
        assert_eq!(parse_timestamp("1092873600000000000").unwrap(), d);
        assert_eq!(
            parse_timestamp("1672531200000000").unwrap(),
            1_672_531_200 * 1_000_000_000
        );
        assert_eq!(format_timestamp(d), "2004-08-19T00:00:00");
    }

    #[test]
    fn garbage_rejected() {
        for s in [
            "",
            "2004-13-01",
            "2004-02-30",
            "yesterday",
            "2004-08-19 25:00:00",
            "12.5",
        ] {
            assert!(parse_timestamp(s).is_none(), "{s}");
        }
    }

    #[test]
    fn the_fast_timestamp_text_is_chronos() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut cases = vec![
            0i64,
            -1,
            -1_000_000_000,
            9_000_000_000_000_000_000,
            951_782_400 * 1_000_000_000,
        ];
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Seconds across ±190 years, sometimes with a fraction.
            let secs = (x % 12_000_000_000) as i64 - 6_000_000_000;
            let frac = if x.is_multiple_of(3) {
                (x % 1_000_000_000) as i64
            } else {
                0
            };
            cases.push(secs * 1_000_000_000 + frac);
        }
        for t in cases {
            let mut b = Vec::new();
            push_timestamp(&mut b, t);
            assert_eq!(String::from_utf8(b).unwrap(), format_timestamp(t), "{t}");
        }
    }
}
