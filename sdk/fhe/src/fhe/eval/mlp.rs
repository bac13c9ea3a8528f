//! Encrypted evaluation of ReLU networks; the encodings and why every bootstrap keeps its
//! `2^58` margin are in [`crate::compiled::QMlp`]'s module.

use rayon::prelude::*;
use tfhe::core_crypto::algorithms::slice_algorithms::{
    slice_wrapping_add_assign, slice_wrapping_add_scalar_mul_assign,
    slice_wrapping_scalar_mul_assign, slice_wrapping_sub_assign,
};
use tfhe::core_crypto::prelude::*;

use super::wash::{WashKey, Washer};
use super::{Evaluator, Samples, Scratch, add_to_body, constant_lut, table_lut};
use crate::compiled::{MLP_ACC_BITS, MLP_FLOOR_BITS, MLP_TABLE, QHidden, QMlp};
use crate::fhe::keys::BootstrapKeys;
use crate::params::Params;

/// `B`, `S`: the pre-activation window and the low digit the floor drops.
const B: u32 = MLP_ACC_BITS;
const S: u32 = MLP_FLOOR_BITS;

/// The lookup tables of the exact floor, shared by every neuron.
struct Floor {
    /// The digit's top bit at the scale of `y`.
    top_bit: GlweCiphertextOwned<u64>,
    /// The digit's top bit at the scale of `z`.
    top_bit_z: GlweCiphertextOwned<u64>,
    /// The digit's other `S - 1` bits at the scale of `z`.
    digit: GlweCiphertextOwned<u64>,
}

/// `2^(S - 2)` at the scale of `z`: what `top_bit_z` returns for a clear top bit.
const V2: u64 = 1u64 << (S - 2 + 63 - B);

impl Floor {
    fn new(params: &Params) -> Self {
        let log_2n = params.polynomial_size.log2().0 + 1;
        Self {
            top_bit: constant_lut(params, 1 << 62),
            top_bit_z: constant_lut(params, V2),
            digit: table_lut(params, log_2n - S as usize, |e| (e as u64) << (63 - B)),
        }
    }

    /// `z` at `2^(63 - B)` and `y = z * 2^(64 - S)` (the low digit `d` on top of the torus)
    /// become `floor(z / 2^S) + K`, half an entry up, at `2^(63 - B + S)`: ready for a table.
    fn apply(
        &self,
        scratch: &mut Scratch,
        sk: &BootstrapKeys,
        mut z: LweCiphertextOwned<u64>,
        mut y: LweCiphertextOwned<u64>,
        offset: i64,
    ) -> LweCiphertextOwned<u64> {
        // half a digit step up
        add_to_body(&mut y, 1 << (63 - S));
        let a1 = scratch.bootstrap(sk, &y, &self.top_bit);
        let a2 = scratch.bootstrap(sk, &y, &self.top_bit_z);
        // drop the top bit (2^62 - a1 is bit * 2^63): d mod 2^(S-1), centred
        slice_wrapping_add_assign(y.as_mut(), a1.as_ref());
        add_to_body(&mut y, (1u64 << 62).wrapping_neg());
        let low = scratch.bootstrap(sk, &y, &self.digit);
        // z - d = z - (v2 - a2) - low = floor(z / 2^S) * 2^(63 - B + S)
        slice_wrapping_add_assign(z.as_mut(), a2.as_ref());
        slice_wrapping_sub_assign(z.as_mut(), low.as_ref());
        add_to_body(&mut z, V2.wrapping_neg());
        // table entry t + K, half an entry up
        add_to_body(&mut z, ((2 * offset + 1) as u64).wrapping_shl(62 - B + S));
        z
    }
}

impl Evaluator<'_> {
    /// A table of `MLP_TABLE` integers over a floored pre-activation, each entry at `2^shift`.
    fn mlp_table(&self, table: &[i64], shift: u32) -> GlweCiphertextOwned<u64> {
        let width = self.params.polynomial_size.log2().0 - (B - S) as usize;
        table_lut(&self.params, width, |e| {
            (table.get(e).copied().unwrap_or(0) as u64).wrapping_shl(shift)
        })
    }

    /// Scores of every row; also returns the bootstraps spent.
    pub(super) fn mlp(
        &self,
        m: &QMlp,
        sk: &BootstrapKeys,
        wash: Option<&WashKey>,
        s: &Samples<'_>,
        rows: usize,
    ) -> (Vec<LweCiphertextOwned<u64>>, usize) {
        let floor = Floor::new(&self.params);
        let nh = m.hidden.weights.len();
        // first hidden layer: z = W1 q + b1 on fresh inputs, y = z * 2^(B + 1 - S)
        let mut acts: Vec<LweCiphertextOwned<u64>> = (0..rows * nh)
            .into_par_iter()
            .map_init(
                || Scratch::new(&self.params),
                |scratch, j| {
                    let (r, h) = (j / nh, j % nh);
                    let (mut z, mut x) = (s.zero(), s.zero());
                    for (i, w) in m.hidden.weights[h].iter().enumerate() {
                        if *w != 0 {
                            s.extract(r, i, &mut x);
                            slice_wrapping_add_scalar_mul_assign(z.as_mut(), x.as_ref(), *w as u64);
                        }
                    }
                    add_to_body(&mut z, (m.hidden.bias[h] as u64).wrapping_shl(63 - B));
                    let mut y = z.clone();
                    slice_wrapping_scalar_mul_assign(y.as_mut(), 1 << (B + 1 - S));
                    floor.apply(scratch, sk, z, y, m.offset[h])
                },
            )
            .collect();
        let mut width = nh;
        for layer in &m.deeper {
            let next = layer.bias.len();
            // each (h, j) table twice: at z's scale and at y's
            let luts: Vec<[GlweCiphertextOwned<u64>; 2]> = layer
                .tables
                .iter()
                .flatten()
                .map(|t| [self.mlp_table(t, 63 - B), self.mlp_table(t, 64 - S)])
                .collect();
            // neuron j of every row sums its lookups as it goes (no per-pair outputs kept)
            acts = (0..rows * next)
                .into_par_iter()
                .map_init(
                    || Scratch::new(&self.params),
                    |scratch, i| {
                        let (r, j) = (i / next, i % next);
                        let row = &acts[r * width..(r + 1) * width];
                        let luts = (0..width).map(|h| &luts[h * next + j]);
                        let (z, y) = lookup_sum(scratch, sk, s, row, luts, layer.bias[j]);
                        floor.apply(scratch, sk, z, y, layer.offset[j])
                    },
                )
                .collect();
            width = next;
        }
        if let (Some(label), Some(wash)) = (&m.label, wash) {
            return (
                self.mlp_label(label, sk, wash, &floor, &acts, s, width),
                rows * m.bootstraps(),
            );
        }
        let delta = u32::from(self.model.encoding.output_delta_log);
        let n_out = m.constant.len();
        let tables: Vec<GlweCiphertextOwned<u64>> =
            m.tables.iter().flatten().map(|t| self.mlp_table(t, delta)).collect();
        let looked: Vec<Vec<LweCiphertextOwned<u64>>> = acts
            .par_iter()
            .enumerate()
            .map_init(
                || Scratch::new(&self.params),
                |scratch, (rh, act)| {
                    let h = rh % width;
                    (0..n_out).map(|k| scratch.bootstrap(sk, act, &tables[h * n_out + k])).collect()
                },
            )
            .collect();
        let outputs = (0..rows * n_out)
            .into_par_iter()
            .map(|j| {
                let (r, k) = (j / n_out, j % n_out);
                let mut ct = s.zero();
                for h in 0..width {
                    slice_wrapping_add_assign(ct.as_mut(), looked[r * width + h][k].as_ref());
                }
                add_to_body(&mut ct, ((m.constant[k] - m.center[k]) as u64).wrapping_shl(delta));
                ct
            })
            .collect();
        (outputs, rows * m.bootstraps())
    }
}

impl Evaluator<'_> {
    /// Label-only output: per row, the label neuron's pre-activation (two table bootstraps per
    /// last-layer neuron, as a deeper layer's), its exact floor, a sign bootstrap to `±2^62`
    /// and the wash.
    #[allow(clippy::too_many_arguments)] // the stage's inputs, as `mlp` holds them
    fn mlp_label(
        &self,
        label: &QHidden,
        sk: &BootstrapKeys,
        wash: &WashKey,
        floor: &Floor,
        acts: &[LweCiphertextOwned<u64>],
        s: &Samples<'_>,
        width: usize,
    ) -> Vec<LweCiphertextOwned<u64>> {
        let luts: Vec<[GlweCiphertextOwned<u64>; 2]> = label
            .tables
            .iter()
            .map(|t| [self.mlp_table(&t[0], 63 - B), self.mlp_table(&t[0], 64 - S)])
            .collect();
        acts.par_chunks(width)
            .map_init(
                || Washer::new(&self.params),
                |washer, row| {
                    let scratch = washer.scratch();
                    let (z, y) = lookup_sum(scratch, sk, s, row, luts.iter(), label.bias[0]);
                    let t = floor.apply(scratch, sk, z, y, label.offset[0]);
                    let mut bit = washer.sign(sk, &t);
                    washer.wash(sk, wash, &mut bit);
                    bit
                },
            )
            .collect()
    }
}

/// A deeper neuron's pre-activation at both scales: the sum of one table lookup per
/// activation of the layer before at `z`'s scale (`[0]`) and at `y`'s (`[1]`), plus `bias`.
fn lookup_sum<'l>(
    scratch: &mut Scratch,
    sk: &BootstrapKeys,
    s: &Samples<'_>,
    acts: &[LweCiphertextOwned<u64>],
    luts: impl Iterator<Item = &'l [GlweCiphertextOwned<u64>; 2]>,
    bias: i64,
) -> (LweCiphertextOwned<u64>, LweCiphertextOwned<u64>) {
    let (mut z, mut y) = (s.zero(), s.zero());
    for (act, [lz, ly]) in acts.iter().zip(luts) {
        slice_wrapping_add_assign(z.as_mut(), scratch.bootstrap(sk, act, lz).as_ref());
        slice_wrapping_add_assign(y.as_mut(), scratch.bootstrap(sk, act, ly).as_ref());
    }
    add_to_body(&mut z, (bias as u64).wrapping_shl(63 - B));
    add_to_body(&mut y, (bias as u64).wrapping_shl(64 - S));
    (z, y)
}

const _: () = assert!(1 << (MLP_ACC_BITS - MLP_FLOOR_BITS) == MLP_TABLE);
