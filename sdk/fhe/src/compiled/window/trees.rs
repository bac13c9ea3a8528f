//! Washed outputs of tree ensembles: every reachable leaf's share of each window value (a
//! label's class-score difference or score less threshold; each score, for rounded scores)
//! quantized on one scale for the whole ensemble, so that the exact range of every value (one
//! leaf per tree) fits the window and no row ever wraps around.

use super::label::binary_labels;
use super::{Values, encoding};
use crate::compiled::mlp::floor_input_fits;
use crate::compiled::trees::walk;
use crate::compiled::{
    CompiledModel, Output, QLeaf, QProgram, QTrees, TREE_INPUT_BITS, TREE_LOW_BITS,
};
use crate::model::{Model, PostTransform, TreeEnsemble};
use crate::params::ParamSetId;
use crate::quant::InputSchema;
use crate::{Error, Result};

pub(in crate::compiled) fn compile(
    model: &Model,
    ens: &TreeEnsemble,
    calibration: &[Vec<f64>],
    threshold: f64,
    output: Output,
) -> Result<CompiledModel> {
    let values = Values::new(output, ens.n_outputs, threshold)?;
    let labels = if values.label { Some(binary_labels(model)?.to_vec()) } else { None };
    let schema = InputSchema::calibrate_quantiles(&model.features, calibration, TREE_INPUT_BITS)?;
    let (comparisons, float_leaves, float_constant) = walk(ens, &schema)?;
    let n_values = values.rows.len();
    let base: Vec<f64> =
        (0..ens.n_outputs).map(|k| ens.base[k] + float_constant[k].iter().sum::<f64>()).collect();
    let base: Vec<f64> = (0..n_values).map(|k| values.of(k, &base)).collect();
    // each value's exact float range: its base plus each tree's lowest and highest leaf
    let n_trees = ens.trees.len();
    let ranges: Vec<(f64, f64)> = (0..n_values)
        .map(|k| {
            let (mut lo, mut hi) = (vec![f64::INFINITY; n_trees], vec![f64::NEG_INFINITY; n_trees]);
            for (t, _, v) in &float_leaves {
                let (t, v) = (*t as usize, values.share(k, v));
                (lo[t], hi[t]) = (lo[t].min(v), hi[t].max(v));
            }
            let sum = |v: Vec<f64>| v.into_iter().filter(|x| x.is_finite()).sum::<f64>();
            (base[k] + sum(lo), base[k] + sum(hi))
        })
        .collect();
    // rounding moves a value by at most half a unit per tree, and its constant by one more
    let slack = n_trees as f64 / 2.0 + 2.0;
    if slack > 400.0 {
        return Err(Error::Unsupported(format!(
            "washed output for {n_trees} trees (their rounding alone fills the window)"
        )));
    }
    let alpha = values.scale(&ranges, slack);
    let centres: Vec<i64> = ranges.iter().map(|r| values.centre(alpha, *r)).collect();
    let leaves = float_leaves
        .iter()
        .map(|(tree, path, v)| QLeaf {
            tree: *tree,
            path: path.clone(),
            values: (0..n_values).map(|k| (alpha * values.share(k, v)).round() as i64).collect(),
        })
        .collect();
    let constant = (0..n_values).map(|k| values.constant(alpha * base[k], centres[k])).collect();
    let center = if values.label { vec![0] } else { centres };
    let program = QTrees { comparisons, leaves, constant, center };
    for k in 0..n_values {
        let (lo, hi) = program.range(k, n_trees);
        if !Values::fits(lo, hi) {
            return Err(Error::Quantization(format!(
                "window values [{lo}, {hi}] outside the window"
            )));
        }
        let terms = program.leaves.iter().filter(|l| l.values[k] != 0).count();
        if !floor_input_fits(terms) {
            return Err(Error::Quantization(format!(
                "{terms} leaves sum too much bootstrap noise for the exact floor"
            )));
        }
    }
    let input_delta_log = u32::from(64 - (TREE_INPUT_BITS - TREE_LOW_BITS) - 1);
    Ok(CompiledModel {
        param_set: ParamSetId::default(),
        schema,
        task: match labels {
            Some(labels) => crate::model::Task::Classification { labels },
            None => model.task.clone(),
        },
        post_transform: if values.label { PostTransform::None } else { ens.post_transform },
        scale: if values.label {
            1.0
        } else {
            (1 << crate::compiled::MLP_FLOOR_BITS) as f64 / alpha
        },
        threshold: if values.label { 0.5 } else { threshold },
        encoding: encoding(output, input_delta_log, TREE_LOW_BITS),
        program: QProgram::Trees(program),
    })
}
