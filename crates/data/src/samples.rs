//! Datasets bundled into the binary, so `sample:GOOG` works on any machine.
//!
//! Verbatim copies of the CSVs shipped in the backtesting.py 0.6.6 wheel (see
//! `samples/README.md` for origin and checksums).

use backtide_core::Bars;

use crate::csv::parse_csv;
use crate::error::DataError;

/// Names and contents of the bundled samples.
pub const SAMPLES: &[(&str, &str)] = &[
    ("GOOG", include_str!("../samples/GOOG.csv")),
    ("EURUSD", include_str!("../samples/EURUSD.csv")),
    ("BTCUSD", include_str!("../samples/BTCUSD.csv")),
];

/// The raw CSV text of a bundled sample (case-insensitive name).
pub fn sample_csv(name: &str) -> Result<&'static str, DataError> {
    SAMPLES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, c)| *c)
        .ok_or_else(|| DataError::UnknownSample {
            name: name.to_string(),
            available: SAMPLES
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Parses a bundled sample.
pub fn sample(name: &str) -> Result<Bars, DataError> {
    let csv = sample_csv(name)?;
    parse_csv(
        csv.as_bytes(),
        &format!("sample:{}", name.to_ascii_uppercase()),
    )
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
}
