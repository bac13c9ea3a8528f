//! Label-only tree ensembles: every reachable leaf's share of the decision value (the
//! difference of the two class scores, or the score less the threshold) quantized on one scale
//! for the whole ensemble, so that the exact range of `d` (one leaf per tree) fits the window
//! and no row ever wraps around.

use super::{LABEL_REACH, binary_labels, decision, encoding, strict_bias};
use crate::compiled::mlp::floor_input_fits;
use crate::compiled::trees::walk;
use crate::compiled::{
    CompiledModel, MLP_ACC_BITS, QLeaf, QProgram, QTrees, TREE_INPUT_BITS, TREE_LOW_BITS,
};
use crate::model::{Model, PostTransform, Task, TreeEnsemble};
use crate::params::ParamSetId;
use crate::quant::InputSchema;
use crate::{Error, Result};

pub(in crate::compiled) fn compile(
    model: &Model,
    ens: &TreeEnsemble,
    calibration: &[Vec<f64>],
    threshold: f64,
) -> Result<CompiledModel> {
    let labels = binary_labels(model)?.to_vec();
    let (coef, constant) = decision(ens.n_outputs, threshold)?;
    let schema = InputSchema::calibrate_quantiles(&model.features, calibration, TREE_INPUT_BITS)?;
    let (comparisons, float_leaves, float_constant) = walk(ens, &schema)?;
    let share = |v: &[f64]| v.iter().zip(coef).map(|(v, c)| v * c).sum::<f64>();
    let base = (0..ens.n_outputs)
        .map(|k| coef[k] * (ens.base[k] + float_constant[k].iter().sum::<f64>()))
        .sum::<f64>()
        + constant;
    // the exact float range of d: the base plus each tree's lowest and highest leaf
    let n_trees = ens.trees.len();
    let (mut lo, mut hi) = (vec![f64::INFINITY; n_trees], vec![f64::NEG_INFINITY; n_trees]);
    for (t, _, v) in &float_leaves {
        let (t, v) = (*t as usize, share(v));
        (lo[t], hi[t]) = (lo[t].min(v), hi[t].max(v));
    }
    let sum = |v: Vec<f64>| v.into_iter().filter(|x| x.is_finite()).sum::<f64>();
    let reach = (base + sum(lo)).abs().max((base + sum(hi)).abs());
    // rounding moves d by at most half a unit per tree, and the strict bias by one more
    let room = LABEL_REACH as f64 - n_trees as f64 / 2.0 - 2.0;
    if room < 16.0 {
        return Err(Error::Unsupported(format!(
            "label-only output for {n_trees} trees (their rounding alone fills the window)"
        )));
    }
    let alpha = if reach > 0.0 { room / reach } else { 1.0 };
    let leaves = float_leaves
        .iter()
        .map(|(tree, path, v)| QLeaf {
            tree: *tree,
            path: path.clone(),
            values: vec![(alpha * share(v)).round() as i64],
        })
        .collect();
    let program =
        QTrees { comparisons, leaves, constant: vec![strict_bias(alpha * base)], center: vec![0] };
    let (lo, hi) = program.range(0, n_trees);
    let window = 1i64 << MLP_ACC_BITS;
    if lo < -window || hi >= window {
        return Err(Error::Quantization(format!(
            "decision values [{lo}, {hi}] outside the window [-{window}, {window})"
        )));
    }
    let terms = program.leaves.iter().filter(|l| l.values[0] != 0).count();
    if !floor_input_fits(terms) {
        return Err(Error::Quantization(format!(
            "{terms} leaves sum too much bootstrap noise for the exact floor"
        )));
    }
    Ok(CompiledModel {
        param_set: ParamSetId::default(),
        schema,
        task: Task::Classification { labels },
        post_transform: PostTransform::None,
        scale: 1.0,
        threshold: 0.5,
        encoding: encoding(u32::from(64 - (TREE_INPUT_BITS - TREE_LOW_BITS) - 1), TREE_LOW_BITS),
        program: QProgram::Trees(program),
    })
}
