//! Why a feature spec or a model cannot be used.

use std::path::PathBuf;

/// Errors from feature specs and ONNX models; each names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The file cannot be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The feature spec is not valid JSON of the expected shape, or refers to unknown things.
    #[error("{path}: {message}")]
    Spec {
        /// The spec file (or `<inline>`).
        path: PathBuf,
        /// What is wrong, with line and column for JSON errors.
        message: String,
    },
    /// Not an ONNX model at all.
    #[error("{path}: not a valid ONNX model: {message}")]
    Corrupt {
        /// The model file.
        path: PathBuf,
        /// The decoder's complaint.
        message: String,
    },
    /// The model's inputs are not one `[rows, features]` tensor.
    #[error("{path}: expected one input of shape [rows, features], found {found}")]
    Inputs {
        /// The model file.
        path: PathBuf,
        /// What the model declares.
        found: String,
    },
    /// The model's input width does not match the feature spec.
    #[error("{path}: the model takes {model} features per row, the feature spec gives {spec}")]
    Width {
        /// The model file.
        path: PathBuf,
        /// Width the model declares.
        model: usize,
        /// Width the spec produces.
        spec: usize,
    },
    /// The runtime cannot build the model (typically an operator it does not implement).
    #[error("{path}: cannot run the model (unsupported operator or graph): {message}")]
    Unsupported {
        /// The model file.
        path: PathBuf,
        /// The runtime's explanation, with the operator's name.
        message: String,
    },
    /// The model's output is not one value per row.
    #[error("{path}: output shape {shape:?} is not one value per row ([rows] or [rows, 1])")]
    Output {
        /// The model file.
        path: PathBuf,
        /// Shape produced.
        shape: Vec<usize>,
    },
}

impl From<ModelError> for backtide_core::Error {
    fn from(e: ModelError) -> Self {
        let param = match &e {
            ModelError::Spec { .. } => "features",
            _ => "model",
        };
        backtide_core::Error::Param {
            param: param.into(),
            message: e.to_string(),
        }
    }
}
