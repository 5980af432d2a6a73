//! Model strategies: a declared feature pipeline that cannot see the future, and ONNX
//! models (trained in PyTorch or anything that exports ONNX) run in-process with tract.
//!
//! [`FeatureSpec`] computes a [`FeatureMatrix`] (bar `i` from bars up to `i`);
//! [`OnnxModel`] checks a model's shapes and runs it over every row in one batch;
//! [`ONNX_MODEL`] is the `onnx_model` strategy that turns the outputs into signals for the
//! usual broker. [`find_strategy`] looks a name up among the built-ins and these.
//!
//! ```no_run
//! use std::path::Path;
//! let bars = backtide_data::sample("GOOG")?;
//! let spec = backtide_models::FeatureSpec::load(Path::new("features.json"))?;
//! let matrix = spec.compute(&bars, Path::new("features.json"))?;
//! let model = backtide_models::OnnxModel::load(Path::new("model.onnx"))?;
//! let scores = model.predict(matrix.row_major_f32(), matrix.rows(), matrix.columns.len())?;
//! assert_eq!(scores.len(), bars.len());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod features;
mod onnx;
mod strategy;

pub use error::ModelError;
pub use features::{Feature, FeatureMatrix, FeatureSpec, label_forward_return};
pub use onnx::OnnxModel;
pub use strategy::{ModelStrategy, ONNX_MODEL, scores};

use backtide_core::Error;
use backtide_core::strategy::builtin::{self, StrategyInfo};

/// Strategies this crate adds to the built-ins.
pub static MODEL_STRATEGIES: [&StrategyInfo; 1] = [&ONNX_MODEL];

/// A strategy by name: the built-ins, then the model strategies.
pub fn find_strategy(name: &str) -> Result<&'static StrategyInfo, Error> {
    match builtin::find(name) {
        Ok(s) => Ok(s),
        Err(Error::UnknownStrategy { name, known }) => MODEL_STRATEGIES
            .iter()
            .copied()
            .find(|s| s.name == name)
            .ok_or_else(|| Error::UnknownStrategy {
                known: format!("{known}, {}", ONNX_MODEL.name),
                name,
            }),
        Err(e) => Err(e),
    }
}
