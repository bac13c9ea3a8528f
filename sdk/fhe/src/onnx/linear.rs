//! `LinearClassifier`, `LinearRegressor` and dense layers (`Gemm`, `MatMul` + `Add`, `Relu`).

use std::collections::HashMap;

use super::attrs::Attrs;
use super::proto::{self, NodeProto, TensorProto};
use crate::model::{LinearModel, PostTransform, Program, Task};
use crate::{Error, Result};

/// Import a linear classifier or regressor; returns the program, the task and the input width.
pub(super) fn import(op: &str, a: &Attrs<'_>) -> Result<(Program, Task, usize)> {
    let coefficients: Vec<f64> = a.floats("coefficients")?.iter().map(|v| f64::from(*v)).collect();
    let intercepts: Vec<f64> =
        a.floats_or_empty("intercepts").iter().map(|v| f64::from(*v)).collect();
    let post = a.post_transform()?;
    let (rows, task) = if op == "LinearClassifier" {
        let labels = a.labels();
        if labels.len() < 2 {
            return Err(Error::InvalidModel("LinearClassifier with fewer than 2 classes".into()));
        }
        let rows =
            if labels.len() == 2 && coefficients.len().is_multiple_of(2) && intercepts.len() == 2 {
                2
            } else if labels.len() == 2 {
                1
            } else {
                labels.len()
            };
        (rows, Task::Classification { labels })
    } else {
        let targets = usize::try_from(a.int("targets", 1)).unwrap_or(0);
        if targets != 1 {
            return Err(Error::Unsupported(format!("LinearRegressor with {targets} targets")));
        }
        (1, Task::Regression)
    };
    if rows == 0 || coefficients.is_empty() || !coefficients.len().is_multiple_of(rows) {
        return Err(Error::InvalidModel(format!(
            "{} coefficients for {rows} outputs",
            coefficients.len()
        )));
    }
    let width = coefficients.len() / rows;
    let mut weights: Vec<Vec<f64>> = coefficients.chunks(width).map(<[f64]>::to_vec).collect();
    let mut bias = if intercepts.is_empty() { vec![0.0; rows] } else { intercepts };
    if bias.len() != rows {
        return Err(Error::InvalidModel(format!("{} intercepts for {rows} outputs", bias.len())));
    }
    // skl2onnx writes binary classifiers as two opposite rows; keep the class-1 margin only
    // (half the encrypted work, same decision).
    if rows == 2 && is_negation(&weights[0], &weights[1]) && (bias[0] + bias[1]).abs() < 1e-6 {
        weights.remove(0);
        bias.remove(0);
    }
    let post_transform = match (post, weights.len()) {
        (PostTransform::Softmax, 1) => PostTransform::Logistic,
        (p, _) => p,
    };
    Ok((Program::Linear(LinearModel { weights, bias, post_transform }), task, width))
}

fn is_negation(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| (x + y).abs() <= 1e-6 * (1.0 + x.abs()))
}

/// Apply one dense-network operator to the layer list.
pub(super) fn apply_dense(
    node: &NodeProto,
    a: &Attrs<'_>,
    inits: &HashMap<&str, &TensorProto>,
    layers: &mut Vec<LinearModel>,
    relu_after_last: &mut bool,
) -> Result<()> {
    let init = |i: usize| -> Result<&TensorProto> {
        let name = node.input.get(i).ok_or_else(|| {
            Error::InvalidModel(format!("{} node {:?} lacks input {i}", node.op_type, node.name))
        })?;
        inits.get(name.as_str()).copied().ok_or_else(|| {
            Error::Unsupported(format!(
                "{} node {:?}: input {name:?} is not a constant initializer",
                node.op_type, node.name
            ))
        })
    };
    match node.op_type.as_str() {
        "Relu" => {
            if layers.is_empty() || *relu_after_last {
                return Err(Error::Unsupported("Relu not directly after a dense layer".into()));
            }
            *relu_after_last = true;
        }
        "Gemm" | "MatMul" => {
            if !layers.is_empty() && !*relu_after_last {
                return Err(Error::Unsupported(
                    "two dense layers without an activation between them".into(),
                ));
            }
            if node.op_type == "Gemm" && a.int("transA", 0) != 0 {
                return Err(Error::Unsupported("Gemm with transA=1".into()));
            }
            let trans_b = node.op_type == "Gemm" && a.int("transB", 0) != 0;
            let (alpha, beta) = if node.op_type == "Gemm" {
                (f64::from(a.float("alpha", 1.0)), f64::from(a.float("beta", 1.0)))
            } else {
                (1.0, 1.0)
            };
            let b = init(1)?;
            let (d0, d1, data) = matrix(b)?;
            // weights[out][in]
            let (outs, ins) = if trans_b { (d0, d1) } else { (d1, d0) };
            let weights: Vec<Vec<f64>> = (0..outs)
                .map(|o| {
                    (0..ins)
                        .map(|i| {
                            alpha * if trans_b { data[o * ins + i] } else { data[i * outs + o] }
                        })
                        .collect()
                })
                .collect();
            let bias = if node.op_type == "Gemm" && node.input.len() > 2 {
                let c = values(init(2)?)?;
                broadcast(&c, outs)?.into_iter().map(|v| v * beta).collect()
            } else {
                vec![0.0; outs]
            };
            layers.push(LinearModel { weights, bias, post_transform: PostTransform::None });
            *relu_after_last = false;
        }
        "Add" => {
            let last = layers
                .last_mut()
                .filter(|_| !*relu_after_last)
                .ok_or_else(|| Error::Unsupported("Add not directly after MatMul".into()))?;
            let c = broadcast(&values(init(1)?)?, last.bias.len())?;
            last.bias.iter_mut().zip(c).for_each(|(b, c)| *b += c);
        }
        other => return Err(Error::Unsupported(format!("operator {other}"))),
    }
    Ok(())
}

fn broadcast(v: &[f64], n: usize) -> Result<Vec<f64>> {
    match v.len() {
        1 => Ok(vec![v[0]; n]),
        l if l == n => Ok(v.to_vec()),
        l => Err(Error::InvalidModel(format!("bias of {l} values for {n} outputs"))),
    }
}

fn matrix(t: &TensorProto) -> Result<(usize, usize, Vec<f64>)> {
    let dims: Vec<usize> = t.dims.iter().map(|d| usize::try_from(*d).unwrap_or(0)).collect();
    let [d0, d1] = dims[..] else {
        return Err(Error::Unsupported(format!(
            "weight tensor {:?} of rank {}",
            t.name,
            dims.len()
        )));
    };
    let data = values(t)?;
    if data.len() != d0 * d1 {
        return Err(Error::InvalidModel(format!("tensor {:?} has {} values", t.name, data.len())));
    }
    Ok((d0, d1, data))
}

/// The values of a float or double tensor, from typed fields or raw little-endian bytes.
fn values(t: &TensorProto) -> Result<Vec<f64>> {
    match t.data_type {
        proto::FLOAT if !t.float_data.is_empty() => {
            Ok(t.float_data.iter().map(|v| f64::from(*v)).collect())
        }
        proto::FLOAT => Ok(t
            .raw_data
            .chunks_exact(4)
            .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect()),
        proto::DOUBLE if !t.double_data.is_empty() => Ok(t.double_data.clone()),
        proto::DOUBLE => Ok(t
            .raw_data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect()),
        other => Err(Error::Unsupported(format!("tensor {:?} of data type {other}", t.name))),
    }
}
