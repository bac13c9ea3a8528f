//! `TreeEnsembleClassifier` and `TreeEnsembleRegressor` (ai.onnx.ml).

use std::collections::{BTreeMap, HashMap};

use super::attrs::Attrs;
use crate::model::{Node, Program, Task, Tree, TreeEnsemble};
use crate::{Error, Result};

/// Import a tree ensemble; returns the program, the task and the input width it needs.
pub(super) fn import(op: &str, a: &Attrs<'_>) -> Result<(Program, Task, usize)> {
    let classifier = op == "TreeEnsembleClassifier";
    let tree_ids = a.ints("nodes_treeids")?;
    let node_ids = a.ints("nodes_nodeids")?;
    let features = a.ints("nodes_featureids")?;
    let values = a.floats("nodes_values")?;
    let trues = a.ints("nodes_truenodeids")?;
    let falses = a.ints("nodes_falsenodeids")?;
    let modes = a.strings("nodes_modes");
    let n = tree_ids.len();
    if [node_ids.len(), features.len(), values.len(), trues.len(), falses.len(), modes.len()]
        .iter()
        .any(|l| *l != n)
    {
        return Err(Error::InvalidModel("nodes_* attributes differ in length".into()));
    }
    let prefix = if classifier { "class" } else { "target" };
    let w_trees = a.ints(&format!("{prefix}_treeids"))?;
    let w_nodes = a.ints(&format!("{prefix}_nodeids"))?;
    let w_ids = a.ints(&format!("{prefix}_ids"))?;
    let w_values = a.floats(&format!("{prefix}_weights"))?;
    if [w_nodes.len(), w_ids.len(), w_values.len()].iter().any(|l| *l != w_trees.len()) {
        return Err(Error::InvalidModel(format!("{prefix}_* attributes differ in length")));
    }
    let post = a.post_transform()?;

    let (task, n_outputs) = if classifier {
        let labels = a.labels();
        let used = w_ids.iter().copied().max().map_or(0, |m| m + 1);
        let n_outputs = if labels.len() == 2 && used <= 1 { 1 } else { labels.len() };
        if labels.len() < 2 {
            return Err(Error::InvalidModel("classifier with fewer than 2 classes".into()));
        }
        (Task::Classification { labels }, n_outputs)
    } else {
        let targets = usize::try_from(a.int("n_targets", 1)).unwrap_or(0);
        if targets != 1 {
            return Err(Error::Unsupported(format!(
                "TreeEnsembleRegressor with {targets} targets"
            )));
        }
        (Task::Regression, 1)
    };
    let aggregate = a.string("aggregate_function").unwrap_or_else(|| "SUM".into());
    if aggregate != "SUM" && aggregate != "AVERAGE" {
        return Err(Error::Unsupported(format!("aggregate_function {aggregate}")));
    }

    // (tree, node id) -> leaf values
    let mut leaf_values: HashMap<(i64, i64), Vec<f64>> = HashMap::new();
    for i in 0..w_trees.len() {
        let k = usize::try_from(w_ids[i])
            .ok()
            .filter(|k| *k < n_outputs)
            .ok_or_else(|| Error::InvalidModel(format!("{prefix}_ids value {}", w_ids[i])))?;
        leaf_values.entry((w_trees[i], w_nodes[i])).or_insert_with(|| vec![0.0; n_outputs])[k] +=
            f64::from(w_values[i]);
    }

    // group rows by tree, keep ONNX node ids -> dense indices with the root first
    let mut by_tree: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (row, t) in tree_ids.iter().enumerate() {
        by_tree.entry(*t).or_default().push(row);
    }
    let mut width = 0usize;
    let mut trees = Vec::with_capacity(by_tree.len());
    for (tree_id, rows) in by_tree {
        let index: HashMap<i64, usize> =
            rows.iter().enumerate().map(|(i, r)| (node_ids[*r], i)).collect();
        let root_row = *rows.iter().min_by_key(|r| node_ids[**r]).unwrap_or(&rows[0]);
        let child = |id: i64| {
            index.get(&id).copied().ok_or_else(|| {
                Error::InvalidModel(format!("tree {tree_id}: child node {id} does not exist"))
            })
        };
        let mut nodes = Vec::with_capacity(rows.len());
        for r in &rows {
            let node = match modes[*r].as_str() {
                "LEAF" => Node::Leaf {
                    values: leaf_values
                        .remove(&(tree_id, node_ids[*r]))
                        .unwrap_or_else(|| vec![0.0; n_outputs]),
                },
                mode => {
                    let feature = usize::try_from(features[*r])
                        .map_err(|_| Error::InvalidModel("negative feature id".into()))?;
                    width = width.max(feature + 1);
                    let threshold = f64::from(values[*r]);
                    let (t, f) = (child(trues[*r])?, child(falses[*r])?);
                    // normalise to "x <= t" / "x < t" going left
                    let (strict, left, right) = match mode {
                        "BRANCH_LEQ" => (false, t, f),
                        "BRANCH_LT" => (true, t, f),
                        "BRANCH_GT" => (false, f, t),
                        "BRANCH_GTE" => (true, f, t),
                        other => return Err(Error::Unsupported(format!("tree node mode {other}"))),
                    };
                    Node::Split { feature, threshold, strict, left, right }
                }
            };
            nodes.push(node);
        }
        // move the root to index 0
        let root = index[&node_ids[root_row]];
        if root != 0 {
            nodes.swap(0, root);
            for n in &mut nodes {
                if let Node::Split { left, right, .. } = n {
                    for c in [left, right] {
                        if *c == 0 {
                            *c = root;
                        } else if *c == root {
                            *c = 0;
                        }
                    }
                }
            }
        }
        trees.push(Tree { nodes });
    }
    if aggregate == "AVERAGE" {
        let k = trees.len() as f64;
        for t in &mut trees {
            for n in &mut t.nodes {
                if let Node::Leaf { values } = n {
                    values.iter_mut().for_each(|v| *v /= k);
                }
            }
        }
    }
    let mut base: Vec<f64> =
        a.floats_or_empty("base_values").iter().map(|v| f64::from(*v)).collect();
    if base.is_empty() {
        base = vec![0.0; n_outputs];
    }
    if base.len() != n_outputs {
        return Err(Error::InvalidModel(format!(
            "{} base values for {n_outputs} outputs",
            base.len()
        )));
    }
    let ensemble = TreeEnsemble { trees, n_outputs, base, post_transform: post };
    Ok((Program::Trees(ensemble), task, width))
}
