//! Float models as sellers trained them: the engine's intermediate representation.
//!
//! A [`Model`] is what importers produce (ONNX or the project's own JSON file, [`ModelFile`]) and
//! what the quantizer compiles. Its float evaluation is the reference for "float accuracy".

mod file;
mod tree;

pub use file::{MODEL_FILE_FORMAT, MODEL_FILE_VERSION, ModelFile};
pub use tree::{Node, Tree, TreeEnsemble};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// What the model predicts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Task {
    /// Classification into `labels` (class index `i` is `labels[i]`).
    Classification {
        /// Class labels, in score order.
        labels: Vec<String>,
    },
    /// Regression to one real value.
    Regression,
}

/// How raw scores become the final output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostTransform {
    /// Scores are used as they are.
    None,
    /// Logistic function (binary margin to probability).
    Logistic,
    /// Softmax over classes.
    Softmax,
}

/// A linear model `scores = W x + b` (linear/logistic regression, linear SVM).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    /// One row of weights per output score; every row has one weight per feature.
    pub weights: Vec<Vec<f64>>,
    /// One intercept per output score.
    pub bias: Vec<f64>,
    /// Post transform of the scores.
    pub post_transform: PostTransform,
}

/// A fully-connected network: `Dense -> ReLU -> ... -> Dense`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mlp {
    /// Layers in order; ReLU between consecutive layers, none after the last.
    pub layers: Vec<LinearModel>,
}

/// The computation of a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "family")]
pub enum Program {
    /// Linear model.
    Linear(LinearModel),
    /// Tree ensemble (one tree, random forest or gradient boosting).
    Trees(TreeEnsemble),
    /// Fully-connected network with ReLU.
    Mlp(Mlp),
}

/// A float model with its I/O description.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Feature names, in input order.
    pub features: Vec<String>,
    /// Classification or regression.
    pub task: Task,
    /// The computation.
    pub program: Program,
}

impl Model {
    /// Number of input features.
    pub fn n_features(&self) -> usize {
        self.features.len()
    }

    /// Check internal consistency (shapes, tree structure).
    pub(crate) fn validate(&self) -> Result<()> {
        let n = self.n_features();
        if n == 0 {
            return Err(Error::InvalidModel("no input features".into()));
        }
        let check_linear = |l: &LinearModel, inputs: usize| -> Result<()> {
            if l.weights.is_empty() || l.weights.len() != l.bias.len() {
                return Err(Error::InvalidModel(format!(
                    "linear layer has {} weight rows and {} intercepts",
                    l.weights.len(),
                    l.bias.len()
                )));
            }
            if let Some(r) = l.weights.iter().find(|r| r.len() != inputs) {
                return Err(Error::InvalidModel(format!(
                    "linear layer row has {} weights, expected {inputs}",
                    r.len()
                )));
            }
            if l.weights.iter().flatten().chain(&l.bias).any(|v| !v.is_finite()) {
                return Err(Error::InvalidModel("non-finite weight".into()));
            }
            Ok(())
        };
        match &self.program {
            Program::Linear(l) => check_linear(l, n)?,
            Program::Trees(t) => t.validate(n)?,
            Program::Mlp(m) => {
                let mut inputs = n;
                if m.layers.is_empty() {
                    return Err(Error::InvalidModel("MLP without layers".into()));
                }
                for l in &m.layers {
                    check_linear(l, inputs)?;
                    inputs = l.weights.len();
                }
            }
        }
        if let Task::Classification { labels } = &self.task
            && labels.len() < 2
        {
            return Err(Error::InvalidModel("classification needs at least 2 labels".into()));
        }
        Ok(())
    }

    /// Raw scores (before the post transform) of one input row.
    pub fn scores(&self, x: &[f64]) -> Vec<f64> {
        match &self.program {
            Program::Linear(l) => linear(l, x),
            Program::Trees(t) => t.scores(x),
            Program::Mlp(m) => {
                let mut h = x.to_vec();
                for (i, l) in m.layers.iter().enumerate() {
                    h = linear(l, &h);
                    if i + 1 < m.layers.len() {
                        h.iter_mut().for_each(|v| *v = v.max(0.0));
                    }
                }
                h
            }
        }
    }

    /// Class index (classification) from raw scores.
    pub fn class_of(&self, scores: &[f64]) -> usize {
        class_of(scores, self.binary_threshold())
    }

    /// For single-score binary models, the score above which class 1 is predicted.
    pub(crate) fn binary_threshold(&self) -> f64 {
        match &self.program {
            Program::Trees(t) => t.binary_threshold(),
            _ => 0.0,
        }
    }
}

/// Index of the predicted class: argmax, or `score > threshold` for a single binary score.
pub(crate) fn class_of(scores: &[f64], threshold: f64) -> usize {
    if scores.len() == 1 {
        return usize::from(scores[0] > threshold);
    }
    let mut best = 0;
    for (i, s) in scores.iter().enumerate() {
        if *s > scores[best] {
            best = i;
        }
    }
    best
}

/// `W x + b` in floats: a dense layer (or a linear model's scores).
pub(crate) fn linear(l: &LinearModel, x: &[f64]) -> Vec<f64> {
    l.weights
        .iter()
        .zip(&l.bias)
        .map(|(w, b)| w.iter().zip(x).map(|(w, x)| w * x).sum::<f64>() + b)
        .collect()
}
