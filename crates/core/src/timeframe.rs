//! Coarser timeframes: bars resampled into calendar-aligned buckets (minutes, hours, days,
//! weeks, months), optionally aligned to the market's session.
//!
//! Each bucket becomes one bar stamped with the bucket's start: Open of its first bar, High
//! the highest, Low the lowest, Close of its last bar, Volume the sum (NaN when no bar of
//! the bucket has one); buckets without bars are left out. Buckets are aligned to the
//! calendar in UTC: `N min`/`N h` from midnight (N must divide a day), days from midnight,
//! weeks from Monday 00:00, months from the 1st. This is pandas'
//! `df.resample(rule, label="left", closed="left").agg(first/max/min/last/sum).dropna()`
//! with the rules `Nmin`, `Nh`, `D`, `W-MON` and `MS`, which
//! `testdata/timeframe/make_reference.py` checks. (pandas' own defaults for weeks and
//! months, `W` and `ME`, stamp a bucket with its end and close it on the right; a bar
//! stamped with a bucket's end would carry prices from before that time, so the start is
//! used.)
//!
//! # Sessions
//!
//! With a [`Session`] ([`Timeframe::resample_in`]), a day is a session instead of a
//! calendar day: it runs from the session's start to the next, belongs to the day
//! [`Session::day`] names and is stamped with its start ([`Session::day_start`]: 09:30 of
//! the day itself, or 22:00 of the day before for an FX session). `N min`/`N h` buckets
//! tile each session from its start (1h bars of a 09:30 session start at 09:30, 10:30, …),
//! so a bucket never holds bars of two sessions; weeks start at Monday's session start and
//! months at the start of the session of their 1st. Every bucket is the midnight bucket of
//! the time moved back by the session's offset from midnight, moved forward again; for
//! `N min`, `N h` and days this is pandas' `resample(rule, offset=…)`, and for weeks and
//! months the script builds it that way (`testdata/timeframe/make_session_reference.py`).
//! [`Session::default`] (midnight) gives the calendar buckets above.

use crate::bars::{Bars, TimestampNs};
use crate::error::BarsError;
use crate::stats::calendar::{NS_PER_DAY, weekday, year_month};

/// A timeframe to resample to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeframe {
    /// A fixed span that divides a day (minutes or hours), in ns.
    Intraday(i64),
    /// `n` calendar days, counted from 1970-01-01 (only 1 is parsed from text).
    Days(i64),
    /// A calendar week, Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
}

/// Why a timeframe's text is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "timeframe `{0}`: expected N followed by min or h (e.g. 5min, 15min, 1h, 4h; they must divide a day), or 1d, 1w or 1mo"
)]
pub struct TimeframeError(pub String);

impl std::str::FromStr for Timeframe {
    type Err = TimeframeError;

    fn from_str(text: &str) -> Result<Timeframe, TimeframeError> {
        let bad = || TimeframeError(text.to_string());
        let t = text.trim().to_ascii_lowercase();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (digits, unit) = t.split_at(split);
        let n: i64 = if digits.is_empty() {
            1
        } else {
            digits.parse().map_err(|_| bad())?
        };
        if n <= 0 {
            return Err(bad());
        }
        const MIN: i64 = 60_000_000_000;
        let span = match unit {
            "min" | "m" | "t" => n.checked_mul(MIN),
            "h" | "hour" => n.checked_mul(60 * MIN),
            // Several days would need an origin (pandas counts from the first bar's day).
            "d" | "day" if n == 1 => return Ok(Timeframe::Days(1)),
            "w" | "week" if n == 1 => return Ok(Timeframe::Week),
            "mo" | "month" if n == 1 => return Ok(Timeframe::Month),
            _ => None,
        }
        .ok_or_else(bad)?;
        if NS_PER_DAY % span != 0 {
            return Err(bad());
        }
        Ok(if span == NS_PER_DAY {
            Timeframe::Days(1)
        } else {
            Timeframe::Intraday(span)
        })
    }
}

impl std::fmt::Display for Timeframe {
    /// The canonical text, which parses back to the same timeframe (`60min` → `1h`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const MIN: i64 = 60_000_000_000;
        match *self {
            Timeframe::Intraday(span) if span % (60 * MIN) == 0 => {
                write!(f, "{}h", span / (60 * MIN))
            }
            Timeframe::Intraday(span) => write!(f, "{}min", span / MIN),
            Timeframe::Days(n) => write!(f, "{n}d"),
            Timeframe::Week => f.write_str("1w"),
            Timeframe::Month => f.write_str("1mo"),
        }
    }
}

impl Timeframe {
    /// The start of the bucket holding `t`, days starting at midnight (the calendar
    /// buckets of the module; [`Timeframe::bucket_start_in`] with [`Session::default`]).
    pub fn bucket_start(self, t: TimestampNs) -> TimestampNs {
        self.bucket_start_in(Session::default(), t)
    }

    /// The start of the bucket holding `t` when trading days start at `session`'s start
    /// (see the module): the session holding `t`, the span of it from its start, or the
    /// session that starts its week or month.
    pub fn bucket_start_in(self, session: Session, t: TimestampNs) -> TimestampNs {
        let day = session.day(t);
        match self {
            Timeframe::Intraday(span) => {
                // A span divides a day, so the tiling of one session continues into the
                // next: counting from this session's start or from any other is the same.
                let from = session.day_start(day);
                from + (t - from).div_euclid(span) * span
            }
            Timeframe::Days(n) => session.day_start(day.div_euclid(n) * n),
            Timeframe::Week => session.day_start(day - weekday(day * NS_PER_DAY)),
            Timeframe::Month => {
                let (y, m) = year_month(day * NS_PER_DAY);
                session.day_start(days_from_civil(y, m))
            }
        }
    }

    /// `bars` resampled to this timeframe, days starting at midnight (see the module).
    pub fn resample(self, bars: &Bars) -> Result<Bars, BarsError> {
        self.resample_in(Session::default(), bars)
    }

    /// `bars` resampled to this timeframe with trading days starting at `session`'s start
    /// (see the module): each bar goes to the bucket [`Timeframe::bucket_start_in`] names.
    pub fn resample_in(self, session: Session, bars: &Bars) -> Result<Bars, BarsError> {
        let (time, open, high, low, close, volume) = (
            bars.time(),
            bars.open(),
            bars.high(),
            bars.low(),
            bars.close(),
            bars.volume(),
        );
        let bucket = |t| self.bucket_start_in(session, t);
        let mut out: [Vec<f64>; 5] = Default::default();
        let mut stamps: Vec<TimestampNs> = Vec::new();
        let mut i = 0;
        while i < time.len() {
            let start = bucket(time[i]);
            let mut j = i + 1;
            while j < time.len() && bucket(time[j]) == start {
                j += 1;
            }
            stamps.push(start);
            out[0].push(open[i]);
            out[1].push(high[i..j].iter().copied().fold(f64::NEG_INFINITY, f64::max));
            out[2].push(low[i..j].iter().copied().fold(f64::INFINITY, f64::min));
            out[3].push(close[j - 1]);
            let v = &volume[i..j];
            out[4].push(if v.iter().all(|x| x.is_nan()) {
                f64::NAN
            } else {
                v.iter().filter(|x| !x.is_nan()).sum()
            });
            i = j;
        }
        let [o, h, l, c, v] = out;
        Bars::try_new(stamps, o, h, l, c, v)
    }
}

/// When the market's trading day starts, as a time of day in the data's clock: a session
/// runs from one start to the next. Equities quoted in exchange time start at midnight (or
/// 09:30, to align hourly bars to the open); FX days start at 17:00 New York (22:00 UTC).
/// A session that starts at or after noon belongs to the next calendar day, as an FX
/// trading day that opens Sunday evening is Monday's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Session {
    /// Nanoseconds after midnight, in `[0, 1 day)`.
    start: i64,
}

/// Why a session start's text is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "session start `{0}`: expected a time of day HH:MM from 00:00 to 23:59 (e.g. 09:30, 22:00)"
)]
pub struct SessionError(pub String);

impl Session {
    /// Sessions that start `start` ns after midnight (`None` outside `[0, 1 day)`).
    pub fn starting_at(start: i64) -> Option<Session> {
        (0..NS_PER_DAY)
            .contains(&start)
            .then_some(Session { start })
    }

    /// Nanoseconds after midnight at which each session starts.
    pub fn start(self) -> i64 {
        self.start
    }

    /// How far a session's start lies from the midnight that begins its day: the start
    /// itself before noon, the start minus a day from noon on.
    fn shift(self) -> i64 {
        if self.start >= NS_PER_DAY / 2 {
            self.start - NS_PER_DAY
        } else {
            self.start
        }
    }

    /// The day (days since 1970-01-01) whose session holds `t`: two bars share a session
    /// exactly when they share this number.
    pub fn day(self, t: TimestampNs) -> i64 {
        (t - self.shift()).div_euclid(NS_PER_DAY)
    }

    /// When the session of day `day` (days since 1970-01-01, as [`Session::day`] numbers
    /// them) starts: that day's midnight plus the start, or the day before's for a start at
    /// or after noon. The first instant `t` with `self.day(t) == day`.
    pub fn day_start(self, day: i64) -> TimestampNs {
        day * NS_PER_DAY + self.shift()
    }
}

impl std::str::FromStr for Session {
    type Err = SessionError;

    fn from_str(text: &str) -> Result<Session, SessionError> {
        let bad = || SessionError(text.to_string());
        let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
        let ok = |s: &str| (1..=2).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
        if !ok(h) || m.len() != 2 || !ok(m) {
            return Err(bad());
        }
        let (h, m): (i64, i64) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 23 || m > 59 {
            return Err(bad());
        }
        Ok(Session {
            start: (h * 60 + m) * 60_000_000_000,
        })
    }
}

impl std::fmt::Display for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let min = self.start / 60_000_000_000;
        write!(f, "{:02}:{:02}", min / 60, min % 60)
    }
}

/// Days from 1970-01-01 to the first of month `m` of year `y` (Hinnant's days-from-civil).
pub(crate) fn days_from_civil(y: i64, m: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000_000;

    #[test]
    fn rules_parse_and_refuse_with_the_forms_that_work() {
        assert_eq!("1h".parse(), Ok(Timeframe::Intraday(HOUR)));
        assert_eq!("15min".parse(), Ok(Timeframe::Intraday(HOUR / 4)));
        assert_eq!("24h".parse(), Ok(Timeframe::Days(1)));
        assert_eq!("1D".parse(), Ok(Timeframe::Days(1)));
        assert_eq!("1w".parse(), Ok(Timeframe::Week));
        assert_eq!("1mo".parse(), Ok(Timeframe::Month));
        for text in ["5min", "15min", "1h", "4h", "1d", "1w", "1mo"] {
            let tf: Timeframe = text.parse().unwrap();
            assert_eq!(tf.to_string(), text);
        }
        assert_eq!("60min".parse::<Timeframe>().unwrap().to_string(), "1h");
        for bad in ["7min", "0h", "2w", "2d", "h1", "", "1y"] {
            let e = bad.parse::<Timeframe>().unwrap_err().to_string();
            assert!(e.contains("expected N followed by min or h"), "{bad}: {e}");
        }
    }

    #[test]
    fn buckets_start_on_the_calendar() {
        // 2024-02-29 (a Thursday) 13:45 UTC.
        let t = 1_709_214_300_000_000_000;
        let day = 1_709_164_800_000_000_000;
        assert_eq!(
            Timeframe::Intraday(4 * HOUR).bucket_start(t),
            day + 12 * HOUR
        );
        assert_eq!(Timeframe::Days(1).bucket_start(t), day);
        assert_eq!(Timeframe::Week.bucket_start(t), day - 3 * 24 * HOUR);
        assert_eq!(Timeframe::Month.bucket_start(t), day - 28 * 24 * HOUR);
    }

    #[test]
    fn buckets_start_at_the_session() {
        const DAY: i64 = 24 * HOUR;
        let day = 1_709_164_800_000_000_000; // 2024-02-29, a Thursday
        let t = day + 13 * HOUR + HOUR * 3 / 4; // 13:45
        let at = |tf: &str, s: Session, t| tf.parse::<Timeframe>().unwrap().bucket_start_in(s, t);
        let open: Session = "09:30".parse().unwrap();
        let h930 = 9 * HOUR + HOUR / 2;
        assert_eq!(at("1h", open, t), day + 13 * HOUR + HOUR / 2);
        assert_eq!(at("4h", open, t), day + h930 + 4 * HOUR);
        assert_eq!(at("1d", open, t), day + h930);
        assert_eq!(at("1w", open, t), day - 3 * DAY + h930, "Monday 26th");
        assert_eq!(at("1mo", open, t), day - 28 * DAY + h930, "the 1st");
        // 01:00 is before the open: Wednesday's session, and on March 1st February's.
        assert_eq!(at("1d", open, day + HOUR), day - DAY + h930);
        assert_eq!(at("1h", open, day + HOUR), day + HOUR / 2);
        assert_eq!(at("1mo", open, day + DAY + HOUR), day - 28 * DAY + h930);

        let fx: Session = "22:00".parse().unwrap();
        assert_eq!(at("4h", fx, t), day + 10 * HOUR, "22:00, 02:00, … 10:00");
        assert_eq!(at("1d", fx, t), day - 2 * HOUR, "Wednesday 22:00");
        assert_eq!(at("1w", fx, t), day - 3 * DAY - 2 * HOUR, "Sunday 22:00");
        assert_eq!(
            at("1mo", fx, t),
            day - 28 * DAY - 2 * HOUR,
            "January 31st 22:00"
        );
        // From 22:00 on: Friday's session, and March's.
        let late = day + 22 * HOUR + HOUR / 2;
        assert_eq!(at("1d", fx, late), day + 22 * HOUR);
        assert_eq!(at("1mo", fx, late), day + 22 * HOUR);
        assert_eq!(at("1w", fx, late), day - 3 * DAY - 2 * HOUR);
        assert_eq!(fx.day_start(fx.day(late)), day + 22 * HOUR);
        assert_eq!(open.day_start(19_782), day + h930);
    }

    #[test]
    fn sessions_split_days_at_their_start() {
        let day = 19_782 * 24 * HOUR; // 2024-02-29, a Thursday
        let nine_thirty: Session = "09:30".parse().unwrap();
        assert_eq!(nine_thirty.to_string(), "09:30");
        assert_eq!(
            nine_thirty.day(day + 9 * HOUR),
            19_781,
            "before the open: yesterday's"
        );
        assert_eq!(nine_thirty.day(day + 10 * HOUR), 19_782);
        let fx: Session = "22:00".parse().unwrap();
        assert_eq!(fx.day(day + 21 * HOUR), 19_782);
        assert_eq!(
            fx.day(day + 22 * HOUR),
            19_783,
            "the evening opens tomorrow's session"
        );
        assert_eq!(Session::default().day(day), 19_782);
        assert_eq!(Session::starting_at(24 * HOUR), None);
        for bad in ["24:00", "9:3", "0930", "12:60", "", "a:bc", "-1:00"] {
            let e = bad.parse::<Session>().unwrap_err().to_string();
            assert!(e.contains("expected a time of day HH:MM"), "{bad}: {e}");
        }
    }

    #[test]
    fn ohlcv_of_each_bucket() {
        let t: Vec<i64> = (0..6).map(|i| i * HOUR / 2).collect();
        let bars = Bars::try_new(
            t,
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            vec![1.5, 2.5, 9.0, 4.5, 5.5, 6.5],
            vec![0.5, 1.5, 2.5, 3.5, 0.1, 5.5],
            vec![1.2, 2.2, 3.2, 4.2, 5.2, 6.2],
            vec![10.0, f64::NAN, 1.0, 2.0, f64::NAN, f64::NAN],
        )
        .unwrap();
        let r = Timeframe::Intraday(HOUR).resample(&bars).unwrap();
        assert_eq!(r.time(), [0, HOUR, 2 * HOUR]);
        assert_eq!(r.open(), [1.0, 3.0, 5.0]);
        assert_eq!(r.high(), [2.5, 9.0, 6.5]);
        assert_eq!(r.low(), [0.5, 2.5, 0.1]);
        assert_eq!(r.close(), [2.2, 4.2, 6.2]);
        assert_eq!(r.volume()[..2], [10.0, 3.0]);
        assert!(r.volume()[2].is_nan());
    }
}
