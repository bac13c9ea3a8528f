//! Linear models: `acc = W q + B`, evaluated without bootstrapping.

use serde::{Deserialize, Serialize};

use super::{CompileOptions, CompiledModel, Encoding, QProgram, Readout, signed_bits};
use crate::model::{LinearModel, Model};
use crate::params::{self, ParamSetId};
use crate::quant::InputSchema;
use crate::{Error, Result};

/// Integer linear program.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QLinear {
    /// Integer weights, one row per output.
    pub weights: Vec<Vec<i64>>,
    /// Integer intercepts.
    pub bias: Vec<i64>,
    /// Rounded-scores output only: per score, the centre (in rounded units) its floored value
    /// is offset by; decryption adds it back (`compiled::rounded`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub center: Vec<i64>,
}

impl QLinear {
    pub(super) fn eval(&self, q: &[u64]) -> Vec<i64> {
        (0..self.weights.len()).map(|k| self.eval_row(k, q)).collect()
    }

    /// Output `k` of one quantized row.
    pub(super) fn eval_row(&self, k: usize, q: &[u64]) -> i64 {
        self.weights[k].iter().zip(q).map(|(w, q)| w * *q as i64).sum::<i64>() + self.bias[k]
    }

    /// Largest `sum_i |W_ki|` over outputs: the factor by which input noise grows.
    pub(crate) fn l1_norm(&self) -> u64 {
        self.weights.iter().map(|w| w.iter().map(|v| v.unsigned_abs()).sum()).max().unwrap_or(0)
    }
}

pub(super) fn compile(
    model: &Model,
    l: &LinearModel,
    calibration: &[Vec<f64>],
    opts: CompileOptions,
    threshold: f64,
) -> Result<CompiledModel> {
    let schema = InputSchema::calibrate(&model.features, calibration, opts.linear_input_bits)?;
    // fold the input quantizers in: w x + b = (w step) q + (b + w min)
    let eff: Vec<Vec<f64>> = l
        .weights
        .iter()
        .map(|row| row.iter().zip(&schema.features).map(|(w, f)| w * f.step()).collect())
        .collect();
    let eff_bias: Vec<f64> = l
        .weights
        .iter()
        .zip(&l.bias)
        .map(|(row, b)| b + row.iter().zip(&schema.features).map(|(w, f)| w * f.min).sum::<f64>())
        .collect();
    let top = (1u64 << opts.linear_input_bits) - 1;
    // try the requested weight precision, fall back to fewer bits if noise or range do not fit
    for w_bits in (2..=opts.linear_weight_bits).rev() {
        let max_abs = eff.iter().flatten().fold(0f64, |m, v| m.max(v.abs()));
        let scale =
            if max_abs > 0.0 { max_abs / f64::from((1u32 << (w_bits - 1)) - 1) } else { 1.0 };
        let weights: Vec<Vec<i64>> =
            eff.iter().map(|r| r.iter().map(|v| (v / scale).round() as i64).collect()).collect();
        let bias: Vec<i64> = eff_bias.iter().map(|b| (b / scale).round() as i64).collect();
        let (mut lo, mut hi) = (0i64, 0i64);
        for (w, b) in weights.iter().zip(&bias) {
            let neg: i64 = w.iter().filter(|v| **v < 0).sum::<i64>() * top as i64;
            let pos: i64 = w.iter().filter(|v| **v > 0).sum::<i64>() * top as i64;
            lo = lo.min(b + neg);
            hi = hi.max(b + pos);
        }
        let q = QLinear { weights, bias, center: Vec::new() };
        let p = signed_bits(lo, hi);
        let Some(encoding) = wide_encoding(p, q.l1_norm()) else { continue };
        return Ok(CompiledModel {
            param_set: ParamSetId::default(),
            schema,
            task: model.task.clone(),
            post_transform: l.post_transform,
            scale,
            threshold,
            encoding,
            program: QProgram::Linear(q),
        });
    }
    Err(Error::Quantization(
        "linear model does not fit the 128-bit torus at any weight precision".into(),
    ))
}

/// Encodings of the 128-bit domain (sanitized results) for a `p`-bit signed accumulator whose
/// input noise grows by `l1`.
///
/// Scores are put as high as they fit, `Delta = 2^(127 - p)`; the flood is `F = Delta / 4`; the
/// result is switched to `2^(p + 16)`, whose rounding adds at most `(N/2 + 1/2)` steps of
/// `2^(112 - p)`, under `Delta / 8`. The model-dependent noise bound
/// `b = (l1 + 2N + 1) 2^24` (inputs, re-randomization) must be at most `2^-40 (2F)`, so the
/// flood hides it within statistical distance `2^-40`; then `F + b + rounding < Delta / 2` and
/// decryption is exact.
pub(crate) fn wide_encoding(p: u32, l1: u64) -> Option<Encoding> {
    let log_modulus = p + 16;
    if log_modulus > 64 {
        return None;
    }
    let delta_log = 127 - p;
    let n = params::WIDE_POLYNOMIAL_SIZE as u128;
    let b = (u128::from(l1) + 2 * n + 1) << params::WIDE_NOISE_BOUND_LOG;
    let flood_log = delta_log - 2;
    if b > 1u128 << (flood_log + 1 - params::SANITIZE_SD_LOG) {
        return None;
    }
    Some(Encoding {
        readout: Readout::WideScores,
        input_delta_log: delta_log as u8,
        low_bits: 0,
        output_delta_log: delta_log as u8,
        output_log_modulus: log_modulus as u8,
    })
}
