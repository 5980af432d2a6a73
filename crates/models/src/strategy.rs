//! `onnx_model`: a model's output per bar becomes the signal vector.

use std::path::{Path, PathBuf};

use backtide_core::Error;
use backtide_core::strategy::builtin::StrategyInfo;
use backtide_core::strategy::{
    DefaultValue, EntryRule, Init, ParamKind, ParamSpec, Params, PerBar, SignalDriven,
    SignalStrategy, Signals, Strategy,
};

use crate::features::FeatureSpec;
use crate::onnx::OnnxModel;

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "model",
        kind: ParamKind::File,
        default: None,
        doc: "path to the .onnx file (input [rows, features], one output per row)",
    },
    ParamSpec {
        name: "features",
        kind: ParamKind::File,
        default: None,
        doc: "path to the feature spec JSON the model was trained on",
    },
    ParamSpec {
        name: "output",
        kind: ParamKind::Choice(&["probability", "regression"]),
        default: Some(DefaultValue::Str("probability")),
        doc: "probability: long above `enter`, out (or short) below `exit`; regression: the sign",
    },
    ParamSpec {
        name: "enter",
        kind: ParamKind::Float {
            min: -1e12,
            max: 1e12,
        },
        default: Some(DefaultValue::Float(0.55)),
        doc: "probability above which to be long",
    },
    ParamSpec {
        name: "exit",
        kind: ParamKind::Float {
            min: -1e12,
            max: 1e12,
        },
        default: Some(DefaultValue::Float(0.45)),
        doc: "probability below which to leave a long (or go short with long_short)",
    },
    ParamSpec {
        name: "threshold",
        kind: ParamKind::Float {
            min: 0.0,
            max: 1e12,
        },
        default: Some(DefaultValue::Float(0.0)),
        doc: "regression: dead zone; long above +threshold, out/short below -threshold",
    },
    ParamSpec {
        name: "direction",
        kind: ParamKind::Choice(&["long_only", "long_short"]),
        default: Some(DefaultValue::Str("long_only")),
        doc: "long_only or long_short",
    },
    ParamSpec {
        name: "size_scale",
        kind: ParamKind::Float {
            min: 0.0,
            max: 1e12,
        },
        default: Some(DefaultValue::Float(0.0)),
        doc: "regression: order size = |output| x size_scale as a fraction of equity (0 = all in)",
    },
    ParamSpec {
        name: "max_size",
        kind: ParamKind::Float {
            min: 1e-6,
            max: 0.9999,
        },
        default: Some(DefaultValue::Float(0.9999)),
        doc: "cap of the proportional size (fraction of equity)",
    },
];

/// The `onnx_model` strategy's description (parameters, constructors).
pub static ONNX_MODEL: StrategyInfo = StrategyInfo::new(
    "onnx_model",
    "signals from an ONNX model over a declared feature pipeline (batch inference in init)",
    PARAMS,
    build,
    build,
);

fn build(p: &Params) -> Result<Box<dyn Strategy>, Error> {
    Ok(Box::new(SignalDriven::new(ModelStrategy::from_params(p)?)))
}

/// The strategy: features → one batch of inference → signals.
pub struct ModelStrategy {
    model: PathBuf,
    features: PathBuf,
    regression: bool,
    enter: f64,
    exit: f64,
    threshold: f64,
    long_short: bool,
    size_scale: f64,
    max_size: f64,
}

impl ModelStrategy {
    /// From validated parameters; `model` and `features` are required.
    pub fn from_params(p: &Params) -> Result<ModelStrategy, Error> {
        let required = |name: &str, what: &str| -> Result<PathBuf, Error> {
            p.str(name).map(PathBuf::from).map_err(|_| Error::Param {
                param: name.into(),
                message: format!("required: {what}"),
            })
        };
        let s = ModelStrategy {
            model: required("model", "the path of an .onnx file")?,
            features: required("features", "the path of the feature spec JSON")?,
            regression: p.str("output")? == "regression",
            enter: p.float("enter")?,
            exit: p.float("exit")?,
            threshold: p.float("threshold")?,
            long_short: p.str("direction")? == "long_short",
            size_scale: p.float("size_scale")?,
            max_size: p.float("max_size")?,
        };
        if !s.regression && s.exit > s.enter {
            return Err(Error::Param {
                param: "exit".into(),
                message: format!("must be <= enter ({} > {})", s.exit, s.enter),
            });
        }
        Ok(s)
    }

    /// Model outputs per bar (NaN where some feature is still warming up).
    pub fn scores(&self, bars: &backtide_core::Bars) -> Result<Vec<f64>, Error> {
        scores(&self.model, &self.features, bars)
    }
}

/// Features over `bars`, one batch of inference, outputs per bar (NaN on incomplete rows).
pub fn scores(
    model: &Path,
    features: &Path,
    bars: &backtide_core::Bars,
) -> Result<Vec<f64>, Error> {
    let spec = FeatureSpec::load(features)?;
    let matrix = spec.compute(bars, features)?;
    let m = OnnxModel::load(model)?;
    let complete = matrix.complete_rows();
    let y = m.predict(matrix.row_major_f32(), matrix.rows(), matrix.columns.len())?;
    Ok(y.iter()
        .zip(&complete)
        .map(|(v, ok)| if *ok { f64::from(*v) } else { f64::NAN })
        .collect())
}

impl SignalStrategy for ModelStrategy {
    fn signals(&mut self, ctx: &mut Init<'_>) -> Result<Signals, Error> {
        // In a sweep the outputs depend only on the model and the spec, not on the swept
        // thresholds: compute them once and share them between combinations.
        let key = format!(
            "onnx_model:{}|{}",
            self.model.display(),
            self.features.display()
        );
        let bars = ctx.bars();
        let mut failed = None;
        let shared = ctx.shared(&key, || {
            self.scores(bars).unwrap_or_else(|e| {
                failed = Some(e);
                Vec::new()
            })
        });
        if let Some(e) = failed {
            return Err(e);
        }
        let y: Vec<f64> = if shared.len() == bars.len() {
            shared.to_vec()
        } else {
            // A failure cached an empty entry: compute again for the error.
            self.scores(bars)?
        };
        let s = self.decide(&y);
        ctx.indicator("model output", y);
        Ok(s)
    }
}

impl ModelStrategy {
    /// Signals from model outputs, bar by bar: the decision at bar `i` reads output `i`
    /// only.
    pub fn decide(&self, y: &[f64]) -> Signals {
        let mut s = Signals::none(y.len(), EntryRule::IfNotSameSide);
        let mut sizes = vec![f64::NAN; y.len()];
        for (i, &v) in y.iter().enumerate() {
            if v.is_nan() {
                continue;
            }
            let (up, down) = if self.regression {
                (v > self.threshold, v < -self.threshold)
            } else {
                (v > self.enter, v < self.exit)
            };
            s.long_entry[i] = up;
            if self.long_short {
                s.short_entry[i] = down;
            } else {
                s.long_exit[i] = down;
            }
            if self.regression && self.size_scale > 0.0 {
                sizes[i] = (v.abs() * self.size_scale).clamp(1e-6, self.max_size);
            }
        }
        if self.regression && self.size_scale > 0.0 {
            s.size = PerBar::Values(sizes);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn testdata(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/models")
            .join(name)
    }

    fn bars(close: &[f64], volume: &[f64]) -> backtide_core::Bars {
        let n = close.len();
        backtide_core::Bars::try_new(
            (0..n as i64).map(|i| i * 86_400_000_000_000).collect(),
            close.to_vec(),
            close.iter().map(|c| c * 1.01).collect(),
            close.iter().map(|c| c * 0.99).collect(),
            close.to_vec(),
            volume.to_vec(),
        )
        .unwrap()
    }

    fn strategy(extra: &[(&str, &str)]) -> ModelStrategy {
        let model = testdata("tiny.onnx");
        let spec = testdata("tiny.features.json");
        let mut pairs = vec![
            ("model", model.to_str().unwrap()),
            ("features", spec.to_str().unwrap()),
        ];
        pairs.extend_from_slice(extra);
        ModelStrategy::from_params(&Params::from_pairs(PARAMS, pairs).unwrap()).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        /// Changing bars after `k` changes no model output and no signal at or before `k`.
        #[test]
        fn signals_cannot_see_the_future(
            steps in proptest::collection::vec(-0.04f64..0.04, 80..160),
            k in 50usize..80,
            seed in any::<u64>(),
        ) {
            let mut close = vec![100.0];
            for s in &steps { close.push(close.last().unwrap() * (1.0 + s)); }
            let volume: Vec<f64> = (0..close.len()).map(|i| 1000.0 + ((i as u64 * 7919 + seed) % 700) as f64).collect();
            let (mut close2, mut volume2) = (close.clone(), volume.clone());
            for i in k + 1..close.len() {
                close2[i] *= 1.0 + ((seed.wrapping_mul(i as u64 + 3) % 300) as f64 - 150.0) / 1000.0;
                volume2[i] *= 2.0;
            }
            for extra in [vec![], vec![("direction", "long_short")], vec![("output", "regression"), ("size_scale", "2")]] {
                let s = strategy(&extra);
                let (a, b) = (bars(&close, &volume), bars(&close2, &volume2));
                let (ya, yb) = (s.scores(&a).unwrap(), s.scores(&b).unwrap());
                let (sa, sb) = (s.decide(&ya), s.decide(&yb));
                for i in 0..=k {
                    prop_assert!(ya[i] == yb[i] || (ya[i].is_nan() && yb[i].is_nan()), "output at {i}");
                    prop_assert_eq!(sa.long_entry[i], sb.long_entry[i]);
                    prop_assert_eq!(sa.long_exit[i], sb.long_exit[i]);
                    prop_assert_eq!(sa.short_entry[i], sb.short_entry[i]);
                    prop_assert_eq!(sa.size.get(i), sb.size.get(i));
                }
            }
        }
    }

    #[test]
    fn thresholds_map_outputs_to_signals() {
        let s = strategy(&[("enter", "0.6"), ("exit", "0.4")]);
        let sig = s.decide(&[f64::NAN, 0.7, 0.5, 0.3]);
        assert_eq!(sig.long_entry, [false, true, false, false]);
        assert_eq!(sig.long_exit, [false, false, false, true]);
        assert_eq!(sig.short_entry, [false; 4]);
        let r = strategy(&[
            ("output", "regression"),
            ("direction", "long_short"),
            ("size_scale", "10"),
            ("max_size", "0.5"),
        ]);
        let sig = r.decide(&[0.01, -0.2, 0.0]);
        assert_eq!(
            (sig.long_entry.clone(), sig.short_entry.clone()),
            (vec![true, false, false], vec![false, true, false])
        );
        assert_eq!((sig.size.get(0), sig.size.get(1)), (Some(0.1), Some(0.5)));
        let e = ModelStrategy::from_params(
            &Params::from_pairs(PARAMS, [("features", "x.json")]).unwrap(),
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("`model`: required"), "{e}");
    }
}
