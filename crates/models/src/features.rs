//! Feature pipelines: a declared list of columns, each computed at bar `i` from bars up to
//! `i` only.
//!
//! A spec is JSON:
//!
//! ```json
//! {"features": [
//!   {"kind": "return", "lag": 1},
//!   {"kind": "indicator", "indicator": "rsi", "period": 14},
//!   {"kind": "volatility", "window": 20},
//!   {"kind": "volume_z", "window": 20},
//!   {"kind": "indicator", "indicator": "sma", "period": 10, "hidden": true},
//!   {"kind": "indicator", "indicator": "sma", "period": 50, "hidden": true},
//!   {"kind": "ratio", "num": "sma_10", "den": "sma_50"}
//! ]}
//! ```
//!
//! # Formulas (bar `i`, close `c`, volume `v`)
//! - `return` (`ret_k`): `c[i] / c[i-k] - 1`.
//! - `indicator` (`{name}_{period}`): one of `sma`, `ema`, `wma`, `rsi`, `roc`, `stddev`
//!   (of the close), `atr` (high, low, close), `highest` (high), `lowest` (low), exactly as
//!   the strategies compute them.
//! - `volatility` (`vol_w`): sample standard deviation of the last `w` one-bar returns.
//! - `volume_z` (`volz_w`): `(v[i] - mean) / std` over the last `w` volumes (sample std).
//! - `ratio` (`{num}_over_{den}`): `num[i] / den[i]` of two earlier features (by name).
//!
//! Every column is NaN until it has enough history. `hidden: true` computes a column for
//! ratios without feeding it to the model. A label for training (forward return) is only
//! ever added by [`label_forward_return`], named `label_fwd_return_{h}`, and never goes to
//! a model during a backtest.

use std::path::Path;

use backtide_core::{Bars, indicators};
use serde::Deserialize;

use crate::error::ModelError;

/// One declared feature.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Feature {
    /// `c[i] / c[i-lag] - 1`.
    Return {
        /// Bars back (≥ 1).
        lag: usize,
        /// Column name (default `ret_{lag}`).
        name: Option<String>,
        /// Computed but not a model input.
        #[serde(default)]
        hidden: bool,
    },
    /// A built-in indicator.
    Indicator {
        /// `sma`, `ema`, `wma`, `rsi`, `roc`, `stddev`, `atr`, `highest`, `lowest`.
        indicator: String,
        /// Its period (≥ 1).
        period: usize,
        /// Column name (default `{indicator}_{period}`).
        name: Option<String>,
        /// Computed but not a model input.
        #[serde(default)]
        hidden: bool,
    },
    /// Rolling standard deviation of one-bar returns.
    Volatility {
        /// Window (≥ 2).
        window: usize,
        /// Column name (default `vol_{window}`).
        name: Option<String>,
        /// Computed but not a model input.
        #[serde(default)]
        hidden: bool,
    },
    /// Volume z-score.
    VolumeZ {
        /// Window (≥ 2).
        window: usize,
        /// Column name (default `volz_{window}`).
        name: Option<String>,
        /// Computed but not a model input.
        #[serde(default)]
        hidden: bool,
    },
    /// The ratio of two earlier features.
    Ratio {
        /// Numerator's name.
        num: String,
        /// Denominator's name.
        den: String,
        /// Column name (default `{num}_over_{den}`).
        name: Option<String>,
        /// Computed but not a model input.
        #[serde(default)]
        hidden: bool,
    },
}

/// A feature spec file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    /// The columns, in order.
    pub features: Vec<Feature>,
}

/// Computed features: named columns over every bar.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    /// Column names, model inputs only, in spec order.
    pub names: Vec<String>,
    /// One vector per column, each as long as the bars.
    pub columns: Vec<Vec<f64>>,
}

impl FeatureMatrix {
    /// Rows.
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }

    /// Row-major `f32` values (the model's input layout).
    pub fn row_major_f32(&self) -> Vec<f32> {
        let (n, w) = (self.rows(), self.columns.len());
        let mut out = vec![0f32; n * w];
        for (j, col) in self.columns.iter().enumerate() {
            for (i, v) in col.iter().enumerate() {
                out[i * w + j] = *v as f32;
            }
        }
        out
    }

    /// True where every column has a value (past every warm-up).
    pub fn complete_rows(&self) -> Vec<bool> {
        (0..self.rows())
            .map(|i| self.columns.iter().all(|c| c[i].is_finite()))
            .collect()
    }
}

impl FeatureSpec {
    /// Reads a spec file.
    pub fn load(path: &Path) -> Result<FeatureSpec, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
            path: path.into(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses spec text (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<FeatureSpec, ModelError> {
        let spec: FeatureSpec = serde_json::from_str(text).map_err(|e| ModelError::Spec {
            path: path.into(),
            message: format!("invalid feature spec: {e}"),
        })?;
        if spec.features.iter().all(is_hidden) {
            return Err(ModelError::Spec {
                path: path.into(),
                message: "the spec has no model inputs (every feature is hidden or none given)"
                    .into(),
            });
        }
        Ok(spec)
    }

    /// Model input width.
    pub fn width(&self) -> usize {
        self.features.iter().filter(|f| !is_hidden(f)).count()
    }

    /// Computes every feature over `bars`.
    pub fn compute(&self, bars: &Bars, path: &Path) -> Result<FeatureMatrix, ModelError> {
        let err = |message: String| ModelError::Spec {
            path: path.into(),
            message,
        };
        let c = bars.close();
        let mut all: Vec<(String, Vec<f64>, bool)> = Vec::new();
        for (k, f) in self.features.iter().enumerate() {
            let at = format!("features[{k}]");
            let (name, values, hidden) = match f {
                Feature::Return { lag, name, hidden } => {
                    if *lag == 0 {
                        return Err(err(format!("{at}: lag must be at least 1")));
                    }
                    let v = (0..c.len())
                        .map(|i| {
                            if i >= *lag {
                                c[i] / c[i - lag] - 1.0
                            } else {
                                f64::NAN
                            }
                        })
                        .collect();
                    (name.clone().unwrap_or(format!("ret_{lag}")), v, *hidden)
                }
                Feature::Indicator {
                    indicator,
                    period,
                    name,
                    hidden,
                } => {
                    if *period == 0 {
                        return Err(err(format!("{at}: period must be at least 1")));
                    }
                    let n = *period;
                    let v = match indicator.as_str() {
                        "sma" => indicators::sma(c, n),
                        "ema" => indicators::ema(c, n),
                        "wma" => indicators::wma(c, n),
                        "rsi" => indicators::rsi(c, n),
                        "roc" => indicators::roc(c, n),
                        "stddev" => indicators::rolling_std(c, n, 1),
                        "atr" => indicators::atr(bars.high(), bars.low(), c, n),
                        "highest" => indicators::highest(bars.high(), n),
                        "lowest" => indicators::lowest(bars.low(), n),
                        other => {
                            return Err(err(format!(
                                "{at}: unknown indicator `{other}` (known: sma, ema, wma, rsi, roc, stddev, atr, highest, lowest)"
                            )));
                        }
                    };
                    (
                        name.clone().unwrap_or(format!("{indicator}_{n}")),
                        v,
                        *hidden,
                    )
                }
                Feature::Volatility {
                    window,
                    name,
                    hidden,
                } => {
                    if *window < 2 {
                        return Err(err(format!("{at}: window must be at least 2")));
                    }
                    // Returns start at bar 1; the rolling std is not NaN-aware, so it
                    // runs on the returns that exist and is shifted back into place.
                    let r: Vec<f64> = (1..c.len()).map(|i| c[i] / c[i - 1] - 1.0).collect();
                    let sd = indicators::rolling_std(&r, *window, 1);
                    let v = std::iter::once(f64::NAN).chain(sd).take(c.len()).collect();
                    (name.clone().unwrap_or(format!("vol_{window}")), v, *hidden)
                }
                Feature::VolumeZ {
                    window,
                    name,
                    hidden,
                } => {
                    if *window < 2 {
                        return Err(err(format!("{at}: window must be at least 2")));
                    }
                    let v = bars.volume();
                    if v.iter().all(|x| x.is_nan()) {
                        return Err(err(format!("{at}: volume_z needs a Volume column")));
                    }
                    let mean = indicators::sma(v, *window);
                    let sd = indicators::rolling_std(v, *window, 1);
                    let z = (0..v.len()).map(|i| (v[i] - mean[i]) / sd[i]).collect();
                    (name.clone().unwrap_or(format!("volz_{window}")), z, *hidden)
                }
                Feature::Ratio {
                    num,
                    den,
                    name,
                    hidden,
                } => {
                    let find = |n: &str| {
                        all.iter()
                            .find(|(k, _, _)| k == n)
                            .map(|(_, v, _)| v)
                            .ok_or_else(|| err(format!("{at}: no earlier feature named `{n}`")))
                    };
                    let (a, b) = (find(num)?, find(den)?);
                    let v = a.iter().zip(b).map(|(x, y)| x / y).collect();
                    (
                        name.clone().unwrap_or(format!("{num}_over_{den}")),
                        v,
                        *hidden,
                    )
                }
            };
            if all.iter().any(|(k, _, _)| *k == name) {
                return Err(err(format!(
                    "{at}: a feature named `{name}` already exists"
                )));
            }
            all.push((name, values, hidden));
        }
        let (names, columns) = all
            .into_iter()
            .filter(|(_, _, hidden)| !hidden)
            .map(|(n, v, _)| (n, v))
            .unzip();
        Ok(FeatureMatrix { names, columns })
    }
}

impl Feature {
    /// The column's name: the given one, or the default for its kind.
    pub fn column_name(&self) -> String {
        match self {
            Feature::Return { lag, name, .. } => name.clone().unwrap_or(format!("ret_{lag}")),
            Feature::Indicator {
                indicator,
                period,
                name,
                ..
            } => name.clone().unwrap_or(format!("{indicator}_{period}")),
            Feature::Volatility { window, name, .. } => {
                name.clone().unwrap_or(format!("vol_{window}"))
            }
            Feature::VolumeZ { window, name, .. } => {
                name.clone().unwrap_or(format!("volz_{window}"))
            }
            Feature::Ratio { num, den, name, .. } => {
                name.clone().unwrap_or(format!("{num}_over_{den}"))
            }
        }
    }
}

impl FeatureSpec {
    /// The model's input columns, in order.
    pub fn input_names(&self) -> Vec<String> {
        self.features
            .iter()
            .filter(|f| !is_hidden(f))
            .map(Feature::column_name)
            .collect()
    }
}

fn is_hidden(f: &Feature) -> bool {
    match f {
        Feature::Return { hidden, .. }
        | Feature::Indicator { hidden, .. }
        | Feature::Volatility { hidden, .. }
        | Feature::VolumeZ { hidden, .. }
        | Feature::Ratio { hidden, .. } => *hidden,
    }
}

/// The training label `label_fwd_return_{h}`: `c[i+h] / c[i] - 1` — it looks `h` bars into
/// the future by definition, so it is only exported for training, never fed to a model.
pub fn label_forward_return(bars: &Bars, h: usize) -> (String, Vec<f64>) {
    let c = bars.close();
    let v = (0..c.len())
        .map(|i| {
            if i + h < c.len() && h > 0 {
                c[i + h] / c[i] - 1.0
            } else {
                f64::NAN
            }
        })
        .collect();
    (format!("label_fwd_return_{h}"), v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bars(close: &[f64], volume: &[f64]) -> Bars {
        let n = close.len();
        Bars::try_new(
            (0..n as i64).map(|i| i * 86_400_000_000_000).collect(),
            close.to_vec(),
            close.iter().map(|c| c * 1.01).collect(),
            close.iter().map(|c| c * 0.99).collect(),
            close.to_vec(),
            volume.to_vec(),
        )
        .unwrap()
    }

    fn spec(json: &str) -> FeatureSpec {
        FeatureSpec::parse(json, Path::new("<test>")).unwrap()
    }

    #[test]
    fn hand_computed_values() {
        let b = bars(&[10.0, 11.0, 12.1, 9.68], &[100.0, 200.0, 300.0, 600.0]);
        let s = spec(
            r#"{"features": [
                {"kind": "return", "lag": 1},
                {"kind": "return", "lag": 2, "name": "r2"},
                {"kind": "volatility", "window": 2},
                {"kind": "volume_z", "window": 3},
                {"kind": "indicator", "indicator": "sma", "period": 2, "hidden": true},
                {"kind": "ratio", "num": "ret_1", "den": "sma_2"}
            ]}"#,
        );
        let m = s.compute(&b, Path::new("<test>")).unwrap();
        assert_eq!(
            m.names,
            ["ret_1", "r2", "vol_2", "volz_3", "ret_1_over_sma_2"]
        );
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(
            m.columns[0][0].is_nan() && close(m.columns[0][1], 0.1) && close(m.columns[0][3], -0.2)
        );
        assert!(m.columns[1][1].is_nan() && close(m.columns[1][2], 0.21));
        // Returns 0.1, 0.1, -0.2: std of (0.1, 0.1) = 0, of (0.1, -0.2) = 0.3 / sqrt 2.
        assert!(m.columns[2][1].is_nan() && close(m.columns[2][2], 0.0));
        assert!(close(m.columns[2][3], 0.3 / 2f64.sqrt()));
        // Volumes 100, 200, 300: mean 200, std 100 → z(300) = 1.
        assert!(close(m.columns[3][2], 1.0));
        assert!(close(m.columns[4][1], 0.1 / 10.5));
        assert_eq!(m.complete_rows(), [false, false, true, true]);
        let (name, label) = label_forward_return(&b, 1);
        assert_eq!(name, "label_fwd_return_1");
        assert!(close(label[0], 0.1) && label[3].is_nan());
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let e = FeatureSpec::parse(r#"{"features": [{"kind": "return"}]}"#, Path::new("f.json"))
            .unwrap_err();
        assert!(
            e.to_string().contains("f.json") && e.to_string().contains("lag"),
            "{e}"
        );
        let e = FeatureSpec::parse(
            "{\n  \"features\": [\n    {\"kind\": \"magic\"}]}",
            Path::new("f.json"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
        let b = bars(&[1.0, 2.0, 3.0], &[1.0, 1.0, 1.0]);
        let e = spec(r#"{"features": [{"kind": "ratio", "num": "a", "den": "b"}]}"#)
            .compute(&b, Path::new("f.json"))
            .unwrap_err();
        assert!(
            e.to_string().contains("no earlier feature named `a`"),
            "{e}"
        );
        let e = spec(r#"{"features": [{"kind": "indicator", "indicator": "magic", "period": 3}]}"#)
            .compute(&b, Path::new("f.json"))
            .unwrap_err();
        assert!(e.to_string().contains("unknown indicator `magic`"), "{e}");
    }

    const FULL: &str = r#"{"features": [
        {"kind": "return", "lag": 1}, {"kind": "return", "lag": 5},
        {"kind": "indicator", "indicator": "rsi", "period": 14},
        {"kind": "indicator", "indicator": "atr", "period": 10},
        {"kind": "indicator", "indicator": "ema", "period": 8},
        {"kind": "volatility", "window": 20}, {"kind": "volume_z", "window": 20},
        {"kind": "indicator", "indicator": "sma", "period": 10, "hidden": true},
        {"kind": "indicator", "indicator": "sma", "period": 30, "hidden": true},
        {"kind": "ratio", "num": "sma_10", "den": "sma_30"}
    ]}"#;

    proptest! {
        /// Changing bars after `k` changes no feature at or before `k`.
        #[test]
        fn features_cannot_see_the_future(
            steps in proptest::collection::vec(-0.05f64..0.05, 60..200),
            k in 0usize..60,
            seed in any::<u64>(),
        ) {
            let mut close = vec![100.0];
            for s in &steps { close.push(close.last().unwrap() * (1.0 + s)); }
            let volume: Vec<f64> = (0..close.len()).map(|i| 1000.0 + ((i as u64 * 7919 + seed) % 500) as f64).collect();
            let a = bars(&close, &volume);
            let mut close2 = close.clone();
            let mut volume2 = volume.clone();
            for i in k + 1..close2.len() {
                close2[i] *= 1.0 + ((seed.wrapping_mul(i as u64 + 1) % 200) as f64 - 100.0) / 1000.0;
                volume2[i] += (seed % 977) as f64;
            }
            let b = bars(&close2, &volume2);
            let s = spec(FULL);
            let (ma, mb) = (s.compute(&a, Path::new("x")).unwrap(), s.compute(&b, Path::new("x")).unwrap());
            for (ca, cb) in ma.columns.iter().zip(&mb.columns) {
                for i in 0..=k {
                    prop_assert!(ca[i] == cb[i] || (ca[i].is_nan() && cb[i].is_nan()), "bar {i}");
                }
            }
        }
    }
}
