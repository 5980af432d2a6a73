//! Calendar arithmetic on UTC nanosecond timestamps, for resampling and annualisation.

use crate::bars::TimestampNs;

pub(crate) const NS_PER_SEC: i64 = 1_000_000_000;
pub(crate) const NS_PER_DAY: i64 = 86_400 * NS_PER_SEC;

/// Days since 1970-01-01 (floor).
pub(crate) fn day_number(t: TimestampNs) -> i64 {
    t.div_euclid(NS_PER_DAY)
}

/// Day of week, Monday = 0 … Sunday = 6.
pub(crate) fn weekday(t: TimestampNs) -> i64 {
    (day_number(t) + 3).rem_euclid(7)
}

/// (year, month) of a day number (Howard Hinnant's civil-from-days).
pub(crate) fn year_month(t: TimestampNs) -> (i64, i64) {
    let z = day_number(t) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month)
}

/// Resampling buckets, as pandas' `resample` rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bucket {
    /// Calendar day (`D`).
    Day,
    /// Week ending Sunday (`W`).
    Week,
    /// Calendar month (`ME`).
    Month,
    /// Calendar year (`YE`).
    Year,
}

impl Bucket {
    pub(crate) fn key(self, t: TimestampNs) -> i64 {
        match self {
            Bucket::Day => day_number(t),
            Bucket::Week => day_number(t) + (6 - weekday(t)),
            Bucket::Month => {
                let (y, m) = year_month(t);
                y * 12 + m
            }
            Bucket::Year => year_month(t).0,
        }
    }
}

/// Rounds a positive duration up to a multiple of the data's resolution: the smallest
/// unit (day, hour, minute, second, ms, µs, ns) in which the bar period is whole, as
/// pandas' `Timedelta.ceil(period.resolution_string)`.
pub(crate) fn ceil_to_resolution(value: i64, period: i64) -> i64 {
    let unit = [
        NS_PER_DAY,
        3_600 * NS_PER_SEC,
        60 * NS_PER_SEC,
        NS_PER_SEC,
        1_000_000,
        1_000,
        1,
    ]
    .into_iter()
    .find(|u| period % u == 0)
    .unwrap_or(1);
    let q = value.div_euclid(unit);
    if value.rem_euclid(unit) == 0 {
        q * unit
    } else {
        (q + 1) * unit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        // 2004-08-19 is a Thursday; 2000-02-29 exists.
        let t = 12_649 * NS_PER_DAY;
        assert_eq!(year_month(t), (2004, 8));
        assert_eq!(weekday(t), 3);
        assert_eq!(year_month(11_016 * NS_PER_DAY), (2000, 2));
        assert_eq!(year_month(-NS_PER_DAY), (1969, 12));
    }

    #[test]
    fn ceil_rounds_up_to_unit() {
        assert_eq!(
            ceil_to_resolution(NS_PER_DAY + 1, NS_PER_DAY),
            2 * NS_PER_DAY
        );
        assert_eq!(
            ceil_to_resolution(2 * NS_PER_DAY, NS_PER_DAY),
            2 * NS_PER_DAY
        );
        let hour = 3_600 * NS_PER_SEC;
        assert_eq!(ceil_to_resolution(hour + 5, hour), 2 * hour);
    }
}
