//! Tree ensembles: sign bootstraps decide the comparisons, one bootstrap per reachable
//! (leaf, output) tests the leaf's path.
//!
//! Inputs are 6-bit quantile bins sent as two digits, `h = q >> 2` (4 bits) and `l = q mod 4`,
//! each encrypted as `digit * 2^59`: one bootstrap of parameter set 1 resolves 4 bits with its
//! `2^58` decision margin, so a 6-bit comparison `q > T`, `T = 4 Th + Tl`, is decided in digits:
//! - when `Tl = 3`, `q > T` exactly when `h > Th`: one sign bootstrap of the phase
//!   `(2 (h - Th) - 1) 2^58`, at least `2^58` from both decision boundaries;
//! - otherwise a table bootstrap of `h` gives `H = 2w sign(h - Th)` (`0` when `h = Th`), a sign
//!   bootstrap of `l` gives `L = ±w` (`+w` when `l > Tl`), `w = 2^59`, and a sign bootstrap of
//!   `H + L` (one of `±w`, `±3w`) gives `±v`: `h > Th`, or `h = Th` and `l > Tl`.
//!
//! Table and sign bootstraps of a digit are shared by every comparison that needs them.
//! Models compiled before digits (`low_bits = 0`) compare 4-bit inputs with one bootstrap each.
//!
//! Leaves and outputs (64-bit torus, negacyclic sign test, no padding bit needed):
//! - a comparison outputs `+v` (right) or `-v` (left), `v = 2^59`;
//! - a leaf with `d` path conditions sums `dir_j * out_j - (d - 1) v`: `+v` when every
//!   condition holds, `<= -v` otherwise (fits for `d <= 8`); for each output with a non-zero
//!   leaf value `L` its bootstrap outputs `±L 2^(delta - 1)`, so adding `L 2^(delta - 1)` gives
//!   `L 2^delta` when the leaf is reached and 0 otherwise — with one bootstrap's noise, whatever
//!   `L` is;
//! - scores are the sum of those plus a constant, minus a centre that decryption adds back.
//!
//! The output precision `p` follows from the bootstrap noise (std `2^PBS_NOISE_STD_LOG`) and the
//! number of leaf outputs summed into a score: the largest `p` for which 8 standard deviations
//! of that sum plus the worst-case error of switching the result to `2^(p + 16)` stay below half
//! a step `2^(63 - p)`; the leaf-value scale then fits the whole score range into `p` bits.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{CompiledModel, Encoding, QProgram, Readout};
use crate::model::{Model, Node, TreeEnsemble};
use crate::params::{self, ParamSetId};
use crate::quant::{FeatureSpec, InputSchema};
use crate::{Error, Result};

/// Input bits for tree models (quantile bins), sent as two digits.
pub const TREE_INPUT_BITS: u8 = 6;
/// Bits of the low digit; the high digit's `TREE_INPUT_BITS - TREE_LOW_BITS = 4` bits are what
/// one bootstrap resolves with the parameter set's `2^58` decision margin.
pub const TREE_LOW_BITS: u8 = 2;
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

    /// Bootstraps per row when features arrive as digits with `low_bits` low bits (0: whole):
    /// those deciding the comparisons, plus one per (leaf, output) with a non-zero value; a
    /// program of washed outputs (`window`) instead takes two per such pair, one per scale of
    /// the floor (its values' floors, bits and washes are counted by
    /// `CompiledModel::bootstraps_per_row`).
    pub(crate) fn bootstraps(&self, low_bits: u8, window: bool) -> usize {
        let comparisons = if low_bits == 0 {
            self.comparisons.len()
        } else {
            self.digit_plan(low_bits).bootstraps()
        };
        comparisons
            + if window {
                self.window_plan().iter().map(|(_, plan)| self.plan_bootstraps(plan)).sum()
            } else {
                self.leaf_outputs()
            }
    }

    /// How a program of washed outputs brings each tree's share of its window values to the
    /// floor's two scales, per tree with a conditional leaf: whichever plan costs fewer
    /// bootstraps.
    pub(crate) fn window_plan(&self) -> Vec<(u32, TreeWindow)> {
        let mut trees: Vec<u32> = self.leaves.iter().map(|l| l.tree).collect();
        trees.sort_unstable();
        trees.dedup();
        trees
            .into_iter()
            .map(|tree| {
                let leaves: Vec<usize> =
                    (0..self.leaves.len()).filter(|l| self.leaves[*l].tree == tree).collect();
                let index = TreeWindow::Index(leaves.clone());
                let plan = if leaves.len() <= INDEX_LEAVES
                    && self.plan_bootstraps(&index)
                        < self.plan_bootstraps(&TreeWindow::Leaves(leaves.clone()))
                {
                    index
                } else {
                    TreeWindow::Leaves(leaves)
                };
                (tree, plan)
            })
            .collect()
    }

    /// Bootstraps of one tree's plan: two per (leaf, value) with a non-zero share; or one per
    /// leaf but the first and two per value the tree adds to.
    pub(crate) fn plan_bootstraps(&self, plan: &TreeWindow) -> usize {
        match plan {
            TreeWindow::Leaves(leaves) => leaves
                .iter()
                .map(|l| 2 * self.leaves[*l].values.iter().filter(|v| **v != 0).count())
                .sum(),
            TreeWindow::Index(leaves) => {
                let values = (0..self.constant.len())
                    .filter(|k| leaves.iter().any(|l| self.leaves[*l].values[*k] != 0))
                    .count();
                leaves.len().saturating_sub(1) + 2 * values
            }
        }
    }

    /// Number of (leaf, output) bootstraps.
    pub fn leaf_outputs(&self) -> usize {
        self.leaves.iter().map(|l| l.values.iter().filter(|v| **v != 0).count()).sum()
    }

    /// Per output, the integer score range `[lo, hi]` (exactly one leaf per tree is reached).
    pub(super) fn range(&self, k: usize, n_trees: usize) -> (i64, i64) {
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

/// Most leaves a tree may have for the index plan: the reached leaf's index must be one table
/// entry of 4 bits.
pub(crate) const INDEX_LEAVES: usize = 16;

/// One tree's part of a program of washed outputs (`compiled::window`), over its leaves (indices
/// into [`QTrees::leaves`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TreeWindow {
    /// Every leaf with a non-zero share of a value is tested twice, once per scale.
    Leaves(Vec<usize>),
    /// One indicator bootstrap per leaf but the first adds up the reached leaf's index (`i`
    /// for the leaf at position `i`, in `[0, 16)`); two table bootstraps per value then read
    /// the tree's share of it at both scales.
    Index(Vec<usize>),
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

/// Extra bits of the switched result modulus over the output precision: the worst-case
/// modulus-switch error `(1 + N) 2^(63 - p - RESULT_EXTRA_BITS)` is then below `2^(58 - p)`, a
/// 64th of a step.
const RESULT_EXTRA_BITS: u32 = 16;

/// Whether scores of `p` bits decrypt exactly when the largest one sums `terms` bootstrap
/// outputs: 8 standard deviations of their noise plus the worst-case modulus-switch error stay
/// below half a step.
fn precision_holds(p: i64, terms: usize) -> bool {
    let sigma = params::PBS_NOISE_STD_LOG.exp2() * (terms.max(1) as f64).sqrt();
    let switch = (params::POLYNOMIAL_SIZE + 1) as f64
        * ((63 - p) as f64 - f64::from(RESULT_EXTRA_BITS)).exp2();
    8.0 * sigma + switch < ((63 - p) as f64).exp2()
}

pub(super) fn compile(
    model: &Model,
    ens: &TreeEnsemble,
    calibration: &[Vec<f64>],
    threshold: f64,
) -> Result<CompiledModel> {
    let schema = InputSchema::calibrate_quantiles(&model.features, calibration, TREE_INPUT_BITS)?;
    let (comparisons, float_leaves, float_constant) = walk(ens, &schema)?;
    let width = score_width(ens, &float_leaves);
    // the highest precision whose leaf outputs (those that do not round to zero) it can sum
    let top = (1..=24).rev().find(|p| precision_holds(*p, 1)).unwrap_or(0);
    for p in (3..=top).rev() {
        let leaves = (float_leaves.as_slice(), float_constant.as_slice());
        let Some((program, scale)) = fit(ens, &comparisons, leaves, width, p) else {
            continue;
        };
        let terms = (0..ens.n_outputs)
            .map(|k| program.leaves.iter().filter(|l| l.values[k] != 0).count())
            .max()
            .unwrap_or(0);
        if !precision_holds(p, terms) {
            continue;
        }
        let encoding = Encoding {
            readout: Readout::Scores,
            input_delta_log: 64 - (TREE_INPUT_BITS - TREE_LOW_BITS) - 1,
            low_bits: TREE_LOW_BITS,
            output_delta_log: (64 - p) as u8,
            output_log_modulus: (p as u32 + RESULT_EXTRA_BITS).min(64) as u8,
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
    Err(Error::Quantization(format!(
        "{} trees with {} leaves do not fit the output precision of one bootstrap level",
        ens.trees.len(),
        float_leaves.len()
    )))
}

/// The widest float range of a score: the sum over trees of each tree's leaf-value range (one
/// leaf per tree is reached).
fn score_width(ens: &TreeEnsemble, float_leaves: &[FloatLeaf]) -> f64 {
    let n_trees = ens.trees.len();
    let mut width = 0f64;
    for k in 0..ens.n_outputs {
        let (mut lo, mut hi) = (vec![0f64; n_trees], vec![0f64; n_trees]);
        let mut seen = vec![false; n_trees];
        for (t, _, v) in float_leaves {
            let t = *t as usize;
            if !seen[t] {
                (lo[t], hi[t], seen[t]) = (v[k], v[k], true);
            }
            lo[t] = lo[t].min(v[k]);
            hi[t] = hi[t].max(v[k]);
        }
        width = width.max(hi.iter().sum::<f64>() - lo.iter().sum::<f64>());
    }
    width
}

/// The integer program whose scores, `width` wide in floats, span `p` bits, and its scale;
/// `None` when the trees do not fit `p` bits.
fn fit(
    ens: &TreeEnsemble,
    comparisons: &[Comparison],
    (float_leaves, float_constant): (&[FloatLeaf], &[Vec<f64>]),
    width: f64,
    p: i64,
) -> Option<(QTrees, f64)> {
    let n_out = ens.n_outputs;
    let n_trees = ens.trees.len();
    let half = (1i64 << (p - 1)) - 1;
    // integer range = width / scale plus at most one unit of rounding per tree
    let room = (2 * half) as f64 - n_trees as f64 - 1.0;
    if room < 2.0 {
        return None;
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
            .zip(float_constant)
            .map(|(b, c)| q(*b) + c.iter().map(|x| q(*x)).sum::<i64>())
            .collect();
        let mut program =
            QTrees { comparisons: comparisons.to_vec(), leaves, constant, center: vec![0; n_out] };
        let mut fits = true;
        for k in 0..n_out {
            let (lo, hi) = program.range(k, n_trees);
            let c = lo + (hi - lo) / 2;
            program.center[k] = c;
            fits &= (hi - c).max(c - lo) <= half;
        }
        if fits {
            return Some((program, scale));
        }
        scale *= 1.05;
    }
    None
}

/// A reachable leaf before quantization: (tree, path, values).
pub(super) type FloatLeaf = (u32, Vec<(u32, bool)>, Vec<f64>);

/// Float leaves; constant-folded leaves per output; distinct comparisons.
pub(super) type Walk = (Vec<Comparison>, Vec<FloatLeaf>, Vec<Vec<f64>>);

/// Walk every tree, folding comparisons whose outcome the quantization fixes.
pub(super) fn walk(ens: &TreeEnsemble, schema: &InputSchema) -> Result<Walk> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree of at most 16 leaves is read through its reached leaf's index when that is
    /// cheaper; a larger one leaf by leaf.
    #[test]
    fn window_plans_pick_the_cheaper_reading() {
        let leaf =
            |tree: u32, c: u32, values: Vec<i64>| QLeaf { tree, path: vec![(c, true)], values };
        // tree 0: 8 leaves, one value each (index: 7 + 2 = 9 < 16); tree 1: 2 leaves (2 < 3)
        let mut leaves: Vec<QLeaf> = (0..8).map(|c| leaf(0, c, vec![c as i64 + 1])).collect();
        leaves.extend([leaf(1, 0, vec![3]), leaf(1, 1, vec![0])]);
        let t = QTrees { comparisons: vec![], leaves, constant: vec![0], center: vec![0] };
        let plan = t.window_plan();
        assert_eq!(plan[0], (0, TreeWindow::Index((0..8).collect())));
        assert_eq!(plan[1], (1, TreeWindow::Leaves(vec![8, 9])));
        assert_eq!(t.bootstraps(0, true), 9 + 2);
        // 17 leaves: too many for one table entry
        let big: Vec<QLeaf> = (0..17).map(|c| leaf(0, c, vec![1])).collect();
        let t = QTrees { comparisons: vec![], leaves: big, constant: vec![0], center: vec![0] };
        assert!(matches!(t.window_plan()[0].1, TreeWindow::Leaves(_)));
    }

    /// More summed leaf outputs cost output precision; a single one leaves 10 bits.
    #[test]
    fn precision_shrinks_with_the_leaves_summed() {
        assert!(precision_holds(10, 1) && !precision_holds(11, 1));
        assert!(precision_holds(7, 110) && !precision_holds(7, 130));
        assert!(!precision_holds(3, 1 << 40));
    }
}
