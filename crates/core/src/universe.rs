//! Several assets on one timeline, without forward fill.
//!
//! Each asset keeps its own [`Bars`] (only the rows it has) plus, for every row, its
//! position on the union of all assets' timestamps. An asset without a bar at time `t`
//! has no price at `t`: nothing fills for it there, and it is valued at its last close.
//! No calendar is the master clock (backtrader's first feed is; feeds on other calendars
//! drift there): the union is.

use crate::bars::{Bars, TimestampNs};

/// Why a set of assets is not a valid [`Universe`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UniverseError {
    /// No assets at all.
    #[error("a universe needs at least one asset")]
    NoAssets,
    /// Two assets with the same symbol.
    #[error("symbol `{symbol}` appears twice (from {first} and from {second})")]
    DuplicateSymbol {
        /// The symbol.
        symbol: String,
        /// Where the first came from.
        first: String,
        /// Where the second came from.
        second: String,
    },
    /// An asset with no bars.
    #[error("symbol `{symbol}` ({source_name}) has no rows")]
    EmptyAsset {
        /// The symbol.
        symbol: String,
        /// Where it came from.
        source_name: String,
    },
    /// A symbol that is empty or not printable on one line.
    #[error(
        "symbol `{symbol}` ({source_name}): a symbol must be non-empty text without commas, `=` or line breaks"
    )]
    BadSymbol {
        /// The symbol.
        symbol: String,
        /// Where it came from.
        source_name: String,
    },
}

/// One asset of a universe: its own bars and where each lies on the union timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Asset {
    symbol: String,
    bars: Bars,
    /// `rows[k]` = the union index of the asset's bar `k` (strictly increasing).
    rows: Vec<u32>,
}

impl Asset {
    /// The asset's symbol.
    pub fn symbol(&self) -> &str {
        &self.symbol
    }
    /// The asset's own bars (only the times it has a bar).
    pub fn bars(&self) -> &Bars {
        &self.bars
    }
    /// For each of the asset's own bars, its index on the union timeline.
    pub fn rows(&self) -> &[u32] {
        &self.rows
    }
    /// A column of the asset's own bars laid out on the union timeline, NaN where the
    /// asset has no bar.
    pub fn on_union(&self, n: usize, column: &[f64]) -> Vec<f64> {
        let mut out = vec![f64::NAN; n];
        for (&r, &v) in self.rows.iter().zip(column) {
            out[r as usize] = v;
        }
        out
    }
    /// The asset's own-bar index at union index `t`, if it has a bar there.
    pub fn row_at(&self, t: usize) -> Option<usize> {
        self.rows.binary_search(&(t as u32)).ok()
    }
}

/// N assets on the union of their timestamps (see the module docs).
///
/// Invariants: at least one asset, symbols distinct and non-empty, every asset has at least
/// one bar, the union is strictly increasing.
#[derive(Debug, Clone, PartialEq)]
pub struct Universe {
    time: Vec<TimestampNs>,
    assets: Vec<Asset>,
}

impl Universe {
    /// Builds a universe from `(symbol, source, bars)`, in the given column order. `source`
    /// (a file name, `sample:…`) only serves error messages.
    pub fn try_new(
        assets: impl IntoIterator<Item = (String, String, Bars)>,
    ) -> Result<Universe, UniverseError> {
        let assets: Vec<(String, String, Bars)> = assets.into_iter().collect();
        if assets.is_empty() {
            return Err(UniverseError::NoAssets);
        }
        for (k, (symbol, source, bars)) in assets.iter().enumerate() {
            if symbol.is_empty() || symbol.contains([',', '=', '\n', '\r']) {
                return Err(UniverseError::BadSymbol {
                    symbol: symbol.clone(),
                    source_name: source.clone(),
                });
            }
            if let Some((_, first, _)) = assets[..k].iter().find(|(s, _, _)| s == symbol) {
                return Err(UniverseError::DuplicateSymbol {
                    symbol: symbol.clone(),
                    first: first.clone(),
                    second: source.clone(),
                });
            }
            if bars.is_empty() {
                return Err(UniverseError::EmptyAsset {
                    symbol: symbol.clone(),
                    source_name: source.clone(),
                });
            }
        }
        let time = union(assets.iter().map(|(_, _, b)| b.time()));
        let assets = assets
            .into_iter()
            .map(|(symbol, _, bars)| {
                let mut rows = Vec::with_capacity(bars.len());
                let mut j = 0usize;
                for &t in bars.time() {
                    // Both ascend, so a forward scan finds each in amortised O(1).
                    while time[j] < t {
                        j += 1;
                    }
                    rows.push(j as u32);
                }
                Asset { symbol, bars, rows }
            })
            .collect();
        Ok(Universe { time, assets })
    }

    /// A universe of one asset: its timeline is the asset's own.
    pub fn single(symbol: impl Into<String>, bars: Bars) -> Result<Universe, UniverseError> {
        let symbol = symbol.into();
        Universe::try_new([(symbol.clone(), symbol, bars)])
    }

    /// The union timeline.
    pub fn time(&self) -> &[TimestampNs] {
        &self.time
    }
    /// Number of bars on the union timeline.
    pub fn len(&self) -> usize {
        self.time.len()
    }
    /// Never true for a valid universe; present for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }
    /// The assets, in column order.
    pub fn assets(&self) -> &[Asset] {
        &self.assets
    }
    /// Number of assets.
    pub fn n_assets(&self) -> usize {
        self.assets.len()
    }
    /// Symbols in column order.
    pub fn symbols(&self) -> impl Iterator<Item = &str> {
        self.assets.iter().map(|a| a.symbol.as_str())
    }
    /// Bytes of bar data held (48 per asset bar plus 4 for its union index, plus the
    /// union timeline).
    pub fn data_bytes(&self) -> usize {
        self.assets.iter().map(|a| a.bars.len() * 52).sum::<usize>() + self.time.len() * 8
    }

    /// The universe restricted to `[from, to]` (either bound optional); assets left with
    /// no bars are dropped. `None` when no asset has a bar in the range.
    pub fn slice_time(
        &self,
        from: Option<TimestampNs>,
        to: Option<TimestampNs>,
    ) -> Option<Universe> {
        let kept = self.assets.iter().filter_map(|a| {
            let b = a.bars.slice_time(from, to);
            (!b.is_empty()).then(|| (a.symbol.clone(), a.symbol.clone(), b))
        });
        Universe::try_new(kept).ok()
    }
}

/// The sorted union of ascending timelines. Assets usually share a calendar (or list
/// later on it), so each timeline is first checked against the longest in one linear walk;
/// only timelines with times of their own are merged, by a stable sort of their
/// concatenation (which merges its ascending runs: O(total · log N)).
fn union<'a>(timelines: impl Iterator<Item = &'a [TimestampNs]> + Clone) -> Vec<TimestampNs> {
    let Some(longest) = timelines.clone().max_by_key(|t| t.len()) else {
        return Vec::new();
    };
    let within = |t: &[TimestampNs]| {
        let mut j = 0;
        t.iter().all(|&x| {
            while j < longest.len() && longest[j] < x {
                j += 1;
            }
            j < longest.len() && longest[j] == x
        })
    };
    let mut time = longest.to_vec();
    let mut extra = false;
    for t in timelines {
        if !within(t) {
            time.extend_from_slice(t);
            extra = true;
        }
    }
    if extra {
        time.sort();
        time.dedup();
    }
    time
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars(time: &[i64], c: f64) -> Bars {
        let n = time.len();
        Bars::try_new(
            time.to_vec(),
            vec![c; n],
            vec![c + 1.0; n],
            vec![c - 1.0; n],
            vec![c; n],
            vec![1.0; n],
        )
        .unwrap()
    }

    #[test]
    fn the_timeline_is_the_union_and_rows_map_onto_it() {
        let u = Universe::try_new([
            ("A".into(), "a.csv".into(), bars(&[1, 3, 5], 10.0)),
            ("B".into(), "b.csv".into(), bars(&[2, 3, 6], 20.0)),
        ])
        .unwrap();
        assert_eq!(u.time(), &[1, 2, 3, 5, 6]);
        assert_eq!(u.assets()[0].rows(), &[0, 2, 3]);
        assert_eq!(u.assets()[1].rows(), &[1, 2, 4]);
        let c = u.assets()[1].on_union(u.len(), u.assets()[1].bars().close());
        assert!(c[0].is_nan() && c[1] == 20.0 && c[3].is_nan());
        assert_eq!(u.assets()[0].row_at(3), Some(2));
        assert_eq!(u.assets()[0].row_at(1), None);
    }

    #[test]
    fn the_union_of_any_timelines_is_sorted_and_complete() {
        let cases: [&[&[i64]]; 4] = [
            &[&[1, 2, 3, 4], &[2, 3], &[4]],
            &[&[1, 3, 5], &[2, 4, 6], &[0, 7]],
            &[&[5], &[1, 2, 3, 4, 6, 7]],
            &[&[1, 2, 3], &[1, 2, 3]],
        ];
        for c in cases {
            let mut want: Vec<i64> = c.iter().flat_map(|t| t.iter().copied()).collect();
            want.sort_unstable();
            want.dedup();
            assert_eq!(union(c.iter().copied()), want, "{c:?}");
        }
    }

    #[test]
    fn bad_sets_are_named() {
        let dup = Universe::try_new([
            ("A".into(), "a.csv".into(), bars(&[1], 10.0)),
            ("A".into(), "dir/A.csv".into(), bars(&[2], 10.0)),
        ]);
        assert_eq!(
            dup.unwrap_err().to_string(),
            "symbol `A` appears twice (from a.csv and from dir/A.csv)"
        );
        let empty = Universe::try_new([("E".into(), "e.csv".into(), bars(&[], 10.0))]);
        assert_eq!(
            empty.unwrap_err().to_string(),
            "symbol `E` (e.csv) has no rows"
        );
        assert_eq!(
            Universe::try_new(Vec::new()).unwrap_err(),
            UniverseError::NoAssets
        );
    }
}
