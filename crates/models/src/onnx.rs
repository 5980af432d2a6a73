//! Loading and running ONNX models with tract (pure Rust, no Python, no downloads).

use std::path::{Path, PathBuf};

use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
use tract_onnx::pb::type_proto::Value as TypeValue;
use tract_onnx::prelude::*;

use crate::error::ModelError;

/// A validated model: one `[rows, width]` float input, one value per row out.
pub struct OnnxModel {
    path: PathBuf,
    proto: tract_onnx::pb::ModelProto,
    /// Input width the model declares (None if symbolic).
    width: Option<usize>,
}

fn dims(v: &tract_onnx::pb::ValueInfoProto) -> Option<Vec<Option<i64>>> {
    match v.r#type.as_ref()?.value.as_ref()? {
        TypeValue::TensorType(t) => Some(
            t.shape
                .as_ref()?
                .dim
                .iter()
                .map(|d| match &d.value {
                    Some(Dim::DimValue(n)) => Some(*n),
                    _ => None,
                })
                .collect(),
        ),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

impl OnnxModel {
    /// Reads and checks a model file: it must decode, take one rank-2 input and give one
    /// output of at most one value per row.
    pub fn load(path: &Path) -> Result<OnnxModel, ModelError> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
            path: path.into(),
            source,
        })?;
        let proto = tract_onnx::onnx()
            .proto_model_for_read(&mut &bytes[..])
            .map_err(|e| ModelError::Corrupt {
                path: path.into(),
                message: format!("{e:#}"),
            })?;
        let graph = proto.graph.as_ref().ok_or_else(|| ModelError::Corrupt {
            path: path.into(),
            message: "no graph".into(),
        })?;
        let initializers: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
        let inputs: Vec<_> = graph
            .input
            .iter()
            .filter(|i| !initializers.contains(&i.name.as_str()))
            .collect();
        let input_dims = match inputs.as_slice() {
            [one] => dims(one),
            _ => None,
        };
        let width = match input_dims.as_deref() {
            Some([_, w]) => w.map(|w| w as usize),
            _ => {
                return Err(ModelError::Inputs {
                    path: path.into(),
                    found: inputs
                        .iter()
                        .map(|i| format!("{} {:?}", i.name, dims(i).unwrap_or_default()))
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        };
        if graph.output.len() != 1 {
            return Err(ModelError::Output {
                path: path.into(),
                shape: vec![graph.output.len()],
            });
        }
        if let Some(d) = dims(&graph.output[0]) {
            let ok = match d.as_slice() {
                [_] => true,
                [_, w] => w.is_none_or(|w| w == 1),
                _ => false,
            };
            if !ok {
                return Err(ModelError::Output {
                    path: path.into(),
                    shape: d.iter().map(|x| x.unwrap_or(0).max(0) as usize).collect(),
                });
            }
        }
        Ok(OnnxModel {
            path: path.into(),
            proto,
            width,
        })
    }

    /// The input width the model declares, if fixed.
    pub fn width(&self) -> Option<usize> {
        self.width
    }

    /// Runs the model on `rows` rows of `width` values (row-major) in one batch and returns
    /// one output per row.
    pub fn predict(
        &self,
        input: Vec<f32>,
        rows: usize,
        width: usize,
    ) -> Result<Vec<f32>, ModelError> {
        if let Some(w) = self.width
            && w != width
        {
            return Err(ModelError::Width {
                path: self.path.clone(),
                model: w,
                spec: width,
            });
        }
        let unsupported = |e: TractError| ModelError::Unsupported {
            path: self.path.clone(),
            message: format!("{e:#}"),
        };
        let plan = tract_onnx::onnx()
            .model_for_proto_model(&self.proto)
            .and_then(|m| m.with_input_fact(0, f32::fact([rows, width]).into()))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(unsupported)?;
        let tensor = tract_ndarray::Array2::from_shape_vec((rows, width), input)
            .map_err(|e| unsupported(e.into()))?
            .into_tensor();
        let out = plan.run(tvec!(tensor.into())).map_err(unsupported)?;
        let y = out[0].to_plain_array_view::<f32>().map_err(unsupported)?;
        let shape = y.shape().to_vec();
        let ok = match shape.as_slice() {
            [n] => *n == rows,
            [n, 1] => *n == rows,
            _ => false,
        };
        if !ok {
            return Err(ModelError::Output {
                path: self.path.clone(),
                shape,
            });
        }
        Ok(y.iter().copied().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/models")
            .join(name)
    }

    fn csv(name: &str) -> Vec<Vec<f32>> {
        std::fs::read_to_string(testdata(name))
            .unwrap()
            .lines()
            .map(|l| l.split(',').map(|x| x.parse().unwrap()).collect())
            .collect()
    }

    /// Reference outputs from onnxruntime (checked against numpy), made by
    /// `examples/ml/make_test_model.py`.
    #[test]
    fn outputs_match_onnxruntime_within_1e_6() {
        let m = OnnxModel::load(&testdata("tiny.onnx")).unwrap();
        assert_eq!(m.width(), Some(6));
        let x = csv("tiny_matrix.csv");
        let expected: Vec<f32> = csv("tiny_reference.csv")
            .into_iter()
            .map(|r| r[0])
            .collect();
        let y = m.predict(x.concat(), x.len(), 6).unwrap();
        assert_eq!(y.len(), 64);
        for (a, b) in y.iter().zip(&expected) {
            assert!((a - b).abs() <= 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn bad_models_are_refused_with_the_reason() {
        let e = OnnxModel::load(&testdata("bad_corrupt.onnx"))
            .err()
            .unwrap();
        assert!(matches!(e, ModelError::Corrupt { .. }), "{e}");
        assert!(e.to_string().contains("bad_corrupt.onnx"));

        let m = OnnxModel::load(&testdata("bad_width.onnx")).unwrap();
        let e = m.predict(vec![0.0; 12], 2, 6).err().unwrap();
        assert!(
            e.to_string()
                .contains("takes 4 features per row, the feature spec gives 6"),
            "{e}"
        );

        let e = OnnxModel::load(&testdata("bad_operator.onnx"))
            .and_then(|m| m.predict(vec![0.0; 12], 2, 6))
            .err()
            .unwrap();
        assert!(matches!(e, ModelError::Unsupported { .. }), "{e}");
        assert!(e.to_string().contains("FooBar"), "{e}");

        let e = OnnxModel::load(&testdata("bad_output.onnx")).err().unwrap();
        assert!(matches!(e, ModelError::Output { .. }), "{e}");
        assert!(e.to_string().contains("one value per row"), "{e}");

        let e = OnnxModel::load(&testdata("missing.onnx")).err().unwrap();
        assert!(matches!(e, ModelError::Io { .. }), "{e}");
    }
}
