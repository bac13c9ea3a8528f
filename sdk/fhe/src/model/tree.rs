//! Decision trees and tree ensembles (float).

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// One node of a tree: a split `x[feature] <= threshold` (or `<` when `strict`) or a leaf.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Node {
    /// Go to `left` when the test holds, else to `right`.
    Split {
        /// Feature index.
        feature: usize,
        /// Threshold.
        threshold: f64,
        /// `x < threshold` instead of `x <= threshold`.
        #[serde(default)]
        strict: bool,
        /// Index of the child taken when the test holds.
        left: usize,
        /// Index of the child taken otherwise.
        right: usize,
    },
    /// A leaf contributing `values[k]` to score `k`.
    Leaf {
        /// One value per output score.
        values: Vec<f64>,
    },
}

/// A tree; node 0 is the root.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Nodes; children indices point into this vector.
    pub nodes: Vec<Node>,
}

/// A sum of trees plus base values (random forests are stored with weights already averaged).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TreeEnsemble {
    /// The trees.
    pub trees: Vec<Tree>,
    /// Number of output scores.
    pub n_outputs: usize,
    /// Added to the summed scores.
    pub base: Vec<f64>,
    /// Post transform of the scores.
    pub post_transform: super::PostTransform,
}

impl Tree {
    /// The leaf reached by `x`.
    pub(crate) fn leaf(&self, x: &[f64]) -> &[f64] {
        let mut i = 0;
        // a validated tree is acyclic and every index is in range; bound the walk anyway
        for _ in 0..=self.nodes.len() {
            match &self.nodes[i] {
                Node::Leaf { values } => return values,
                Node::Split { feature, threshold, strict, left, right } => {
                    let v = x[*feature];
                    let goes_left = if *strict { v < *threshold } else { v <= *threshold };
                    i = if goes_left { *left } else { *right };
                }
            }
        }
        &[]
    }
    fn validate(&self, n_features: usize, n_outputs: usize) -> Result<()> {
        if self.nodes.is_empty() {
            return Err(Error::InvalidModel("empty tree".into()));
        }
        // every node reachable exactly once from the root (a tree, no cycles, no sharing)
        let mut seen = vec![false; self.nodes.len()];
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            let node = self
                .nodes
                .get(i)
                .ok_or_else(|| Error::InvalidModel(format!("child index {i} out of range")))?;
            if std::mem::replace(&mut seen[i], true) {
                return Err(Error::InvalidModel(format!("node {i} reached twice")));
            }
            match node {
                Node::Split { feature, threshold, left, right, .. } => {
                    if *feature >= n_features {
                        return Err(Error::InvalidModel(format!(
                            "split on feature {feature} of {n_features}"
                        )));
                    }
                    if !threshold.is_finite() {
                        return Err(Error::InvalidModel("non-finite threshold".into()));
                    }
                    stack.push(*left);
                    stack.push(*right);
                }
                Node::Leaf { values } => {
                    if values.len() != n_outputs || values.iter().any(|v| !v.is_finite()) {
                        return Err(Error::InvalidModel(format!(
                            "leaf has {} values, expected {n_outputs} finite values",
                            values.len()
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

impl TreeEnsemble {
    /// Summed leaf values plus base.
    pub(crate) fn scores(&self, x: &[f64]) -> Vec<f64> {
        let mut s = self.base.clone();
        for t in &self.trees {
            for (acc, v) in s.iter_mut().zip(t.leaf(x)) {
                *acc += v;
            }
        }
        s
    }

    /// Score above which class 1 wins for single-score binary ensembles.
    pub fn binary_threshold(&self) -> f64 {
        match self.post_transform {
            // leaf weights are probabilities of class 1
            super::PostTransform::None => 0.5,
            // leaf weights are margins
            _ => 0.0,
        }
    }

    pub(super) fn validate(&self, n_features: usize) -> Result<()> {
        if self.trees.is_empty() || self.n_outputs == 0 || self.base.len() != self.n_outputs {
            return Err(Error::InvalidModel("tree ensemble without trees or outputs".into()));
        }
        self.trees.iter().try_for_each(|t| t.validate(n_features, self.n_outputs))
    }
}
