//! Finer bars inside each bar, so that stop, limit and SL/TP orders fill along the path.
//!
//! backtesting.py fills against one bar's OHLC: when a bar's range holds both a trade's SL
//! and its TP, the SL fills (it is first in the queue), whatever the price did first. Given
//! the finer bars that make up each bar (minutes inside days), [`crate::run_intrabar`]
//! fills a bar's pending orders against its finer bars in time order, each as a bar of its
//! own, so the price the path reaches first fills first. Everything else stays per bar:
//! market orders fill at the bar's open (the first finer bar's open), equity and sizing use
//! the bar's close, and the strategy decides once per bar.
//!
//! A finer bar stamped `t` belongs to the bar `i` with `time[i] <= t < time[i + 1]` (the
//! last bar takes every later one). [`Intrabar::try_new`] checks that the finer bars of
//! each bar aggregate to it: first Open, highest High, lowest Low and last Close equal the
//! bar's, within a relative [`TOLERANCE`]. A bar without finer bars fills by its OHLC.

use crate::bars::{Bars, TimestampNs};

/// Relative tolerance of the aggregation check: `|a − b| <= TOLERANCE · max(|a|, |b|)`
/// (finer and coarser files are often rounded separately).
pub const TOLERANCE: f64 = 1e-9;

/// The finer bars of a series, grouped by the bar they fall in; see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct Intrabar {
    fine: Bars,
    /// Bar `i`'s finer bars are `fine[starts[i]..starts[i + 1]]`; one more entry than bars.
    starts: Vec<usize>,
}

/// A price the finer bars of a bar must reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Aggregate {
    /// The first finer Open is the bar's Open.
    Open,
    /// The highest finer High is the bar's High.
    High,
    /// The lowest finer Low is the bar's Low.
    Low,
    /// The last finer Close is the bar's Close.
    Close,
}

impl std::fmt::Display for Aggregate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Aggregate::Open => "first Open",
            Aggregate::High => "highest High",
            Aggregate::Low => "lowest Low",
            Aggregate::Close => "last Close",
        })
    }
}

impl Aggregate {
    fn column(self) -> &'static str {
        match self {
            Aggregate::Open => "Open",
            Aggregate::High => "High",
            Aggregate::Low => "Low",
            Aggregate::Close => "Close",
        }
    }
}

/// Why finer bars do not fit the bars they should make up.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum IntrabarError {
    /// A finer bar is earlier than the first bar.
    #[error(
        "finer bar {index} ({}) is before the first bar ({}): the finer bars must lie within the bars' range",
        when(*time),
        when(*first)
    )]
    BeforeFirstBar {
        /// 0-based index of the finer bar.
        index: usize,
        /// Its timestamp.
        time: TimestampNs,
        /// The first bar's timestamp.
        first: TimestampNs,
    },
    /// The finer bars of a bar do not aggregate to it.
    #[error(
        "bar {bar} ({}): its {} finer bars ({} to {}) have {what} {found}, but the bar's {} is {expected}",
        when(*time),
        count,
        when(*fine_from),
        when(*fine_to),
        what.column()
    )]
    Mismatch {
        /// 0-based index of the bar.
        bar: usize,
        /// Its timestamp.
        time: TimestampNs,
        /// Which aggregate differs.
        what: Aggregate,
        /// The bar's value.
        expected: f64,
        /// The finer bars' value.
        found: f64,
        /// How many finer bars the bar has.
        count: usize,
        /// The first finer bar's timestamp.
        fine_from: TimestampNs,
        /// The last finer bar's timestamp.
        fine_to: TimestampNs,
    },
    /// The finer bars were grouped for a series of another length than the one run.
    #[error("finer bars grouped for {grouped} bars, but the run has {bars}")]
    OtherBars {
        /// Bars the finer bars were grouped for.
        grouped: usize,
        /// Bars of the run.
        bars: usize,
    },
}

/// `2024-01-03`, or `2024-01-03 09:30:00` off midnight (UTC), as the CLI prints times.
fn when(t: TimestampNs) -> String {
    const NS: i64 = 1_000_000_000;
    let days = t.div_euclid(86_400 * NS);
    let (year, month) = crate::stats::calendar::year_month(t);
    // Day of the month: days since the 1st of (year, month).
    let first = crate::timeframe::days_from_civil(year, month);
    let day = days - first + 1;
    let date = format!("{year:04}-{month:02}-{day:02}");
    let ns = t - days * 86_400 * NS;
    if ns == 0 {
        return date;
    }
    let s = ns / NS;
    let frac = ns % NS;
    let hms = format!("{date} {:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
    if frac == 0 {
        hms
    } else {
        format!("{hms}.{frac:09}")
    }
}

fn close_enough(a: f64, b: f64) -> bool {
    (a - b).abs() <= TOLERANCE * a.abs().max(b.abs())
}

impl Intrabar {
    /// Groups `fine` by the bar of `bars` each falls in and checks that they aggregate to
    /// it (first Open, highest High, lowest Low, last Close, within [`TOLERANCE`]). Errors
    /// name the first finer bar before `bars`, or the first bar whose finer bars disagree.
    pub fn try_new(bars: &Bars, fine: Bars) -> Result<Intrabar, IntrabarError> {
        let time = bars.time();
        let ft = fine.time();
        if let (Some(&first), Some(&t)) = (time.first(), ft.first())
            && t < first
        {
            return Err(IntrabarError::BeforeFirstBar {
                index: 0,
                time: t,
                first,
            });
        }
        let mut starts = Vec::with_capacity(time.len() + 1);
        let mut k = 0;
        for i in 0..time.len() {
            starts.push(k);
            match time.get(i + 1) {
                Some(&next) => k += ft[k..].partition_point(|&t| t < next),
                None => k = ft.len(),
            }
        }
        starts.push(ft.len());
        let out = Intrabar { fine, starts };
        for i in 0..time.len() {
            out.check(bars, i)?;
        }
        Ok(out)
    }

    fn check(&self, bars: &Bars, i: usize) -> Result<(), IntrabarError> {
        let r = self.range(i);
        if r.is_empty() {
            return Ok(());
        }
        let f = &self.fine;
        let high = f.high()[r.clone()].iter().copied().fold(f64::MIN, f64::max);
        let low = f.low()[r.clone()].iter().copied().fold(f64::MAX, f64::min);
        let checks = [
            (Aggregate::Open, bars.open()[i], f.open()[r.start]),
            (Aggregate::High, bars.high()[i], high),
            (Aggregate::Low, bars.low()[i], low),
            (Aggregate::Close, bars.close()[i], f.close()[r.end - 1]),
        ];
        for (what, expected, found) in checks {
            if !close_enough(expected, found) {
                return Err(IntrabarError::Mismatch {
                    bar: i,
                    time: bars.time()[i],
                    what,
                    expected,
                    found,
                    count: r.len(),
                    fine_from: f.time()[r.start],
                    fine_to: f.time()[r.end - 1],
                });
            }
        }
        Ok(())
    }

    /// The finer bars, all of them in time order.
    pub fn fine(&self) -> &Bars {
        &self.fine
    }

    /// Indices into [`Intrabar::fine`] of bar `i`'s finer bars (empty when it has none).
    pub fn range(&self, i: usize) -> std::ops::Range<usize> {
        self.starts[i]..self.starts[i + 1]
    }

    /// How many bars the finer bars were grouped for.
    pub fn bars(&self) -> usize {
        self.starts.len() - 1
    }

    /// How many bars have finer bars.
    pub fn covered(&self) -> usize {
        self.starts.windows(2).filter(|w| w[0] < w[1]).count()
    }

    /// The same grouping with prices multiplied by `factor` (a fractional unit's run).
    pub(crate) fn scaled_prices(&self, factor: f64) -> Intrabar {
        Intrabar {
            fine: self.fine.scaled_prices(factor),
            starts: self.starts.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000_000;
    const MIN: i64 = 60_000_000_000;

    fn bars(rows: &[(i64, f64, f64, f64, f64)]) -> Bars {
        Bars::try_new(
            rows.iter().map(|r| r.0).collect(),
            rows.iter().map(|r| r.1).collect(),
            rows.iter().map(|r| r.2).collect(),
            rows.iter().map(|r| r.3).collect(),
            rows.iter().map(|r| r.4).collect(),
            vec![0.0; rows.len()],
        )
        .unwrap()
    }

    #[test]
    fn groups_by_the_bar_each_falls_in() {
        let day = bars(&[
            (0, 10.0, 12.0, 9.0, 11.0),
            (DAY, 11.0, 11.0, 11.0, 11.0),
            (2 * DAY, 11.0, 13.0, 10.0, 12.0),
        ]);
        let fine = bars(&[
            (0, 10.0, 12.0, 10.0, 10.5),
            (MIN, 10.5, 11.0, 9.0, 11.0),
            (2 * DAY, 11.0, 13.0, 11.0, 11.5),
            (3 * DAY, 11.5, 12.0, 10.0, 12.0),
        ]);
        let ib = Intrabar::try_new(&day, fine).unwrap();
        assert_eq!(ib.range(0), 0..2);
        assert_eq!(ib.range(1), 2..2);
        assert_eq!(ib.range(2), 2..4);
        assert_eq!((ib.bars(), ib.covered()), (3, 2));
    }

    #[test]
    fn names_the_first_bar_that_does_not_aggregate() {
        let day = bars(&[(0, 10.0, 12.0, 9.0, 11.0), (DAY, 11.0, 12.0, 10.0, 11.0)]);
        let fine = bars(&[
            (0, 10.0, 12.0, 9.0, 11.0),
            (DAY + 9 * 60 * MIN, 11.0, 11.5, 10.0, 11.0),
        ]);
        let e = Intrabar::try_new(&day, fine).unwrap_err();
        assert_eq!(
            e.to_string(),
            "bar 1 (1970-01-02): its 1 finer bars (1970-01-02 09:00:00 to 1970-01-02 09:00:00) have highest High 11.5, but the bar's High is 12"
        );
        let early = bars(&[(-MIN, 10.0, 12.0, 9.0, 11.0)]);
        let e = Intrabar::try_new(&day, early).unwrap_err();
        assert_eq!(
            e.to_string(),
            "finer bar 0 (1969-12-31 23:59:00) is before the first bar (1970-01-01): the finer bars must lie within the bars' range"
        );
    }

    #[test]
    fn tolerates_rounding() {
        let day = bars(&[(0, 10.0, 12.0, 9.0, 11.0)]);
        let fine = bars(&[(0, 10.0, 12.0 * (1.0 + 1e-12), 9.0, 11.0)]);
        assert!(Intrabar::try_new(&day, fine).is_ok());
    }
}
