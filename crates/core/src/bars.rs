//! Columnar OHLCV storage.

use crate::error::{BarRule, BarsError};

/// Nanoseconds since the Unix epoch, UTC. Naive timestamps are read as UTC.
pub type TimestampNs = i64;

/// OHLCV bars stored column by column: one `Vec` per field, 48 bytes a bar.
///
/// A `Bars` value always satisfies the invariants checked by [`Bars::try_new`]:
/// equal column lengths, finite positive prices, `low <= min(open, close)`,
/// `high >= max(open, close)`, non-negative (or absent, NaN) volume and strictly
/// increasing timestamps. Code downstream relies on them and never re-checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Bars {
    time: Vec<TimestampNs>,
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
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
        let n = time.len();
        for (column, len) in [
            (Column::Open, open.len()),
            (Column::High, high.len()),
            (Column::Low, low.len()),
            (Column::Close, close.len()),
            (Column::Volume, volume.len()),
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
            open,
            high,
            low,
            close,
            volume,
        };
        for i in 0..n {
            bars.check_bar(i)?;
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
        for (column, v) in [
            (Column::Open, self.open[i]),
            (Column::High, self.high[i]),
            (Column::Low, self.low[i]),
            (Column::Close, self.close[i]),
        ] {
            if !v.is_finite() {
                return err(column, v, BarRule::NotFinite);
            }
            if v <= 0.0 {
                return err(column, v, BarRule::NonPositivePrice);
            }
        }
        let (o, h, l, c) = (self.open[i], self.high[i], self.low[i], self.close[i]);
        if h < o.max(c) {
            return err(Column::High, h, BarRule::HighBelowOpenClose);
        }
        if l > o.min(c) {
            return err(Column::Low, l, BarRule::LowAboveOpenClose);
        }
        let v = self.volume[i];
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
        &self.open
    }
    /// Highest prices.
    pub fn high(&self) -> &[f64] {
        &self.high
    }
    /// Lowest prices.
    pub fn low(&self) -> &[f64] {
        &self.low
    }
    /// Closing prices.
    pub fn close(&self) -> &[f64] {
        &self.close
    }
    /// Volumes (NaN where the source had none).
    pub fn volume(&self) -> &[f64] {
        &self.volume
    }

    /// True if at least one bar carries a volume.
    pub fn has_volume(&self) -> bool {
        self.volume.iter().any(|v| !v.is_nan())
    }

    /// The bars whose timestamps fall in `[from, to]` (either bound optional).
    pub fn slice_time(&self, from: Option<TimestampNs>, to: Option<TimestampNs>) -> Bars {
        let lo = from.map_or(0, |f| self.time.partition_point(|&t| t < f));
        let hi = to.map_or(self.len(), |t| self.time.partition_point(|&x| x <= t));
        let hi = hi.max(lo);
        Bars {
            time: self.time[lo..hi].to_vec(),
            open: self.open[lo..hi].to_vec(),
            high: self.high[lo..hi].to_vec(),
            low: self.low[lo..hi].to_vec(),
            close: self.close[lo..hi].to_vec(),
            volume: self.volume[lo..hi].to_vec(),
        }
    }

    /// A copy with every price multiplied by `factor` and volume divided by it.
    ///
    /// This is how fractional-unit trading is simulated: the broker keeps trading whole
    /// units, and one unit of the scaled series is `factor` of a real share.
    pub(crate) fn scaled_prices(&self, factor: f64) -> Bars {
        let s = |v: &[f64]| v.iter().map(|x| x * factor).collect();
        Bars {
            time: self.time.clone(),
            open: s(&self.open),
            high: s(&self.high),
            low: s(&self.low),
            close: s(&self.close),
            volume: self.volume.iter().map(|v| v / factor).collect(),
        }
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

    #[test]
    fn accepts_valid_bars() {
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
