//! Networks of ReLU layers: `scores = W_L relu(... relu(W_1 x + b_1) ...) + b_L`.
//!
//! One bootstrap of parameter set 1 resolves 4 bits plus a padding bit, so a hidden neuron's
//! integer pre-activation `z` (a 30-term dot product) cannot go through one table lookup. The
//! engine instead computes `t = floor(z / 2^S)` exactly and looks up the activation of `t`:
//! - `z` is encrypted at `2^(63 - B)` (`B` = [`MLP_ACC_BITS`], one padding bit);
//! - `y = z * 2^(64 - S)` holds the low digit `d = z mod 2^S` at the top of the torus; a sign
//!   bootstrap reads its top bit (twice: at the scale of `y`, to clear the bit there, and at the
//!   scale of `z`), and a second bootstrap reads the remaining `S - 1` bits, now with a clean
//!   padding bit. `z - d` is then `t * 2^(63 - B + S)` with the noise of two bootstraps. Every
//!   bootstrap input keeps a margin of `2^58` around its decision boundaries, the margin the
//!   parameter set's failure probability (2^-129.6) is computed for;
//! - in the first hidden layer `z = W_1 q + b_1` is leveled on fresh inputs and `y` is `z`
//!   multiplied by `2^(B + 1 - S)` (fresh noise is small enough to be multiplied);
//! - a deeper layer's `z_j` is a sum of table lookups, one bootstrap per (neuron `h` of the
//!   layer before, neuron `j`) whose entries hold `W[j][h]` times `h`'s activation. Bootstrap
//!   outputs carry `2^49.5` of noise, too much to multiply by `2^5`, so each pair takes a second
//!   bootstrap of the same table that outputs the entries at `2^(64 - S)`: summed, they are
//!   `y_j` directly, with the noise of `n_prev` bootstraps, not `2^5` times it;
//! - one bootstrap per (neuron of the last hidden layer, output) evaluates a table of 16
//!   integers over `t + K_h`, whose entries already hold `W_L[k][h]` times the dequantized
//!   activation, so each output score is a sum of table outputs (as for tree leaves).
//!
//! A neuron's scale `alpha_h` and table offset `K_h` come from its calibration range, so its
//! positive range gets as many of the 16 entries as the negative range allows. A `z` outside the
//! 5-bit window wraps around: the negacyclic table then returns the negated entry of the wrapped
//! index, and a score pushed beyond its `out_bits` range wraps as decryption wraps it.
//! [`QMlp::eval`] computes exactly that, so encrypted and clear results are always equal; the
//! score range is sized for pre-activations that do not wrap (those seen in calibration), which
//! keeps one more bit of output precision than sizing it for wrapped (negated) entries.

mod compile;

pub(super) use compile::compile;
use serde::{Deserialize, Serialize};

use super::QLinear;

/// Input bits of network models.
pub const MLP_INPUT_BITS: u8 = 4;
/// Bits of the hidden pre-activation window (`z` in `[-2^(B-1), 2^(B-1))` does not wrap).
pub const MLP_ACC_BITS: u32 = 9;
/// Low bits of `z` dropped exactly before the table lookup.
pub const MLP_FLOOR_BITS: u32 = MLP_ACC_BITS - 4;
/// Entries of an activation table (4 bits).
pub const MLP_TABLE: usize = 16;

/// Whether the floor of a sum of `terms` bootstrap outputs is exact: 8 standard deviations of
/// their noise (with the floor's own top-bit output) stay inside the `2^58` margin.
pub(crate) fn floor_input_fits(terms: usize) -> bool {
    crate::params::PBS_NOISE_STD_LOG + 0.5 * ((terms + 2) as f64).log2() + 3.0 <= 58.0
}

/// A hidden layer after the first: its pre-activations are sums of table lookups.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QHidden {
    /// `tables[h][j][u]`: neuron `h` of the layer before, at entry `u`, adds this to `z_j`.
    pub tables: Vec<Vec<Vec<i64>>>,
    /// `b_j`, added to `z_j`.
    pub bias: Vec<i64>,
    /// Per neuron `j`, the table offset `K_j`: entry `u` stands for `t = u - K_j`.
    pub offset: Vec<i64>,
}

impl QHidden {
    /// This layer's pre-activations from those of the layer before and its table offsets.
    pub(crate) fn eval(&self, z: &[i64], offset: &[i64]) -> Vec<i64> {
        (0..self.bias.len())
            .map(|j| {
                self.bias[j]
                    + z.iter()
                        .enumerate()
                        .map(|(h, z)| lookup(&self.tables[h][j], offset[h], *z))
                        .sum::<i64>()
            })
            .collect()
    }
}

/// Integer program of a ReLU network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QMlp {
    /// First hidden layer's pre-activations `z = W1 q + b1`, one row per neuron.
    pub hidden: QLinear,
    /// Per first-layer neuron, the table offset `K_h`: entry `u` stands for `t = u - K_h`.
    pub offset: Vec<i64>,
    /// Hidden layers after the first (empty for one hidden layer, as programs compiled before
    /// deeper networks were supported).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deeper: Vec<QHidden>,
    /// `tables[h][k][u]`: last hidden layer's neuron `h`'s contribution to score `k` at entry `u`.
    pub tables: Vec<Vec<Vec<i64>>>,
    /// Output intercepts.
    pub constant: Vec<i64>,
    /// Per-output centre of the score range; encrypted scores are `score - center`.
    pub center: Vec<i64>,
    /// Bits of an encrypted score: `score - center` is reduced to signed `out_bits` bits, as
    /// decryption reduces it (only a wrapped-around pre-activation can reach beyond).
    pub out_bits: u32,
    /// Washed outputs (`compiled::window`): a layer of one neuron per window value (a label's
    /// decision, or each score for rounded scores), whose pre-activations the program then
    /// computes; `tables` and `constant` are then empty and `center` holds rounded scores'
    /// centres (zero for a label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<QHidden>,
}

/// What a table lookup returns for pre-activation `z` with offset `offset`, wrap-around included
/// (exactly what the exact floor and the bootstrap compute).
fn lookup(table: &[i64], offset: i64, z: i64) -> i64 {
    let t = z.div_euclid(1 << MLP_FLOOR_BITS);
    let u = (t + offset).rem_euclid(2 * MLP_TABLE as i64) as usize;
    if u < MLP_TABLE { table[u] } else { -table[u - MLP_TABLE] }
}

impl QMlp {
    /// What the table lookup of last-layer neuron `h` returns for score `k` given its
    /// pre-activation `z`.
    pub(crate) fn lookup(&self, h: usize, k: usize, z: i64) -> i64 {
        lookup(&self.tables[h][k], self.last_offset()[h], z)
    }

    /// Table offsets of the last hidden layer.
    fn last_offset(&self) -> &[i64] {
        self.deeper.last().map_or(&self.offset, |l| &l.offset)
    }

    /// Neurons per hidden layer.
    pub(crate) fn widths(&self) -> Vec<usize> {
        std::iter::once(self.hidden.weights.len())
            .chain(self.deeper.iter().map(|l| l.bias.len()))
            .collect()
    }

    /// Pre-activations of the last hidden layer.
    fn last_hidden(&self, q: &[u64]) -> Vec<i64> {
        let mut z = self.hidden.eval(q);
        let mut offset = &self.offset;
        for layer in &self.deeper {
            z = layer.eval(&z, offset);
            offset = &layer.offset;
        }
        z
    }

    pub(super) fn eval(&self, q: &[u64]) -> Vec<i64> {
        let z = self.last_hidden(q);
        if let Some(window) = &self.window {
            return window.eval(&z, self.last_offset());
        }
        let (modulus, half) = (1i64 << self.out_bits, 1i64 << (self.out_bits - 1));
        (0..self.constant.len())
            .map(|k| {
                let score = self.constant[k]
                    + z.iter().enumerate().map(|(h, z)| self.lookup(h, k, *z)).sum::<i64>();
                (score - self.center[k] + half).rem_euclid(modulus) - half + self.center[k]
            })
            .collect()
    }

    /// Bootstraps per row: three per neuron for the exact floor, two per (neuron, neuron of the
    /// next hidden layer), one per (last-layer neuron, output); a window layer instead takes
    /// two per (last-layer neuron, window value), as a deeper layer (its values' floors, bits
    /// and washes are counted by `CompiledModel::bootstraps_per_row`).
    pub(crate) fn bootstraps(&self) -> usize {
        let widths = self.widths();
        let floors = 3 * widths.iter().sum::<usize>();
        let inner: usize = widths.windows(2).map(|w| 2 * w[0] * w[1]).sum();
        let last = widths.last().copied().unwrap_or(0);
        let out = match &self.window {
            Some(w) => 2 * last * w.bias.len(),
            None => last * self.constant.len(),
        };
        floors + inner + out
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use crate::compiled::CompiledModel;
    use crate::compiled::QProgram;
    use crate::model::{LinearModel, Mlp, Model};
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
            hidden: QLinear { weights: vec![vec![1]], bias: vec![0], center: Vec::new() },
            offset: vec![4],
            deeper: vec![],
            tables: vec![vec![(0..16).map(|u| 100 + u).collect()]],
            constant: vec![0],
            center: vec![0],
            out_bits: 8,
            window: None,
        };
        let unit = 1i64 << MLP_FLOOR_BITS;
        assert_eq!(m.lookup(0, 0, 0), 104); // t = 0 -> entry 4
        assert_eq!(m.lookup(0, 0, unit - 1), 104); // floor
        assert_eq!(m.lookup(0, 0, -1), 103); // t = -1
        assert_eq!(m.lookup(0, 0, 11 * unit), 115); // t = 11 -> entry 15
        assert_eq!(m.lookup(0, 0, 12 * unit), -100); // entry 16 wraps to -entry 0
        assert_eq!(m.lookup(0, 0, -5 * unit), -115); // entry -1 = 31 -> -entry 15
    }

    /// A second hidden layer sums table lookups of the first and floors the sum like the first
    /// layer's pre-activation; scores look up the last layer.
    #[test]
    fn deeper_layers_sum_lookups_then_floor() {
        let unit = 1i64 << MLP_FLOOR_BITS;
        let m = QMlp {
            hidden: QLinear {
                weights: vec![vec![unit], vec![-unit]],
                bias: vec![0, 0],
                center: Vec::new(),
            },
            offset: vec![2, 2],
            deeper: vec![QHidden {
                // entry u of either neuron adds 10 u (neuron 0) or 3 u (neuron 1) to z_0
                tables: vec![
                    vec![(0..16).map(|u| 10 * u).collect()],
                    vec![(0..16).map(|u| 3 * u).collect()],
                ],
                bias: vec![5],
                offset: vec![1],
            }],
            tables: vec![vec![(0..16).map(|u| 100 + u).collect()]],
            constant: vec![7],
            center: vec![0],
            out_bits: 12,
            window: None,
        };
        assert_eq!(m.widths(), vec![2, 1]);
        assert_eq!(m.bootstraps(), 3 * 3 + 2 * 2 + 1);
        // q = 3: z = (3 unit, -3 unit), t = (3, -3), entries (5, -1 -> 31: -table[15])
        // z_0 = 5 + 50 - 45 = 10, t = 0, entry 1: score 7 + 101
        assert_eq!(m.eval(&[3]), vec![108]);
        // q = 0: entries (2, 2): z_0 = 5 + 20 + 6 = 31, t = 0 -> 108 again; q = 1: (3, 1):
        // z_0 = 5 + 30 + 3 = 38, t = 1, entry 2
        assert_eq!(m.eval(&[0]), vec![108]);
        assert_eq!(m.eval(&[1]), vec![109]);
    }

    #[test]
    fn a_two_hidden_layer_network_tracks_its_float_model() {
        let layer = |weights: Vec<Vec<f64>>, bias: Vec<f64>| LinearModel {
            weights,
            bias,
            post_transform: PostTransform::None,
        };
        // relu(relu(a - b) + relu(b - a) - 2): |a - b| - 2 clipped at 0
        let m = Model {
            features: vec!["a".into(), "b".into()],
            task: Task::Regression,
            program: Program::Mlp(Mlp {
                layers: vec![
                    layer(vec![vec![1.0, -1.0], vec![-1.0, 1.0]], vec![0.0, 0.0]),
                    layer(vec![vec![1.0, 1.0]], vec![-2.0]),
                    layer(vec![vec![1.0]], vec![0.0]),
                ],
            }),
        };
        let rows: Vec<Vec<f64>> =
            (0..16).flat_map(|i| (0..16).map(move |j| vec![f64::from(i), f64::from(j)])).collect();
        let c = CompiledModel::compile(&m, &rows, Default::default()).unwrap();
        let QProgram::Mlp(q) = &c.program else { panic!("a network") };
        assert_eq!(q.widths(), vec![2, 1]);
        let mut worst = 0f64;
        for r in &rows {
            let float = ((r[0] - r[1]).abs() - 2.0).max(0.0);
            let got = c.dequantize(&c.predict_clear(r).unwrap())[0];
            worst = worst.max((got - float).abs());
        }
        // two floored activation layers of ~1 unit each over a 0..13 output
        assert!(worst <= 2.5, "worst error {worst}");
    }
}
