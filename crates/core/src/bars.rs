//! Columnar OHLCV storage.

mod buffer;

pub use buffer::Buffer;

use crate::error::{BarRule, BarsError};

/// Nanoseconds since the Unix epoch, UTC. Naive timestamps are read as UTC.
pub type TimestampNs = i64;

/// OHLCV bars stored column by column: one buffer per field, 48 bytes a bar.
///
/// A `Bars` value always satisfies the invariants checked by [`Bars::try_new`]:
/// equal column lengths, finite positive prices, `low <= min(open, close)`,
/// `high >= max(open, close)`, non-negative (or absent, NaN) volume and strictly
/// increasing timestamps. Code downstream relies on them and never re-checks.
///
/// Bars known by their close alone ([`Bars::try_from_close`], e.g. an array handed to
/// `from_signals`) keep one price column: their open, high and low are the close, and their
/// volume is made (all NaN) only if something reads it. A million such bars take 16 MB, not
/// 48 MB, and cost no copies. Columns may also be lent by their host ([`Buffer::lent`]), as the
/// Python package does with a DataFrame's columns.
#[derive(Debug, Clone)]
pub struct Bars {
    time: Buffer<TimestampNs>,
    /// `None`: the close.
    open: Option<Buffer<f64>>,
    /// `None`: the close.
    high: Option<Buffer<f64>>,
    /// `None`: the close.
    low: Option<Buffer<f64>>,
    close: Buffer<f64>,
    /// Unset: no volume (NaN on every bar), filled on first use.
    volume: std::sync::OnceLock<Buffer<f64>>,
}

impl PartialEq for Bars {
    /// Equal columns, whether stored or standing for the close.
    fn eq(&self, other: &Bars) -> bool {
        self.time() == other.time()
            && self.open() == other.open()
            && self.high() == other.high()
            && self.low() == other.low()
            && self.close() == other.close()
            && self.volume() == other.volume()
    }
}

/// The columns of a bar table, used to name the culprit in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// The timestamp column.
    Time,
    /// Opening price.
    Open,
    /// Highest price.
    High,
    /// Lowest price.
    Low,
    /// Closing price.
    Close,
    /// Traded volume.
    Volume,
}

impl Column {
    /// The canonical column name.
    pub fn name(self) -> &'static str {
        match self {
            Column::Time => "time",
            Column::Open => "Open",
            Column::High => "High",
            Column::Low => "Low",
            Column::Close => "Close",
            Column::Volume => "Volume",
        }
    }
}

impl std::fmt::Display for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Bars {
    /// Builds bars from columns, checking every invariant; the error names the first bad
    /// bar (0-based), its column, value and the rule it breaks. Pass NaN volumes when the
    /// source has none.
    pub fn try_new(
        time: Vec<TimestampNs>,
        open: Vec<f64>,
        high: Vec<f64>,
        low: Vec<f64>,
        close: Vec<f64>,
        volume: Vec<f64>,
    ) -> Result<Self, BarsError> {
        Bars::try_from_buffers(
            time.into(),
            open.into(),
            high.into(),
            low.into(),
            close.into(),
            Some(volume.into()),
        )
    }

    /// [`Bars::try_new`] on columns that may be lent ([`Buffer::lent`]), with the same checks;
    /// `None` volume: the source has none.
    pub fn try_from_buffers(
        time: Buffer<TimestampNs>,
        open: Buffer<f64>,
        high: Buffer<f64>,
        low: Buffer<f64>,
        close: Buffer<f64>,
        volume: Option<Buffer<f64>>,
    ) -> Result<Self, BarsError> {
        let n = time.len();
        for (column, len) in [
            (Column::Open, open.len()),
            (Column::High, high.len()),
            (Column::Low, low.len()),
            (Column::Close, close.len()),
            (Column::Volume, volume.as_ref().map_or(n, |v| v.len())),
        ] {
            if len != n {
                return Err(BarsError::LengthMismatch {
                    column,
                    expected: n,
                    found: len,
                });
            }
        }
        let bars = Bars {
            time,
            open: Some(open),
            high: Some(high),
            low: Some(low),
            close,
            volume: volume.map_or_else(std::sync::OnceLock::new, std::sync::OnceLock::from),
        };
        // Every rule in one branch-free pass (it vectorises); the first bad bar, if any,
        // is then found and named by the per-bar check.
        if !bars.all_valid() {
            for i in 0..n {
                bars.check_bar(i)?;
            }
        }
        Ok(bars)
    }

    /// Whether every bar passes [`Bars::check_bar`], without saying which does not.
    fn all_valid(&self) -> bool {
        // Reading 48 bytes a bar is the limit: each rule is a vector compare, in the widest
        // registers the CPU has.
        crate::simd::wide_kernel!(fn prices_wide(o: &[f64], h: &[f64], l: &[f64], c: &[f64]) -> bool = prices_valid;);
        crate::simd::wide_kernel!(fn volumes_wide(v: &[f64]) -> bool = volumes_valid;);
        crate::simd::wide_kernel!(fn times_wide(t: &[TimestampNs]) -> bool = times_increase;);
        crate::simd::wide_kernel!(fn closes_wide(c: &[f64]) -> bool = closes_valid;);
        let v = self.volume.get().map_or(&[][..], |v| &v[..]);
        let prices = match (&self.open, &self.high, &self.low) {
            (None, None, None) => closes_wide(self.close()),
            _ => prices_wide(self.open(), self.high(), self.low(), self.close()),
        };
        prices && volumes_wide(v) && times_wide(self.time())
    }

    /// Bars known by their close only: open, high and low are the close, and there is no
    /// volume. Checks the same invariants as [`Bars::try_new`] (finite positive closes,
    /// strictly increasing times) without storing the other columns.
    pub fn try_from_close(time: Vec<TimestampNs>, close: Vec<f64>) -> Result<Self, BarsError> {
        if close.len() != time.len() {
            return Err(BarsError::LengthMismatch {
                column: Column::Close,
                expected: time.len(),
                found: close.len(),
            });
        }
        let bars = Bars {
            time: time.into(),
            open: None,
            high: None,
            low: None,
            close: close.into(),
            volume: std::sync::OnceLock::new(),
        };
        // Checked in one pass without branches per bar (a close-only bar's prices are all
        // its close); the exact culprit is then found by the per-bar check.
        if !bars.all_valid() {
            for i in 0..bars.len() {
                bars.check_bar(i)?;
            }
        }
        Ok(bars)
    }

    fn check_bar(&self, i: usize) -> Result<(), BarsError> {
        let err = |column, value: f64, rule| {
            Err(BarsError::Invalid {
                index: i,
                column,
                value,
                rule,
            })
        };
        let (o, h, l, c) = (self.open()[i], self.high()[i], self.low()[i], self.close[i]);
        // Columns that stand for the close are the close: its errors name it.
        for (column, v, stored) in [
            (Column::Open, o, self.open.is_some()),
            (Column::High, h, self.high.is_some()),
            (Column::Low, l, self.low.is_some()),
            (Column::Close, c, true),
        ] {
            if !stored {
                continue;
            }
            if !v.is_finite() {
                return err(column, v, BarRule::NotFinite);
            }
            if v <= 0.0 {
                return err(column, v, BarRule::NonPositivePrice);
            }
        }
        if h < o.max(c) {
            return err(Column::High, h, BarRule::HighBelowOpenClose);
        }
        if l > o.min(c) {
            return err(Column::Low, l, BarRule::LowAboveOpenClose);
        }
        let v = self.volume.get().map_or(f64::NAN, |v| v[i]);
        if v.is_infinite() {
            return err(Column::Volume, v, BarRule::NotFinite);
        }
        if v < 0.0 {
            return err(Column::Volume, v, BarRule::NegativeVolume);
        }
        if i > 0 && self.time[i] <= self.time[i - 1] {
            let rule = if self.time[i] == self.time[i - 1] {
                BarRule::DuplicateTimestamp
            } else {
                BarRule::TimestampOutOfOrder
            };
            return err(Column::Time, self.time[i] as f64, rule);
        }
        Ok(())
    }

    /// Number of bars.
    pub fn len(&self) -> usize {
        self.time.len()
    }

    /// True when there are no bars.
    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }

    /// Timestamps, nanoseconds since the epoch (UTC).
    pub fn time(&self) -> &[TimestampNs] {
        &self.time
    }
    /// Opening prices.
    pub fn open(&self) -> &[f64] {
        self.open.as_deref().unwrap_or(&self.close)
    }
    /// Highest prices.
    pub fn high(&self) -> &[f64] {
        self.high.as_deref().unwrap_or(&self.close)
    }
    /// Lowest prices.
    pub fn low(&self) -> &[f64] {
        self.low.as_deref().unwrap_or(&self.close)
    }
    /// Closing prices.
    pub fn close(&self) -> &[f64] {
        &self.close
    }
    /// Volumes (NaN where the source had none).
    pub fn volume(&self) -> &[f64] {
        self.volume
            .get_or_init(|| vec![f64::NAN; self.close.len()].into())
    }

    /// True if at least one bar carries a volume.
    pub fn has_volume(&self) -> bool {
        self.volume
            .get()
            .is_some_and(|v| v.iter().any(|v| !v.is_nan()))
    }

    /// The bars whose timestamps fall in `[from, to]` (either bound optional).
    pub fn slice_time(&self, from: Option<TimestampNs>, to: Option<TimestampNs>) -> Bars {
        let lo = from.map_or(0, |f| self.time.partition_point(|&t| t < f));
        let hi = to.map_or(self.len(), |t| self.time.partition_point(|&x| x <= t));
        let hi = hi.max(lo);
        let cut = |v: &Option<Buffer<f64>>| v.as_ref().map(|v| v[lo..hi].to_vec().into());
        Bars {
            time: self.time[lo..hi].to_vec().into(),
            open: cut(&self.open),
            high: cut(&self.high),
            low: cut(&self.low),
            close: self.close[lo..hi].to_vec().into(),
            volume: match self.volume.get() {
                Some(v) => std::sync::OnceLock::from(Buffer::from(v[lo..hi].to_vec())),
                None => std::sync::OnceLock::new(),
            },
        }
    }

    /// A copy with every price multiplied by `factor` and volume divided by it.
    ///
    /// This is how fractional-unit trading is simulated: the broker keeps trading whole
    /// units, and one unit of the scaled series is `factor` of a real share.
    pub(crate) fn scaled_prices(&self, factor: f64) -> Bars {
        let s = |v: &[f64]| Buffer::from(v.iter().map(|x| x * factor).collect::<Vec<f64>>());
        let scaled = |v: &Option<Buffer<f64>>| v.as_deref().map(s);
        Bars {
            time: self.time.clone(),
            open: scaled(&self.open),
            high: scaled(&self.high),
            low: scaled(&self.low),
            close: s(&self.close),
            volume: match self.volume.get() {
                Some(v) => std::sync::OnceLock::from(Buffer::from(
                    v.iter().map(|v| v / factor).collect::<Vec<f64>>(),
                )),
                None => std::sync::OnceLock::new(),
            },
        }
    }
}

/// Finite positive prices with the high and low around the open and close, on every bar.
#[inline(always)]
fn prices_valid(o: &[f64], h: &[f64], l: &[f64], c: &[f64]) -> bool {
    let price = |x: f64| (x > 0.0) & (x < f64::INFINITY);
    o.iter()
        .zip(h)
        .zip(l.iter().zip(c))
        .fold(true, |ok, ((&o, &h), (&l, &c))| {
            let in_range = (h >= o.max(c)) & (l <= o.min(c));
            ok & price(o) & price(h) & price(l) & price(c) & in_range
        })
}

/// Finite positive prices (bars known by their close).
#[inline(always)]
fn closes_valid(c: &[f64]) -> bool {
    c.iter()
        .fold(true, |ok, &c| ok & (c > 0.0) & (c < f64::INFINITY))
}

/// Volumes that are NaN (none) or finite and non-negative.
#[inline(always)]
fn volumes_valid(v: &[f64]) -> bool {
    v.iter().fold(true, |ok, &v| {
        ok & (v.is_nan() | (v >= 0.0)) & (v != f64::INFINITY)
    })
}

/// Strictly increasing timestamps.
#[inline(always)]
fn times_increase(t: &[TimestampNs]) -> bool {
    match t {
        [] => true,
        [_, later @ ..] => later.iter().zip(t).fold(true, |ok, (b, a)| ok & (b > a)),
    }
}

#[cfg(test)]
impl Bars {
    /// Daily bars on `close` for the crate's unit tests: each opens at the previous close,
    /// its high and low half a percent beyond its open and close, no volume.
    pub(crate) fn from_closes(close: &[f64]) -> Bars {
        let n = close.len();
        let open: Vec<f64> = (0..n).map(|i| close[i.saturating_sub(1)]).collect();
        let high = (0..n).map(|i| open[i].max(close[i]) * 1.005).collect();
        let low = (0..n).map(|i| open[i].min(close[i]) * 0.995).collect();
        let time = (0..n as i64).map(|i| i * 86_400_000_000_000).collect();
        Bars::try_new(time, open, high, low, close.to_vec(), vec![f64::NAN; n])
            .expect("valid test bars")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars(time: Vec<i64>, o: f64, h: f64, l: f64, c: f64) -> Result<Bars, BarsError> {
        let n = time.len();
        Bars::try_new(
            time,
            vec![o; n],
            vec![h; n],
            vec![l; n],
            vec![c; n],
            vec![1.0; n],
        )
    }

    proptest::proptest! {
        /// The one-pass check accepts exactly the bars that every per-bar check accepts.
        #[test]
        fn the_one_pass_check_agrees_with_the_per_bar_check(
            rows in proptest::collection::vec(
                (
                    proptest::sample::select(vec![1.0, 2.0, 3.0, 0.0, -1.0, f64::NAN, f64::INFINITY]),
                    proptest::sample::select(vec![1.0, 2.0, 3.0, f64::NAN, f64::INFINITY]),
                    proptest::sample::select(vec![1.0, 2.0, 3.0, 0.5, f64::NAN]),
                    proptest::sample::select(vec![1.0, 2.0, 3.0, f64::NEG_INFINITY]),
                    proptest::sample::select(vec![0.0, 5.0, f64::NAN, -1.0, f64::INFINITY, f64::NEG_INFINITY]),
                    0i64..3,
                ),
                1..6,
            ),
        ) {
            let mut t = 0;
            let time: Vec<i64> = rows.iter().map(|r| { t += r.5; t }).collect();
            type Row = (f64, f64, f64, f64, f64, i64);
            let col = |f: fn(&Row) -> f64| {
                Buffer::from(rows.iter().map(f).collect::<Vec<f64>>())
            };
            let bars = Bars {
                time: time.into(),
                open: Some(col(|r| r.0)),
                high: Some(col(|r| r.1)),
                low: Some(col(|r| r.2)),
                close: col(|r| r.3),
                volume: std::sync::OnceLock::from(col(|r| r.4)),
            };
            let per_bar = (0..bars.len()).all(|i| bars.check_bar(i).is_ok());
            proptest::prop_assert_eq!(bars.all_valid(), per_bar);
        }
    }

    #[test]
    fn close_only_bars_equal_bars_whose_prices_are_the_close() {
        let (t, c) = (vec![1, 2, 5], vec![10.0, 10.5, 9.75]);
        let only = Bars::try_from_close(t.clone(), c.clone()).unwrap();
        let full = Bars::try_new(
            t.clone(),
            c.clone(),
            c.clone(),
            c.clone(),
            c.clone(),
            vec![f64::NAN; 3],
        )
        .unwrap();
        assert_eq!(only.open(), full.open());
        assert_eq!(only.low(), full.low());
        assert!(!only.has_volume());
        assert!(only.volume().iter().all(|v| v.is_nan()));
        assert_eq!(only.slice_time(Some(2), None).high(), [10.5, 9.75]);
        assert_eq!(only.scaled_prices(2.0).open(), [20.0, 21.0, 19.5]);
        // The same errors as the full constructor, naming the bar.
        for (t, c, rule) in [
            (vec![1, 2, 3], vec![1.0, f64::NAN, 1.0], BarRule::NotFinite),
            (
                vec![1, 2, 3],
                vec![1.0, 1.0, -1.0],
                BarRule::NonPositivePrice,
            ),
            (
                vec![1, 3, 2],
                vec![1.0, 1.0, 1.0],
                BarRule::TimestampOutOfOrder,
            ),
        ] {
            let e = Bars::try_from_close(t.clone(), c.clone()).unwrap_err();
            let Err(BarsError::Invalid { index, .. }) =
                Bars::try_new(t, c.clone(), c.clone(), c.clone(), c, vec![f64::NAN; 3])
            else {
                panic!("the full constructor accepts it");
            };
            let want = if rule == BarRule::TimestampOutOfOrder {
                Column::Time
            } else {
                Column::Close
            };
            assert!(
                matches!(e, BarsError::Invalid { index: i, column, rule: r, .. }
                    if i == index && r == rule && column == want),
                "{e:?}"
            );
        }
        assert!(Bars::try_from_close(vec![1], vec![]).is_err());
    }

    #[test]
    fn accepts_valid_bars() {
        for n in 0..3 {
            assert_eq!(
                bars((0..n).collect(), 10.0, 11.0, 9.0, 10.5).unwrap().len(),
                n as usize
            );
        }
        assert_eq!(bars(vec![1, 2, 3], 10.0, 11.0, 9.0, 10.5).unwrap().len(), 3);
    }

    #[test]
    fn rejects_each_rule() {
        let rule = |r: Result<Bars, BarsError>| match r {
            Err(BarsError::Invalid { rule, .. }) => rule,
            other => panic!("expected a rule violation, got {other:?}"),
        };
        assert_eq!(
            rule(bars(vec![1], 10.0, 9.0, 8.0, 9.5)),
            BarRule::HighBelowOpenClose
        );
        assert_eq!(
            rule(bars(vec![1], 10.0, 11.0, 10.2, 10.5)),
            BarRule::LowAboveOpenClose
        );
        assert_eq!(
            rule(bars(vec![1], 0.0, 11.0, 9.0, 10.5)),
            BarRule::NonPositivePrice
        );
        assert_eq!(
            rule(bars(vec![1], f64::NAN, 11.0, 9.0, 10.5)),
            BarRule::NotFinite
        );
        assert_eq!(
            rule(bars(vec![1, 1], 10.0, 11.0, 9.0, 10.5)),
            BarRule::DuplicateTimestamp
        );
        assert_eq!(
            rule(bars(vec![2, 1], 10.0, 11.0, 9.0, 10.5)),
            BarRule::TimestampOutOfOrder
        );
    }

    #[test]
    fn slices_by_time_inclusively() {
        let b = bars(vec![1, 2, 3, 4], 10.0, 11.0, 9.0, 10.5).unwrap();
        assert_eq!(b.slice_time(Some(2), Some(3)).time(), &[2, 3]);
        assert_eq!(b.slice_time(None, Some(0)).len(), 0);
    }
}
