//! Washed outputs of tree ensembles: every reachable leaf's share of each window value (a
//! binary decision, every class score of an argmax, or each score for rounded scores)
//! quantized on one scale for the whole ensemble, so that the exact range of every combination
//! that must fit the window (one leaf per tree) does and no row ever wraps around.

use super::label::class_labels;
use super::{Values, check_fits, combo_range, encoding};
use crate::compiled::mlp::floor_input_fits;
use crate::compiled::trees::walk;
use crate::compiled::{
    CompiledModel, MLP_FLOOR_BITS, OutputMode, QLeaf, QProgram, QTrees, TREE_INPUT_BITS,
    TREE_LOW_BITS,
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
    output: OutputMode,
) -> Result<CompiledModel> {
    let values = Values::new(output, ens.n_outputs, threshold)?;
    let labels =
        if values.label() { Some(class_labels(model, ens.n_outputs)?.to_vec()) } else { None };
    let schema = InputSchema::calibrate_quantiles(&model.features, calibration, TREE_INPUT_BITS)?;
    let (comparisons, float_leaves, float_constant) = walk(ens, &schema)?;
    let n = values.rows.len();
    let base: Vec<f64> =
        (0..ens.n_outputs).map(|k| ens.base[k] + float_constant[k].iter().sum::<f64>()).collect();
    let base: Vec<f64> = (0..n).map(|k| values.of(k, &base)).collect();
    // per tree, the shares of every value its leaves can add (one leaf per tree is reached)
    let n_trees = ens.trees.len();
    let mut float_parts: Vec<Vec<Vec<f64>>> = vec![Vec::new(); n_trees];
    for (t, _, v) in &float_leaves {
        float_parts[*t as usize].push((0..n).map(|k| values.share(k, v)).collect());
    }
    let combos = values.combos();
    let ranges: Vec<(f64, f64)> =
        combos.iter().map(|c| combo_range(c, &base, &float_parts)).collect();
    // rounding moves a value by at most half a unit per tree, and its constant by one more
    let slack = n_trees as f64 / 2.0 + 2.0;
    if slack > 400.0 {
        return Err(Error::Unsupported(format!(
            "washed output for {n_trees} trees (their rounding alone fills the window)"
        )));
    }
    let alpha = values.scale(&ranges, slack);
    // a rounded score's combination is the score itself: its range gives its centre
    let centres: Vec<i64> = (0..n).map(|k| values.centre(alpha, ranges[k])).collect();
    let leaves: Vec<QLeaf> = float_leaves
        .iter()
        .map(|(tree, path, v)| QLeaf {
            tree: *tree,
            path: path.clone(),
            values: (0..n).map(|k| (alpha * values.share(k, v)).round() as i64).collect(),
        })
        .collect();
    let constant: Vec<i64> = (0..n).map(|k| values.constant(alpha * base[k], centres[k])).collect();
    let mut int_parts: Vec<Vec<Vec<i64>>> = vec![Vec::new(); n_trees];
    for l in &leaves {
        int_parts[l.tree as usize].push(l.values.clone());
    }
    check_fits(&combos, &constant, &int_parts)?;
    for coef in &combos {
        // the leaf outputs a combination sums (a difference sums both values' leaves)
        let terms = leaves
            .iter()
            .filter(|l| coef.iter().zip(&l.values).any(|(c, v)| *c != 0 && *v != 0))
            .count();
        if !floor_input_fits(terms) {
            return Err(Error::Quantization(format!(
                "{terms} leaves sum too much bootstrap noise for the exact floor"
            )));
        }
    }
    let center = if values.label() { vec![0; n] } else { centres };
    let program = QTrees { comparisons, leaves, constant, center };
    let input_delta_log = u32::from(64 - (TREE_INPUT_BITS - TREE_LOW_BITS) - 1);
    let label = values.label();
    Ok(CompiledModel {
        param_set: ParamSetId::default(),
        schema,
        task: labels.map_or_else(|| model.task.clone(), |labels| Task::Classification { labels }),
        post_transform: if label { PostTransform::None } else { ens.post_transform },
        scale: if label { 1.0 } else { (1 << MLP_FLOOR_BITS) as f64 / alpha },
        threshold: if label { 0.5 } else { threshold },
        encoding: encoding(output, input_delta_log, TREE_LOW_BITS, values.classes()),
        program: QProgram::Trees(program),
    })
}
