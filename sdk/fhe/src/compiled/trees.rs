//! Tree ensembles: one sign bootstrap per distinct comparison, one per reachable leaf.
//!
//! Encodings (64-bit torus, negacyclic sign test, no padding bit needed):
//! - inputs are `q * 2u` with `u = 2^(64 - bits - 2)`; a comparison `q <= T` computes the phase
//!   `(2 (q - T) - 1) u`, positive exactly when the sample goes right, at least `u` away from
//!   both decision boundaries;
//! - a comparison bootstrap outputs `+v` (right) or `-v` (left), `v = 2^59`;
//! - a leaf with `d` path conditions sums `dir_j * out_j - (d - 1) v`: `+v` when every
//!   condition holds, `<= -v` otherwise (fits for `d <= 8`); for each output with a non-zero
//!   leaf value `L` its bootstrap outputs `±L 2^(delta - 1)`, so adding `L 2^(delta - 1)` gives
//!   `L 2^delta` when the leaf is reached and 0 otherwise — with one bootstrap's noise, whatever
//!   `L` is;
//! - scores are the sum of those plus a constant, minus a centre that decryption adds back.
//!
//! The output precision follows from the bootstrap noise (std `2^PBS_NOISE_STD_LOG`) and the
//! number of summed leaf outputs: the leaf-value scale is chosen so the whole score range fits
//! with an 8-sigma margin.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{CompiledModel, Encoding, QProgram};
use crate::model::{Model, Node, TreeEnsemble};
use crate::params::{self, ParamSetId};
use crate::quant::{FeatureSpec, InputSchema};
use crate::{Error, Result};

/// Input bits for tree models: the comparison phase then spans exactly the 2_2 parameter
/// set's decision margin (`u = 2^58`).
pub const TREE_INPUT_BITS: u8 = 4;
/// Longest path (conditions per leaf) the leaf test supports.
pub const MAX_PATH: usize = 8;

/// `q[feature] <= threshold` (true goes left).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Comparison {
    /// Feature index.
    pub feature: u32,
    /// Integer threshold in quantized units.
    pub threshold: i64,
}

/// A reachable leaf: its path conditions and integer contributions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QLeaf {
    /// Index of the tree the leaf belongs to.
    pub tree: u32,
    /// `(comparison index, goes right)` for every condition on the path.
    pub path: Vec<(u32, bool)>,
    /// Integer value per output.
    pub values: Vec<i64>,
}

/// Integer tree-ensemble program.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QTrees {
    /// Distinct comparisons (shared across trees).
    pub comparisons: Vec<Comparison>,
    /// Leaves with at least one path condition.
    pub leaves: Vec<QLeaf>,
    /// Base values plus leaves reached unconditionally.
    pub constant: Vec<i64>,
    /// Per-output centre of the score range; encrypted scores are `score - center`.
    pub center: Vec<i64>,
}

impl QTrees {
    pub(super) fn eval(&self, q: &[u64]) -> Vec<i64> {
        let right: Vec<bool> =
            self.comparisons.iter().map(|c| q[c.feature as usize] as i64 > c.threshold).collect();
        let mut out = self.constant.clone();
        for leaf in &self.leaves {
            if leaf.path.iter().all(|(c, r)| right[*c as usize] == *r) {
                out.iter_mut().zip(&leaf.values).for_each(|(o, v)| *o += v);
            }
        }
        out
    }

    /// Bootstraps per row: one per comparison, one per (leaf, output) with a non-zero value.
    pub fn bootstraps(&self) -> usize {
        self.comparisons.len() + self.leaf_outputs()
    }

    /// Number of (leaf, output) bootstraps.
    pub fn leaf_outputs(&self) -> usize {
        self.leaves.iter().map(|l| l.values.iter().filter(|v| **v != 0).count()).sum()
    }

    /// Per output, the integer score range `[lo, hi]` (exactly one leaf per tree is reached).
    fn range(&self, k: usize, n_trees: usize) -> (i64, i64) {
        let (mut lo, mut hi) = (vec![i64::MAX; n_trees], vec![i64::MIN; n_trees]);
        for l in &self.leaves {
            let t = l.tree as usize;
            lo[t] = lo[t].min(l.values[k]);
            hi[t] = hi[t].max(l.values[k]);
        }
        let sum =
            |v: Vec<i64>| v.into_iter().filter(|x| *x != i64::MAX && *x != i64::MIN).sum::<i64>();
        (self.constant[k] + sum(lo), self.constant[k] + sum(hi))
    }
}

/// Largest quantized level `q` such that `dequantize(q)` passes the split test, or -1.
fn quantized_threshold(f: &FeatureSpec, threshold: f64, strict: bool) -> i64 {
    let top = (1i64 << f.bits) - 1;
    let passes = |q: i64| {
        let v = f.dequantize(q as u64);
        if strict { v < threshold } else { v <= threshold }
    };
    let mut t = f.quantize(threshold) as i64;
    while t >= 0 && !passes(t) {
        t -= 1;
    }
    while t < top && passes(t + 1) {
        t += 1;
    }
    t
}

pub(super) fn compile(
    model: &Model,
    ens: &TreeEnsemble,
    calibration: &[Vec<f64>],
    threshold: f64,
) -> Result<CompiledModel> {
    let schema = InputSchema::calibrate_quantiles(&model.features, calibration, TREE_INPUT_BITS)?;
    let (comparisons, float_leaves, float_constant) = walk(ens, &schema)?;
    let n_out = ens.n_outputs;
    let n_trees = ens.trees.len();
    // summed bootstrap outputs per score, and the precision that leaves after an 8-sigma margin
    // for the bootstrap noise and the same again for modulus switching the result
    let terms = float_leaves.len().max(1) as f64;
    let noise_log = params::PBS_NOISE_STD_LOG + 0.5 * terms.log2() + 3.0;
    let p = (62.0 - noise_log).floor() as i64;
    if p < 3 {
        return Err(Error::Quantization(format!(
            "{} leaves leave {p} bits of output precision: too many for one bootstrap level",
            float_leaves.len()
        )));
    }
    let half = (1i64 << (p - 1)) - 1;
    // float range of each score: one leaf per tree
    let mut width = 0f64;
    for k in 0..n_out {
        let (mut lo, mut hi) = (vec![0f64; n_trees], vec![0f64; n_trees]);
        let mut seen = vec![false; n_trees];
        for (t, _, v) in &float_leaves {
            let t = *t as usize;
            if !seen[t] {
                (lo[t], hi[t], seen[t]) = (v[k], v[k], true);
            }
            lo[t] = lo[t].min(v[k]);
            hi[t] = hi[t].max(v[k]);
        }
        width = width.max(hi.iter().sum::<f64>() - lo.iter().sum::<f64>());
    }
    // integer range = width / scale plus at most one unit of rounding per tree
    let room = (2 * half) as f64 - n_trees as f64 - 1.0;
    if room < 2.0 {
        return Err(Error::Quantization(format!(
            "{n_trees} trees do not fit {p} bits of precision"
        )));
    }
    let mut scale = if width > 0.0 { width / room } else { 1.0 };
    for _ in 0..64 {
        let q = |v: f64| (v / scale).round() as i64;
        let leaves: Vec<QLeaf> = float_leaves
            .iter()
            .map(|(tree, path, v)| QLeaf {
                tree: *tree,
                path: path.clone(),
                values: v.iter().map(|x| q(*x)).collect(),
            })
            .collect();
        let constant: Vec<i64> = ens
            .base
            .iter()
            .zip(&float_constant)
            .map(|(b, c)| q(*b) + c.iter().map(|x| q(*x)).sum::<i64>())
            .collect();
        let mut program =
            QTrees { comparisons: comparisons.clone(), leaves, constant, center: vec![0; n_out] };
        let mut fits = true;
        for k in 0..n_out {
            let (lo, hi) = program.range(k, n_trees);
            let c = lo + (hi - lo) / 2;
            program.center[k] = c;
            fits &= (hi - c).max(c - lo) <= half;
        }
        if fits {
            let extra = 64 - u64::from(params::POLYNOMIAL_SIZE as u32 + 1).leading_zeros();
            let encoding = Encoding {
                wide: false,
                input_delta_log: 64 - TREE_INPUT_BITS - 1,
                output_delta_log: (64 - p) as u8,
                output_log_modulus: (p as u32 + 1 + extra).min(64) as u8,
            };
            return Ok(CompiledModel {
                param_set: ParamSetId::default(),
                schema,
                task: model.task.clone(),
                post_transform: ens.post_transform,
                scale,
                threshold,
                encoding,
                program: QProgram::Trees(program),
            });
        }
        scale *= 1.05;
    }
    Err(Error::Quantization("could not fit the tree scores into the output precision".into()))
}

/// Float leaves: (tree, path, values); constant-folded leaves per output; distinct comparisons.
type Walk = (Vec<Comparison>, Vec<(u32, Vec<(u32, bool)>, Vec<f64>)>, Vec<Vec<f64>>);

/// Walk every tree, folding comparisons whose outcome the quantization fixes.
fn walk(ens: &TreeEnsemble, schema: &InputSchema) -> Result<Walk> {
    let top = (1i64 << TREE_INPUT_BITS) - 1;
    let mut comparisons: Vec<Comparison> = Vec::new();
    let mut index: HashMap<Comparison, u32> = HashMap::new();
    let mut leaves = Vec::new();
    let mut constant: Vec<Vec<f64>> = vec![Vec::new(); ens.n_outputs];
    for (ti, tree) in ens.trees.iter().enumerate() {
        let mut stack: Vec<(usize, Vec<(u32, bool)>)> = vec![(0, Vec::new())];
        let mut steps = 0usize;
        while let Some((i, path)) = stack.pop() {
            steps += 1;
            if steps > tree.nodes.len() * 2 {
                return Err(Error::InvalidModel("tree walk did not terminate".into()));
            }
            match &tree.nodes[i] {
                Node::Leaf { values } => {
                    if path.iter().any(|(c, r)| path.iter().any(|(c2, r2)| c == c2 && r != r2)) {
                        continue; // contradictory path: unreachable
                    }
                    let mut path = path;
                    path.sort_unstable();
                    path.dedup();
                    if path.is_empty() {
                        constant.iter_mut().zip(values).for_each(|(c, v)| c.push(*v));
                    } else if path.len() > MAX_PATH {
                        return Err(Error::Unsupported(format!(
                            "tree path of {} conditions (at most {MAX_PATH})",
                            path.len()
                        )));
                    } else {
                        leaves.push((ti as u32, path, values.clone()));
                    }
                }
                Node::Split { feature, threshold, strict, left, right } => {
                    let t = quantized_threshold(&schema.features[*feature], *threshold, *strict);
                    if t < 0 {
                        stack.push((*right, path));
                    } else if t >= top {
                        stack.push((*left, path));
                    } else {
                        let c = Comparison { feature: *feature as u32, threshold: t };
                        let id = *index.entry(c).or_insert_with(|| {
                            comparisons.push(c);
                            (comparisons.len() - 1) as u32
                        });
                        let mut l = path.clone();
                        l.push((id, false));
                        let mut r = path;
                        r.push((id, true));
                        stack.push((*left, l));
                        stack.push((*right, r));
                    }
                }
            }
        }
    }
    Ok((comparisons, leaves, constant))
}
