//! Washed outputs of linear models: the window values `d = W q + b` (one row per value) over
//! inputs quantized to a few bits, encrypted at `2^(63 - B)` as a network's first layer's, so
//! `d` is leveled on fresh inputs and only the floor and the bits bootstrap.
//!
//! The rows share one scale, set so that every row's range over the whole input box (every
//! feature anywhere in its quantized range) fits the window: no input, however extreme, wraps
//! around. Integer weights in a 10-bit window are coarse (30 features share about 10 bits
//! between input levels and weight precision), so the rounded rows are refined greedily: single
//! weights move by one unit while the calibration rows' values get closer to the float model's
//! on the raw rows, scaled (integer least squares, which also absorbs part of the input
//! quantization error; fitting the labels themselves overfits the calibration rows). The input
//! precision kept is the one whose refined rows do best on the calibration rows: the most rows
//! on the float model's side for a label, the smallest squared error for rounded scores.

use super::label::{argmax_of, class_labels, label_of};
use super::rounded::rounded_of;
use super::{Kind, Values, encoding};
use crate::compiled::{CompiledModel, MLP_ACC_BITS, MLP_FLOOR_BITS, OutputMode, QLinear, QProgram};
use crate::model::{LinearModel, Model, PostTransform, Task, class_of};
use crate::params::{self, ParamSetId};
use crate::quant::InputSchema;
use crate::{Error, Result};

/// Input precisions tried.
const INPUT_BITS: std::ops::RangeInclusive<u8> = 3..=8;

/// Passes of the greedy refinement (each tries every weight and bias once each way).
const REFINE_PASSES: usize = 8;

/// A label-only linear model: the decision row of a binary classifier, or every class score
/// of a multinomial one.
pub(in crate::compiled) fn compile_label(
    model: &Model,
    l: &LinearModel,
    calibration: &[Vec<f64>],
    threshold: f64,
) -> Result<CompiledModel> {
    let labels = class_labels(model, l.weights.len())?.to_vec();
    let classes = Values::new(OutputMode::LabelOnly, l.weights.len(), threshold)?.classes();
    let (schema, q, _) = compile(model, l, calibration, OutputMode::LabelOnly, threshold)?;
    Ok(CompiledModel {
        param_set: ParamSetId::default(),
        schema,
        task: Task::Classification { labels },
        post_transform: PostTransform::None,
        scale: 1.0,
        threshold: 0.5,
        encoding: encoding(OutputMode::LabelOnly, 63 - MLP_ACC_BITS, 0, classes),
        program: QProgram::Linear(q),
    })
}

/// A linear model's rounded scores.
pub(in crate::compiled) fn compile_rounded(
    model: &Model,
    l: &LinearModel,
    calibration: &[Vec<f64>],
    threshold: f64,
) -> Result<CompiledModel> {
    let (schema, q, alpha) = compile(model, l, calibration, OutputMode::RoundedScores, threshold)?;
    Ok(CompiledModel {
        param_set: ParamSetId::default(),
        schema,
        task: model.task.clone(),
        post_transform: l.post_transform,
        // one rounded unit is 32 window units
        scale: (1 << MLP_FLOOR_BITS) as f64 / alpha,
        threshold,
        encoding: encoding(OutputMode::RoundedScores, 63 - MLP_ACC_BITS, 0, 0),
        program: QProgram::Linear(q),
    })
}

/// The best input precision's refined rows: the schema, the program and its scale.
fn compile(
    model: &Model,
    l: &LinearModel,
    calibration: &[Vec<f64>],
    output: OutputMode,
    threshold: f64,
) -> Result<(InputSchema, QLinear, f64)> {
    let values = Values::new(output, l.weights.len(), threshold)?;
    // each value's row in floats over the raw features
    let float: Vec<(Vec<f64>, f64)> = (0..values.rows.len())
        .map(|k| {
            let w = (0..model.n_features())
                .map(|i| values.share(k, &l.weights.iter().map(|r| r[i]).collect::<Vec<_>>()))
                .collect();
            (w, values.of(k, &l.bias))
        })
        .collect();
    let mut best: Option<(f64, Rows)> = None;
    for bits in INPUT_BITS {
        let schema = InputSchema::calibrate(&model.features, calibration, bits)?;
        let Some(mut rows) = Rows::new(&values, &float, schema) else { continue };
        let fit = rows.fit(calibration)?;
        fit.refine(&mut rows.q, &rows.combos, &rows.top);
        let loss = fit.loss(&rows, &values);
        if best.as_ref().is_none_or(|(b, _)| loss < *b) {
            best = Some((loss, rows));
        }
    }
    let (_, rows) = best.ok_or_else(|| {
        Error::Quantization("the rows fit no input precision's noise budget".into())
    })?;
    Ok((rows.schema, rows.q, rows.alpha))
}

/// The value rows over one input schema: the float rows, their scale and their rounding.
struct Rows {
    schema: InputSchema,
    /// Per feature, its largest level.
    top: Vec<i64>,
    /// The combinations of rows that must fit the window ([`Values::combos`]).
    combos: Vec<Vec<i64>>,
    /// The float rows `w x + b` (raw features), one per value.
    float: Vec<(Vec<f64>, f64)>,
    /// Per value, `d - alpha (w x + b)` for every `x`: the integer constant's offset.
    shift: Vec<f64>,
    alpha: f64,
    q: QLinear,
}

impl Rows {
    /// Scale the rows so every combination's box range fits the window and round them; `None`
    /// when no scale fits or a combination's weights break the noise budget.
    fn new(values: &Values, float: &[(Vec<f64>, f64)], schema: InputSchema) -> Option<Self> {
        let top: Vec<i64> = schema.features.iter().map(|f| (1i64 << f.bits) - 1).collect();
        let combos = values.combos();
        // over levels: w x + b = (w step) q + (b + w min)
        let eff: Vec<(Vec<f64>, f64)> = float
            .iter()
            .map(|(w, b)| {
                let e = w.iter().zip(&schema.features).map(|(w, f)| w * f.step()).collect();
                (e, b + w.iter().zip(&schema.features).map(|(w, f)| w * f.min).sum::<f64>())
            })
            .collect();
        let range = |(e, b): (Vec<f64>, f64)| {
            e.iter().zip(&top).fold((b, b), |(lo, hi), (w, t)| {
                (lo + (w * *t as f64).min(0.0), hi + (w * *t as f64).max(0.0))
            })
        };
        let own: Vec<(f64, f64)> = eff.iter().map(|r| range(r.clone())).collect();
        let ranges: Vec<(f64, f64)> = combos.iter().map(|c| range(combine(&eff, c))).collect();
        // shrink the scale until the rounded rows' own box ranges fit (rounding can move them
        // by half a unit times each feature's largest level)
        let mut alpha = values.scale(&ranges, 0.0);
        let q = loop {
            let mut q = QLinear { weights: Vec::new(), bias: Vec::new(), center: Vec::new() };
            for ((e, b), range) in eff.iter().zip(&own) {
                let centre = values.centre(alpha, *range);
                q.weights.push(e.iter().map(|v| (alpha * v).round() as i64).collect());
                q.bias.push(values.constant(alpha * b, centre));
                q.center.push(centre);
            }
            if box_fits(&q, &combos, &top) {
                break q;
            }
            alpha *= 0.95;
            if alpha * ranges.iter().map(|(lo, hi)| hi - lo).fold(0f64, f64::max) < 1.0 {
                return None;
            }
        };
        // fresh input noise (|e| <= 2^17 per input) grows by sum |W|, then by 2^(B + 1 - S) in
        // `y`: keep it 2^4 below the first bootstrap's 2^58 margin (as a network's first layer)
        let budget = 58 - 4 - params::GLWE_NOISE_BOUND_LOG - (MLP_ACC_BITS + 1 - MLP_FLOOR_BITS);
        let rows: Vec<(Vec<i64>, i64)> =
            q.weights.iter().cloned().zip(q.bias.iter().copied()).collect();
        let l1 = |c: &Vec<i64>| combine(&rows, c).0.iter().map(|v| v.unsigned_abs()).sum::<u64>();
        if combos.iter().any(|c| l1(c) > 1 << budget) {
            return None;
        }
        let shift = q.bias.iter().zip(&eff).map(|(c, (_, b))| *c as f64 - alpha * b).collect();
        let q = if values.label() { QLinear { center: Vec::new(), ..q } } else { q };
        Some(Self { schema, top, combos, float: float.to_vec(), shift, alpha, q })
    }

    /// The calibration rows at this schema's levels, with each value's float target on the
    /// raw rows (input quantization error included).
    fn fit(&self, calibration: &[Vec<f64>]) -> Result<Fit> {
        let rows: Vec<Vec<u64>> =
            calibration.iter().map(|x| self.schema.quantize(x)).collect::<Result<_>>()?;
        let target = calibration
            .iter()
            .map(|x| {
                self.float
                    .iter()
                    .zip(&self.shift)
                    .map(|((w, b), s)| {
                        self.alpha * (w.iter().zip(x).map(|(w, x)| w * x).sum::<f64>() + b) + s
                    })
                    .collect()
            })
            .collect();
        Ok(Fit { rows, target })
    }
}

/// Calibration rows (levels) and the float model's scaled value targets on each.
struct Fit {
    rows: Vec<Vec<u64>>,
    target: Vec<Vec<f64>>,
}

impl Fit {
    /// What the input precision is chosen by (lower is better): minus the rows a label puts on
    /// the float model's side, or the rounded scores' squared error in score units.
    fn loss(&self, rows: &Rows, values: &Values) -> f64 {
        let mut loss = 0f64;
        for (r, t) in self.rows.iter().zip(&self.target) {
            let d = rows.q.eval(r);
            if values.kind == Kind::Argmax {
                let float: Vec<f64> = t.iter().zip(&rows.shift).map(|(t, s)| t - s).collect();
                // the float model's argmax, first of equal maxima
                loss -= f64::from(u8::from(argmax_of(&d) as usize == class_of(&float, 0.0)));
                continue;
            }
            for (k, (d, t)) in d.iter().zip(t).enumerate() {
                let float = t - rows.shift[k];
                if values.label() {
                    loss -= f64::from(u8::from((label_of(*d) == 1) == (float > 0.0)));
                } else {
                    let unit = (1 << MLP_FLOOR_BITS) as f64;
                    let rounded = (rounded_of(*d) + rows.q.center[k]) as f64 * unit;
                    loss += ((rounded - float) / rows.alpha).powi(2);
                }
            }
        }
        loss
    }

    /// The squared distance of value `k`'s integers from their targets.
    fn error(&self, q: &QLinear, k: usize) -> f64 {
        self.rows
            .iter()
            .zip(&self.target)
            .map(|(r, t)| (q.eval_row(k, r) as f64 - t[k]).powi(2))
            .sum()
    }

    /// Move single weights (or a bias) by one unit while a row's squared error falls and the
    /// ranges over the input box of the combinations it is in stay inside the window.
    fn refine(&self, q: &mut QLinear, combos: &[Vec<i64>], top: &[i64]) {
        for k in 0..q.weights.len() {
            let touched: Vec<Vec<i64>> = combos.iter().filter(|c| c[k] != 0).cloned().collect();
            let mut best = self.error(q, k);
            for _ in 0..REFINE_PASSES {
                let mut moved = false;
                for i in 0..=q.weights[k].len() {
                    for step in [-1i64, 1] {
                        nudge(q, k, i, step);
                        let e = self.error(q, k);
                        if e < best && box_fits(q, &touched, top) {
                            (best, moved) = (e, true);
                        } else {
                            nudge(q, k, i, -step);
                        }
                    }
                }
                if !moved {
                    break;
                }
            }
        }
    }
}

/// Whether every combination of rows stays in the window for every input in the box (`top`:
/// each feature's largest level).
fn box_fits(q: &QLinear, combos: &[Vec<i64>], top: &[i64]) -> bool {
    combos.iter().all(|coef| {
        let (lo, hi) = (0..top.len()).fold((0, 0), |(lo, hi), i| {
            let w: i64 = coef.iter().zip(&q.weights).map(|(c, row)| c * row[i]).sum();
            (lo + (w * top[i]).min(0), hi + (w * top[i]).max(0))
        });
        let b: i64 = coef.iter().zip(&q.bias).map(|(c, b)| c * b).sum();
        Values::fits(lo + b, hi + b)
    })
}

/// The row `sum_k coef_k row_k` (weights and constant).
fn combine<T>(rows: &[(Vec<T>, T)], coef: &[i64]) -> (Vec<T>, T)
where
    T: Copy + Default + std::ops::Add<Output = T> + std::ops::Mul<Output = T> + From<i32>,
{
    let c = |k: usize| T::from(coef[k] as i32);
    let width = rows.first().map_or(0, |r| r.0.len());
    let w = (0..width)
        .map(|i| (0..rows.len()).fold(T::default(), |acc, k| acc + c(k) * rows[k].0[i]))
        .collect();
    (w, (0..rows.len()).fold(T::default(), |acc, k| acc + c(k) * rows[k].1))
}

/// Add `step` to weight `i` of row `k` (its bias when `i` is past the last weight).
fn nudge(q: &mut QLinear, k: usize, i: usize, step: i64) {
    match q.weights[k].get_mut(i) {
        Some(w) => *w += step,
        None => q.bias[k] += step,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scaled rows never leave the window over the input box, before or after refinement,
    /// and refinement never moves the values away from the float ones.
    #[test]
    fn the_rows_fit_the_window_for_every_input() {
        let (_, train) = crate::compiled::fixture_logreg();
        let w: Vec<f64> = (0..30).map(|i| if i % 3 == 0 { -2.0 } else { 1.0 + i as f64 }).collect();
        let float = [
            (w.clone(), 0.7),
            (w.iter().map(|v| -v / 2.0).collect(), 3.0),
            (w.iter().rev().copied().collect(), -1.0),
        ];
        for (output, scores) in
            [(OutputMode::LabelOnly, 2), (OutputMode::LabelOnly, 3), (OutputMode::RoundedScores, 2)]
        {
            let values = Values::new(output, scores, 0.0).unwrap();
            let float = &float[..values.rows.len()];
            for bits in [3, 5, 8] {
                let schema = InputSchema::calibrate(&train.names, &train.x, bits).unwrap();
                let mut rows = Rows::new(&values, float, schema).unwrap();
                let fits = |q: &QLinear| box_fits(q, &rows.combos, &rows.top);
                assert!(fits(&rows.q));
                let fit = rows.fit(&train.x).unwrap();
                let before: Vec<f64> = (0..float.len()).map(|k| fit.error(&rows.q, k)).collect();
                fit.refine(&mut rows.q, &rows.combos, &rows.top);
                assert!(fits(&rows.q));
                for (k, b) in before.iter().enumerate() {
                    assert!(fit.error(&rows.q, k) <= *b);
                }
            }
        }
    }
}
