//! ONNX import: the graphs scikit-learn (skl2onnx), XGBoost (onnxmltools) and PyTorch export for
//! linear models, tree ensembles and small MLPs, turned into a [`Model`].
//!
//! Supported: `Scaler` (folded into the next linear layer), `LinearClassifier`, `LinearRegressor`,
//! `TreeEnsembleClassifier`, `TreeEnsembleRegressor` (ai.onnx.ml), `Gemm`, `MatMul` + `Add`,
//! `Relu`. Output-only post-processing (`ZipMap`, `ArrayFeatureExtractor`, `Normalizer`, `Cast`,
//! `Softmax`, `Sigmoid`, `ArgMax`, `Identity`, `Reshape`) is recognised and does not change the
//! predicted class. Anything else is refused with [`Error::Unsupported`] naming the operator.

mod attrs;
mod linear;
mod proto;
mod trees;

use std::collections::HashMap;

use prost::Message;

use crate::model::{Mlp, Model, Program, Task};
use crate::{Error, Result};

/// Largest ONNX file accepted (the supported families are small).
pub(crate) const MAX_ONNX_BYTES: usize = 64 << 20;

/// Import an ONNX model. Features are named `x0, x1, ...`; rename them with real names if known.
pub fn import_onnx(bytes: &[u8]) -> Result<Model> {
    if bytes.len() > MAX_ONNX_BYTES {
        return Err(Error::MalformedModel(format!("ONNX file of {} bytes", bytes.len())));
    }
    let model = proto::ModelProto::decode(bytes)
        .map_err(|e| Error::MalformedModel(format!("not an ONNX protobuf: {e}")))?;
    let graph =
        model.graph.ok_or_else(|| Error::MalformedModel("ONNX model without graph".into()))?;
    let initializers: HashMap<&str, &proto::TensorProto> =
        graph.initializer.iter().map(|t| (t.name.as_str(), t)).collect();
    let input = graph
        .input
        .iter()
        .find(|i| !initializers.contains_key(i.name.as_str()))
        .ok_or_else(|| Error::MalformedModel("graph has no input".into()))?;
    let declared = input_width(input);

    let mut flow = input.name.clone();
    let mut state = Builder::default();
    for node in &graph.node {
        let op = node.op_type.as_str();
        let is_main = matches!(
            op,
            "Scaler"
                | "LinearClassifier"
                | "LinearRegressor"
                | "TreeEnsembleClassifier"
                | "TreeEnsembleRegressor"
                | "Gemm"
                | "MatMul"
                | "Add"
                | "Relu"
        );
        if !is_main {
            if POST_PROCESSING.contains(&op) {
                state.post_processing(op);
                continue;
            }
            return Err(Error::Unsupported(format!(
                "operator {}{op} (node {:?})",
                if node.domain.is_empty() { String::new() } else { format!("{}.", node.domain) },
                node.name
            )));
        }
        if node.input.first() != Some(&flow) {
            return Err(Error::Unsupported(format!(
                "node {:?} ({op}) does not consume the previous result: only chains are supported",
                node.name
            )));
        }
        state.apply(node, &initializers)?;
        flow = node.output.first().cloned().unwrap_or_default();
    }
    let n_features = declared
        .or(state.width)
        .ok_or_else(|| Error::MalformedModel("cannot tell the number of input features".into()))?;
    let model = state.finish(n_features)?;
    model.validate()?;
    Ok(model)
}

const POST_PROCESSING: &[&str] = &[
    "ZipMap",
    "ArrayFeatureExtractor",
    "Normalizer",
    "Cast",
    "Softmax",
    "Sigmoid",
    "ArgMax",
    "Identity",
    "Reshape",
];

fn input_width(v: &proto::ValueInfoProto) -> Option<usize> {
    let dims = &v.r#type.as_ref()?.tensor_type.as_ref()?.shape.as_ref()?.dim;
    let last = dims.last()?.dim_value?;
    usize::try_from(last).ok().filter(|w| *w > 0)
}

/// Accumulates the chain of main operators.
#[derive(Default)]
struct Builder {
    /// Pending affine input transform from a `Scaler`: x' = (x - offset) * scale.
    scaler: Option<(Vec<f64>, Vec<f64>)>,
    /// Layers of an MLP / linear chain built from Gemm/MatMul/Add/Relu.
    layers: Vec<crate::model::LinearModel>,
    /// Whether a Relu closed the last layer.
    relu_after_last: bool,
    /// A finished classical-ML model (linear or trees) with its task.
    done: Option<(Program, Task)>,
    /// Input width learned from the operators.
    width: Option<usize>,
    /// A Softmax/Sigmoid seen after the main computation.
    post: Option<crate::model::PostTransform>,
}

impl Builder {
    fn post_processing(&mut self, op: &str) {
        match op {
            "Softmax" => self.post = Some(crate::model::PostTransform::Softmax),
            "Sigmoid" => self.post = Some(crate::model::PostTransform::Logistic),
            _ => {}
        }
    }

    fn apply(
        &mut self,
        node: &proto::NodeProto,
        inits: &HashMap<&str, &proto::TensorProto>,
    ) -> Result<()> {
        if self.done.is_some() {
            return Err(Error::Unsupported(format!(
                "operator {} after a complete model",
                node.op_type
            )));
        }
        let a = attrs::Attrs::new(node);
        match node.op_type.as_str() {
            "Scaler" => {
                let offset: Vec<f64> = a.floats("offset")?.iter().map(|v| f64::from(*v)).collect();
                let scale: Vec<f64> = a.floats("scale")?.iter().map(|v| f64::from(*v)).collect();
                self.scaler = Some((offset, scale));
            }
            "LinearClassifier" | "LinearRegressor" => {
                let (program, task, width) = linear::import(&node.op_type, &a)?;
                self.width = Some(width);
                self.done = Some((self.fold_scaler(program, width)?, task));
            }
            "TreeEnsembleClassifier" | "TreeEnsembleRegressor" => {
                if self.scaler.is_some() {
                    return Err(Error::Unsupported("Scaler before a tree ensemble".into()));
                }
                let (program, task, width) = trees::import(&node.op_type, &a)?;
                self.width = Some(width);
                self.done = Some((program, task));
            }
            "Gemm" | "MatMul" | "Add" | "Relu" => {
                linear::apply_dense(node, &a, inits, &mut self.layers, &mut self.relu_after_last)?;
            }
            other => return Err(Error::Unsupported(format!("operator {other}"))),
        }
        Ok(())
    }

    fn fold_scaler(&mut self, program: Program, width: usize) -> Result<Program> {
        let Some((offset, scale)) = self.scaler.take() else { return Ok(program) };
        let pick = |v: &[f64], i: usize| if v.len() == 1 { v[0] } else { v[i] };
        if (offset.len() != 1 && offset.len() != width)
            || (scale.len() != 1 && scale.len() != width)
        {
            return Err(Error::InvalidModel("Scaler size does not match the input".into()));
        }
        let Program::Linear(mut l) = program else { return Ok(program) };
        for (row, b) in l.weights.iter_mut().zip(l.bias.iter_mut()) {
            for (i, w) in row.iter_mut().enumerate() {
                // w * (x - o) * s = (w s) x - w s o
                *w *= pick(&scale, i);
                *b -= *w * pick(&offset, i);
            }
        }
        Ok(Program::Linear(l))
    }

    fn finish(mut self, n_features: usize) -> Result<Model> {
        let features = (0..n_features).map(|i| format!("x{i}")).collect();
        if let Some((program, task)) = self.done.take() {
            return Ok(Model { features, task, program });
        }
        if self.layers.is_empty() {
            return Err(Error::Unsupported("graph has no supported model operator".into()));
        }
        if self.relu_after_last {
            return Err(Error::Unsupported("network ends with Relu".into()));
        }
        let outputs = self.layers.last().map_or(0, |l| l.weights.len());
        let task = if outputs >= 2 {
            Task::Classification { labels: (0..outputs).map(|i| i.to_string()).collect() }
        } else {
            Task::Regression
        };
        let post = self.post.unwrap_or(crate::model::PostTransform::None);
        if let Some(last) = self.layers.last_mut() {
            last.post_transform = post;
        }
        let program = if self.layers.len() == 1 {
            Program::Linear(self.layers.remove(0))
        } else {
            Program::Mlp(Mlp { layers: self.layers })
        };
        if self.scaler.is_some() {
            return Err(Error::Unsupported("Scaler before a neural network".into()));
        }
        Ok(Model { features, task, program })
    }
}
