//! Timestamp parsing and formatting at the data edge.

use backtide_core::TimestampNs;
use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// Parses an ISO 8601 date or datetime (naive = UTC; `Z` or `±HH:MM` offsets converted)
/// or epoch seconds / milliseconds (integers; 12 or more digits are milliseconds).
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
        let ns = if digits >= 12 {
            v.checked_mul(1_000_000)?
        } else {
            v.checked_mul(1_000_000_000)?
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
