//! Networks with one hidden ReLU layer: `scores = W2 relu(W1 x + b1) + b2`.
//!
//! One bootstrap of parameter set 1 resolves 4 bits plus a padding bit, so a hidden neuron's
//! integer pre-activation `z` (a 30-term dot product) cannot go through one table lookup. The
//! engine instead computes `t = floor(z / 2^S)` exactly and looks up the activation of `t`:
//! - `z` is encrypted at `2^(63 - B)` (`B` = [`MLP_ACC_BITS`], one padding bit);
//! - multiplying by `2^(B + 1 - S)` moves the low digit `d = z mod 2^S` to the top of the torus;
//!   a sign bootstrap reads its top bit (twice: at the scale of that product, to clear the bit
//!   there, and at the scale of `z`), and a second bootstrap reads the remaining `S - 1` bits,
//!   now with a clean padding bit. `z - d` is then `t * 2^(63 - B + S)` with the noise of two
//!   bootstraps. Every bootstrap input keeps a margin of `2^58` around its decision boundaries,
//!   the margin the parameter set's failure probability (2^-129.6) is computed for;
//! - one bootstrap per (neuron, output) evaluates a table of 16 integers over `t + K_h`, whose
//!   entries already hold `W2[k][h]` times the dequantized activation, so each output score is a
//!   sum of table outputs (the noise of 16 bootstraps, as for tree leaves).
//!
//! A neuron's scale `alpha_h` and table offset `K_h` come from its calibration range, so its
//! positive range gets as many of the 16 entries as the negative range allows. A `z` outside the
//! 5-bit window wraps around: the negacyclic table then returns the negated entry of the wrapped
//! index, and a score pushed beyond its `out_bits` range wraps as decryption wraps it.
//! [`QMlp::eval`] computes exactly that, so encrypted and clear results are always equal; the
//! score range is sized for pre-activations that do not wrap (those seen in calibration), which
//! keeps one more bit of output precision than sizing it for wrapped (negated) entries.

use serde::{Deserialize, Serialize};

use super::{CompiledModel, Encoding, QLinear, QProgram};
use crate::model::{LinearModel, Mlp, Model};
use crate::params::{self, ParamSetId};
use crate::quant::InputSchema;
use crate::{Error, Result};

/// Input bits of network models.
pub const MLP_INPUT_BITS: u8 = 4;
/// Bits of the hidden pre-activation window (`z` in `[-2^(B-1), 2^(B-1))` does not wrap).
pub const MLP_ACC_BITS: u32 = 9;
/// Low bits of `z` dropped exactly before the table lookup.
pub const MLP_FLOOR_BITS: u32 = MLP_ACC_BITS - 4;
/// Entries of an activation table (4 bits).
pub const MLP_TABLE: usize = 16;

/// Integer program of a one-hidden-layer ReLU network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QMlp {
    /// Hidden pre-activations `z = W1 q + b1`, one row per neuron.
    pub hidden: QLinear,
    /// Per neuron, the table offset `K_h`: entry `u` stands for `t = u - K_h`.
    pub offset: Vec<i64>,
    /// `tables[h][k][u]`: neuron `h`'s contribution to score `k` at entry `u`.
    pub tables: Vec<Vec<Vec<i64>>>,
    /// Output intercepts.
    pub constant: Vec<i64>,
    /// Per-output centre of the score range; encrypted scores are `score - center`.
    pub center: Vec<i64>,
    /// Bits of an encrypted score: `score - center` is reduced to signed `out_bits` bits, as
    /// decryption reduces it (only a wrapped-around pre-activation can reach beyond).
    pub out_bits: u32,
}

impl QMlp {
    /// What the table lookup of neuron `h` returns for score `k` given its pre-activation `z`,
    /// wrap-around included (exactly what the bootstraps compute).
    pub fn lookup(&self, h: usize, k: usize, z: i64) -> i64 {
        let t = z.div_euclid(1 << MLP_FLOOR_BITS);
        let u = (t + self.offset[h]).rem_euclid(2 * MLP_TABLE as i64) as usize;
        let table = &self.tables[h][k];
        if u < MLP_TABLE { table[u] } else { -table[u - MLP_TABLE] }
    }

    pub(super) fn eval(&self, q: &[u64]) -> Vec<i64> {
        let z = self.hidden.eval(q);
        let (modulus, half) = (1i64 << self.out_bits, 1i64 << (self.out_bits - 1));
        (0..self.constant.len())
            .map(|k| {
                let score = self.constant[k]
                    + z.iter().enumerate().map(|(h, z)| self.lookup(h, k, *z)).sum::<i64>();
                (score - self.center[k] + half).rem_euclid(modulus) - half + self.center[k]
            })
            .collect()
    }

    /// Bootstraps per row: three per neuron for the exact floor, one per (neuron, output).
    pub fn bootstraps(&self) -> usize {
        self.hidden.weights.len() * (3 + self.constant.len())
    }

    /// Per output, the integer score range when no pre-activation wraps around.
    fn range(&self, k: usize) -> (i64, i64) {
        let (mut lo, mut hi) = (self.constant[k], self.constant[k]);
        for tables in &self.tables {
            lo += tables[k].iter().copied().min().unwrap_or(0).min(0);
            hi += tables[k].iter().copied().max().unwrap_or(0).max(0);
        }
        (lo, hi)
    }
}

/// Per neuron: the scale that fits its calibration range `[lo, hi]` into the table window with
/// offset `K`, choosing `K` for the finest scale.
fn neuron_scale(lo: f64, hi: f64) -> (f64, i64) {
    let unit = f64::from(1u32 << MLP_FLOOR_BITS);
    let mut best = (0.0, 1);
    for k in 1..MLP_TABLE as i64 {
        let up =
            if hi > 0.0 { ((MLP_TABLE as i64 - k) as f64 * unit - 1.0) / hi } else { f64::MAX };
        let down = if lo < 0.0 { (k as f64 * unit) / -lo } else { f64::MAX };
        let a = up.min(down);
        if a > best.0 && a < f64::MAX {
            best = (a, k);
        }
    }
    if best.0 == 0.0 { (1.0, MLP_TABLE as i64 / 2) } else { best }
}

pub(super) fn compile(
    model: &Model,
    mlp: &Mlp,
    calibration: &[Vec<f64>],
    threshold: f64,
) -> Result<CompiledModel> {
    let [l1, l2] = <&[LinearModel; 2]>::try_from(mlp.layers.as_slice()).map_err(|_| {
        Error::Unsupported(format!(
            "networks with {} hidden layers (one hidden ReLU layer is supported)",
            mlp.layers.len().saturating_sub(1)
        ))
    })?;
    let schema = InputSchema::calibrate(&model.features, calibration, MLP_INPUT_BITS)?;
    let n_hidden = l1.weights.len();
    let n_out = l2.weights.len();
    // float pre-activations on the calibration rows give each neuron's range
    let (mut lo, mut hi) = (vec![f64::MAX; n_hidden], vec![f64::MIN; n_hidden]);
    for row in calibration {
        for h in 0..n_hidden {
            let z = l1.bias[h] + l1.weights[h].iter().zip(row).map(|(w, x)| w * x).sum::<f64>();
            lo[h] = lo[h].min(z);
            hi[h] = hi[h].max(z);
        }
    }
    let unit = f64::from(1u32 << MLP_FLOOR_BITS);
    let mut weights = Vec::with_capacity(n_hidden);
    let mut bias = Vec::with_capacity(n_hidden);
    let mut offset = Vec::with_capacity(n_hidden);
    let mut alpha = Vec::with_capacity(n_hidden);
    for h in 0..n_hidden {
        let (a, k) = neuron_scale(lo[h], hi[h]);
        // fold the input quantizers in: w x + b = (w step) q + (b + w min)
        weights.push(
            l1.weights[h]
                .iter()
                .zip(&schema.features)
                .map(|(w, f)| (a * w * f.step()).round() as i64)
                .collect::<Vec<_>>(),
        );
        let b = l1.bias[h]
            + l1.weights[h].iter().zip(&schema.features).map(|(w, f)| w * f.min).sum::<f64>();
        bias.push((a * b).round() as i64);
        // the fresh input noise (|e| <= 2^17 per input) grows by sum |W| and is then scaled by
        // 2^(B + 1 - S) before the first bootstrap: keep it 2^4 below that bootstrap's 2^58 margin
        let l1_norm: u64 = weights[h].iter().map(|w: &i64| w.unsigned_abs()).sum();
        let budget = 58 - 4 - params::GLWE_NOISE_BOUND_LOG - (MLP_ACC_BITS + 1 - MLP_FLOOR_BITS);
        if l1_norm > 1u64 << budget {
            return Err(Error::Quantization(format!(
                "hidden neuron {h}: weights sum to {l1_norm} after scaling to its calibration \
                 range (at most 2^{budget} fit the noise budget); is the neuron nearly constant?"
            )));
        }
        offset.push(k);
        alpha.push(a);
    }
    // output precision: 16 summed bootstraps per score, 8-sigma margin, as for tree leaves
    let noise_log = params::PBS_NOISE_STD_LOG + 0.5 * (n_hidden.max(1) as f64).log2() + 3.0;
    let p = (62.0 - noise_log).floor() as i64;
    if p < 3 {
        return Err(Error::Quantization(format!(
            "{n_hidden} hidden neurons leave {p} bits of output precision"
        )));
    }
    let half = (1i64 << (p - 1)) - 1;
    // float contribution of neuron h to score k at table entry u (relu of the floored value)
    let contribution = |h: usize, k: usize, u: usize| {
        let t = u as f64 - offset[h] as f64;
        l2.weights[k][h] * t.max(0.0) * unit / alpha[h]
    };
    let width = (0..n_out)
        .map(|k| {
            (0..n_hidden)
                .map(|h| (0..MLP_TABLE).map(|u| contribution(h, k, u).abs()).fold(0.0, f64::max))
                .sum::<f64>()
        })
        .fold(0.0, f64::max);
    let mut scale =
        if width > 0.0 { width / (2 * half - n_hidden as i64 - 1).max(2) as f64 } else { 1.0 };
    for _ in 0..64 {
        let tables: Vec<Vec<Vec<i64>>> = (0..n_hidden)
            .map(|h| {
                (0..n_out)
                    .map(|k| {
                        (0..MLP_TABLE)
                            .map(|u| (contribution(h, k, u) / scale).round() as i64)
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let constant: Vec<i64> = l2.bias.iter().map(|b| (b / scale).round() as i64).collect();
        let mut program = QMlp {
            hidden: QLinear { weights: weights.clone(), bias: bias.clone() },
            offset: offset.clone(),
            tables,
            constant,
            center: vec![0; n_out],
            out_bits: p as u32,
        };
        let mut fits = true;
        for k in 0..n_out {
            let (lo, hi) = program.range(k);
            let c = lo + (hi - lo) / 2;
            program.center[k] = c;
            fits &= (hi - c).max(c - lo) <= half;
        }
        if fits {
            let extra = 64 - u64::from(params::POLYNOMIAL_SIZE as u32 + 1).leading_zeros();
            return Ok(CompiledModel {
                param_set: ParamSetId::default(),
                schema,
                task: model.task.clone(),
                post_transform: l2.post_transform,
                scale,
                threshold,
                encoding: Encoding {
                    wide: false,
                    input_delta_log: (63 - MLP_ACC_BITS) as u8,
                    low_bits: 0,
                    output_delta_log: (64 - p) as u8,
                    output_log_modulus: (p as u32 + 1 + extra).min(64) as u8,
                },
                program: QProgram::Mlp(program),
            });
        }
        scale *= 1.05;
    }
    Err(Error::Quantization("could not fit the network's scores into the output precision".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PostTransform, Program, Task};

    fn two_feature_mlp(w: [f64; 2], bias: f64) -> Model {
        let layer = |weights: Vec<Vec<f64>>, bias: Vec<f64>| LinearModel {
            weights,
            bias,
            post_transform: PostTransform::None,
        };
        Model {
            features: vec!["a".into(), "b".into()],
            task: Task::Regression,
            program: Program::Mlp(Mlp {
                layers: vec![
                    layer(vec![w.to_vec()], vec![bias]),
                    layer(vec![vec![1.0]], vec![0.0]),
                ],
            }),
        }
    }

    #[test]
    fn a_neuron_constant_on_calibration_data_is_refused_not_overflowed() {
        // a - b is 0 on every calibration row, so the neuron's range is its bias alone and the
        // scale that fits it would blow the weights (and the noise) up
        let rows: Vec<Vec<f64>> = (0..20).map(|i| vec![f64::from(i), f64::from(i)]).collect();
        let m = two_feature_mlp([1.0, -1.0], 1e-9);
        match CompiledModel::compile(&m, &rows, Default::default()) {
            Err(Error::Quantization(msg)) => assert!(msg.contains("noise budget"), "{msg}"),
            other => panic!("expected a quantization error, got {other:?}"),
        }
        // a neuron with a real range compiles, and its clear program tracks the float one
        let m = two_feature_mlp([1.0, 0.5], -3.0);
        let c = CompiledModel::compile(&m, &rows, Default::default()).unwrap();
        for r in &rows {
            let float = (r[0] + 0.5 * r[1] - 3.0).max(0.0);
            let got = c.dequantize(&c.predict_clear(r).unwrap())[0];
            // activation steps of ~1.7 (15 entries over 0..25.5), floored, plus 4-bit inputs
            assert!((got - float).abs() <= 4.0, "{got} vs {float}");
        }
    }

    #[test]
    fn lookup_wraps_negacyclically() {
        let m = QMlp {
            hidden: QLinear { weights: vec![vec![1]], bias: vec![0] },
            offset: vec![4],
            tables: vec![vec![(0..16).map(|u| 100 + u).collect()]],
            constant: vec![0],
            center: vec![0],
            out_bits: 8,
        };
        let unit = 1i64 << MLP_FLOOR_BITS;
        assert_eq!(m.lookup(0, 0, 0), 104); // t = 0 -> entry 4
        assert_eq!(m.lookup(0, 0, unit - 1), 104); // floor
        assert_eq!(m.lookup(0, 0, -1), 103); // t = -1
        assert_eq!(m.lookup(0, 0, 11 * unit), 115); // t = 11 -> entry 15
        assert_eq!(m.lookup(0, 0, 12 * unit), -100); // entry 16 wraps to -entry 0
        assert_eq!(m.lookup(0, 0, -5 * unit), -115); // entry -1 = 31 -> -entry 15
    }
}
