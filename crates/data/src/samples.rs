//! Datasets bundled into the binary, so `sample:GOOG` and `sample:STOCKS` work on any
//! machine.
//!
//! The single-asset samples are verbatim copies of the CSVs shipped in the backtesting.py
//! 0.6.6 wheel; `STOCKS` is five adjusted US stocks from bokeh-sampledata 2026.1 (see
//! `samples/README.md` for origin and checksums).

use backtide_core::{Bars, Universe};

use crate::csv::parse_csv;
use crate::error::DataError;

/// Names and contents of the bundled single-asset samples.
pub const SAMPLES: &[(&str, &str)] = &[
    ("GOOG", include_str!("../samples/GOOG.csv")),
    ("EURUSD", include_str!("../samples/EURUSD.csv")),
    ("BTCUSD", include_str!("../samples/BTCUSD.csv")),
];

/// Names of the bundled multi-asset samples, each with `(symbol, CSV)` per asset in column
/// order.
pub const SAMPLE_UNIVERSES: &[(&str, &[(&str, &str)])] = &[(
    "STOCKS",
    &[
        ("AAPL", include_str!("../samples/stocks/AAPL.csv")),
        ("FB", include_str!("../samples/stocks/FB.csv")),
        ("GOOG", include_str!("../samples/stocks/GOOG.csv")),
        ("IBM", include_str!("../samples/stocks/IBM.csv")),
        ("MSFT", include_str!("../samples/stocks/MSFT.csv")),
    ],
)];

/// Every sample name, comma-separated (for the unknown-sample error).
fn available() -> String {
    SAMPLES
        .iter()
        .map(|(n, _)| *n)
        .chain(SAMPLE_UNIVERSES.iter().map(|(n, _)| *n))
        .collect::<Vec<_>>()
        .join(", ")
}

fn find_universe(
    name: &str,
) -> Option<&'static (&'static str, &'static [(&'static str, &'static str)])> {
    SAMPLE_UNIVERSES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
}

/// The raw CSV text of a bundled single-asset sample (case-insensitive name). A
/// multi-asset sample is [`DataError::MultiAssetSample`].
pub fn sample_csv(name: &str) -> Result<&'static str, DataError> {
    if let Some((_, c)) = SAMPLES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
        return Ok(c);
    }
    Err(match find_universe(name) {
        Some((n, members)) => DataError::MultiAssetSample {
            name: (*n).to_string(),
            count: members.len(),
            symbols: members
                .iter()
                .map(|(s, _)| *s)
                .collect::<Vec<_>>()
                .join(", "),
        },
        None => DataError::UnknownSample {
            name: name.to_string(),
            available: available(),
        },
    })
}

/// Parses a bundled single-asset sample.
pub fn sample(name: &str) -> Result<Bars, DataError> {
    let csv = sample_csv(name)?;
    parse_csv(
        csv.as_bytes(),
        &format!("sample:{}", name.to_ascii_uppercase()),
    )
}

/// A bundled sample as a universe (case-insensitive name): `STOCKS` gives its five assets
/// in the order AAPL, FB, GOOG, IBM, MSFT; a single-asset sample gives a universe of one
/// asset named after it in upper case (`goog` → `GOOG`).
pub fn sample_universe(name: &str) -> Result<Universe, DataError> {
    Ok(Universe::try_new(sample_assets(name)?)?)
}

/// `(symbol, source, bars)` of a bundled sample, as [`sample_universe`] orders them.
pub(crate) fn sample_assets(name: &str) -> Result<Vec<(String, String, Bars)>, DataError> {
    if let Some((uname, members)) = find_universe(name) {
        let source = format!("sample:{uname}");
        return members
            .iter()
            .map(|(symbol, csv)| {
                let bars = parse_csv(csv.as_bytes(), &format!("{source}/{symbol}.csv"))?;
                Ok(((*symbol).to_string(), source.clone(), bars))
            })
            .collect();
    }
    let bars = sample(name)?;
    let symbol = name.to_ascii_uppercase();
    Ok(vec![(symbol.clone(), format!("sample:{symbol}"), bars)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_samples_parse() {
        assert_eq!(sample("GOOG").unwrap().len(), 2148);
        assert_eq!(sample("eurusd").unwrap().len(), 5000);
        assert_eq!(sample("BTCUSD").unwrap().len(), 156);
        assert!(sample("NOPE").is_err());
    }

    #[test]
    fn unknown_and_multi_asset_names_are_explained() {
        assert_eq!(
            sample("NOPE").unwrap_err().to_string(),
            "unknown sample `NOPE` (available: GOOG, EURUSD, BTCUSD, STOCKS)"
        );
        assert_eq!(
            sample("stocks").unwrap_err().to_string(),
            "sample `STOCKS` holds 5 assets (AAPL, FB, GOOG, IBM, MSFT); it loads only as a \
             universe"
        );
    }

    #[test]
    fn stocks_universe_has_five_assets_on_one_timeline() {
        let u = sample_universe("stocks").unwrap();
        assert_eq!(
            u.symbols().collect::<Vec<_>>(),
            ["AAPL", "FB", "GOOG", "IBM", "MSFT"]
        );
        assert_eq!(u.len(), 3270);
        let one = sample_universe("goog").unwrap();
        assert_eq!(one.symbols().collect::<Vec<_>>(), ["GOOG"]);
        assert_eq!(one.len(), 2148);
    }
}
