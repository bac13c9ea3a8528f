//! Label-only linear models: the decision row `d = W q + b` over inputs quantized to a few bits
//! (encrypted at `2^(63 - B)`, as a network's first layer).
//!
//! The row is scaled so that its range over the whole input box (every feature anywhere in its
//! quantized range) fills the window: no input, however extreme, wraps around, so the class is
//! exact for every row. Integer weights in a 10-bit window are coarse (30 features share about
//! 10 bits between input levels and weight precision), so the rounded row is refined greedily:
//! single weights move by one unit while the calibration rows' decision values get closer to
//! the float model's on the raw rows, scaled (integer least squares, which also absorbs part of
//! the input quantization error; fitting the labels themselves overfits the calibration rows). The input precision kept is the one whose refined row puts the most
//! calibration rows on the float model's side.

use super::{LABEL_REACH, binary_labels, decision, encoding, label_of, strict_bias};
use crate::compiled::{CompiledModel, MLP_ACC_BITS, MLP_FLOOR_BITS, QLinear, QProgram};
use crate::model::{LinearModel, Model, PostTransform, Task};
use crate::params::{self, ParamSetId};
use crate::quant::InputSchema;
use crate::{Error, Result};

/// Input precisions tried.
const INPUT_BITS: std::ops::RangeInclusive<u8> = 3..=8;

/// Passes of the greedy refinement (each tries every weight and the bias once each way).
const REFINE_PASSES: usize = 8;

pub(in crate::compiled) fn compile(
    model: &Model,
    l: &LinearModel,
    calibration: &[Vec<f64>],
    threshold: f64,
) -> Result<CompiledModel> {
    let labels = binary_labels(model)?.to_vec();
    let (coef, constant) = decision(l.weights.len(), threshold)?;
    // the decision row in floats: class 1 exactly when w x + b > 0
    let w: Vec<f64> = (0..model.n_features())
        .map(|i| l.weights.iter().zip(coef).map(|(row, c)| c * row[i]).sum())
        .collect();
    let b = l.bias.iter().zip(coef).map(|(b, c)| c * b).sum::<f64>() + constant;
    let mut best: Option<(usize, Row)> = None;
    for bits in INPUT_BITS {
        let Some(mut row) =
            Row::new(&w, b, InputSchema::calibrate(&model.features, calibration, bits)?)
        else {
            continue;
        };
        let fit = row.fit(calibration)?;
        fit.refine(&mut row.q, &row.top);
        let agree = fit.agreement(&row.q);
        if best.as_ref().is_none_or(|(a, _)| agree > *a) {
            best = Some((agree, row));
        }
    }
    let (_, row) = best.ok_or_else(|| {
        Error::Quantization("the decision row fits no input precision's noise budget".into())
    })?;
    Ok(CompiledModel {
        param_set: ParamSetId::default(),
        schema: row.schema,
        task: Task::Classification { labels },
        post_transform: PostTransform::None,
        scale: 1.0,
        threshold: 0.5,
        encoding: encoding(63 - MLP_ACC_BITS, 0),
        program: QProgram::Linear(row.q),
    })
}

/// The decision row over one input schema: the float row, its scale and its rounding.
struct Row {
    schema: InputSchema,
    /// Per feature, its largest level.
    top: Vec<i64>,
    /// The float row `w x + b` (raw features) and the scale `d` is in.
    w: Vec<f64>,
    b: f64,
    alpha: f64,
    q: QLinear,
}

impl Row {
    /// Scale the row so its box range fills the window and round it, with the bias of
    /// [`strict_bias`]; `None` when no scale fits or the weights' sum breaks the noise budget.
    fn new(w: &[f64], b: f64, schema: InputSchema) -> Option<Self> {
        let top: Vec<i64> = schema.features.iter().map(|f| (1i64 << f.bits) - 1).collect();
        let eff: Vec<f64> = w.iter().zip(&schema.features).map(|(w, f)| w * f.step()).collect();
        let eff_b = b + w.iter().zip(&schema.features).map(|(w, f)| w * f.min).sum::<f64>();
        let (lo, hi) = eff.iter().zip(&top).fold((eff_b, eff_b), |(lo, hi), (w, t)| {
            (lo + (w * *t as f64).min(0.0), hi + (w * *t as f64).max(0.0))
        });
        let reach = lo.abs().max(hi.abs());
        // shrink the scale until the rounded row's own box range fits (rounding can move it by
        // half a unit times each feature's largest level)
        let mut alpha = if reach > 0.0 { LABEL_REACH as f64 / reach } else { 1.0 };
        let q = loop {
            let weights: Vec<i64> = eff.iter().map(|v| (alpha * v).round() as i64).collect();
            let q = QLinear { weights: vec![weights], bias: vec![strict_bias(alpha * eff_b)] };
            if fits_window(&q, &top) {
                break q;
            }
            alpha *= 0.95;
            if alpha * reach < 1.0 {
                return None;
            }
        };
        // fresh input noise (|e| <= 2^17 per input) grows by sum |W|, then by 2^(B + 1 - S) in
        // `y`: keep it 2^4 below the first bootstrap's 2^58 margin (as a network's first layer)
        let budget = 58 - 4 - params::GLWE_NOISE_BOUND_LOG - (MLP_ACC_BITS + 1 - MLP_FLOOR_BITS);
        if q.weights[0].iter().map(|w| w.unsigned_abs()).sum::<u64>() > 1u64 << budget {
            return None;
        }
        Some(Self { schema, top, w: w.to_vec(), b, alpha, q })
    }

    /// The calibration rows at this schema's levels, with the float model's decision values
    /// on the raw rows, scaled: what `d` should be (input quantization error included).
    fn fit(&self, calibration: &[Vec<f64>]) -> Result<Fit> {
        let rows: Vec<Vec<u64>> =
            calibration.iter().map(|x| self.schema.quantize(x)).collect::<Result<_>>()?;
        let target = calibration
            .iter()
            .map(|x| self.alpha * (self.w.iter().zip(x).map(|(w, x)| w * x).sum::<f64>() + self.b))
            .collect();
        Ok(Fit { rows, target })
    }
}

/// Calibration rows (levels) and the float model's scaled decision value on each.
struct Fit {
    rows: Vec<Vec<u64>>,
    target: Vec<f64>,
}

impl Fit {
    /// Rows whose class under `q` is the float model's.
    fn agreement(&self, q: &QLinear) -> usize {
        self.rows.iter().zip(&self.target).filter(|(r, t)| agrees(q, r, **t)).count()
    }

    /// The squared distance of `q`'s decision values from the scaled float ones (`d + 1`:
    /// the strict bias's unit back), what refinement lowers.
    fn error(&self, q: &QLinear) -> f64 {
        self.rows
            .iter()
            .zip(&self.target)
            .map(|(r, t)| (q.eval(r)[0] as f64 + 1.0 - t).powi(2))
            .sum()
    }

    /// Move single weights (or the bias) by one unit while the squared error falls and the
    /// row's range over the input box stays inside the window.
    fn refine(&self, q: &mut QLinear, top: &[i64]) {
        let mut best = self.error(q);
        for _ in 0..REFINE_PASSES {
            let mut moved = false;
            for i in 0..=q.weights[0].len() {
                for step in [-1i64, 1] {
                    nudge(q, i, step);
                    let e = self.error(q);
                    if e < best && fits_window(q, top) {
                        (best, moved) = (e, true);
                    } else {
                        nudge(q, i, -step);
                    }
                }
            }
            if !moved {
                break;
            }
        }
    }
}

/// Whether `q` puts the row on the float model's side of the decision (`t > 0`: class 1).
fn agrees(q: &QLinear, row: &[u64], t: f64) -> bool {
    (label_of(q.eval(row)[0]) == 1) == (t > 0.0)
}

/// Whether `d` stays in `[-2^B, 2^B)` for every input in the box (`top`: each feature's
/// largest level).
pub(super) fn fits_window(q: &QLinear, top: &[i64]) -> bool {
    let (lo, hi) = q.weights[0].iter().zip(top).fold((q.bias[0], q.bias[0]), |(lo, hi), (w, t)| {
        (lo + (w * t).min(0), hi + (w * t).max(0))
    });
    let window = 1i64 << MLP_ACC_BITS;
    lo >= -window && hi < window
}

/// Add `step` to weight `i` (the bias when `i` is past the last weight).
fn nudge(q: &mut QLinear, i: usize, step: i64) {
    match q.weights[0].get_mut(i) {
        Some(w) => *w += step,
        None => q.bias[0] += step,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scaled row never leaves the window over the input box, before or after refinement,
    /// and refinement never moves the decision values away from the float ones.
    #[test]
    fn the_row_fits_the_window_for_every_input() {
        let (_, train) = crate::compiled::fixture_logreg();
        let w: Vec<f64> = (0..30).map(|i| if i % 3 == 0 { -2.0 } else { 1.0 + i as f64 }).collect();
        for bits in [3, 5, 8] {
            let schema = InputSchema::calibrate(&train.names, &train.x, bits).unwrap();
            let mut row = Row::new(&w, 0.7, schema).unwrap();
            assert!(fits_window(&row.q, &row.top));
            let fit = row.fit(&train.x).unwrap();
            let before = fit.error(&row.q);
            fit.refine(&mut row.q, &row.top);
            assert!(fits_window(&row.q, &row.top));
            assert!(fit.error(&row.q) <= before);
        }
    }
}
