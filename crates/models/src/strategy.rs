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
        kind: ParamKind::Text,
        default: None,
        doc: "path to the .onnx file (input [rows, features], one output per row)",
    },
    ParamSpec {
        name: "features",
        kind: ParamKind::Text,
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
        let y = self.scores(ctx.bars())?;
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
        ctx.indicator("model output", y);
        Ok(s)
    }
}
