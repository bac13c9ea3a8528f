//! Encrypted evaluation of ReLU networks; the encodings and why every bootstrap keeps its
//! `2^58` margin are in [`crate::compiled::QMlp`]'s module.

use rayon::prelude::*;
use tfhe::core_crypto::algorithms::slice_algorithms::slice_wrapping_add_assign;
use tfhe::core_crypto::prelude::*;

use super::floor::{B, Floor, S, leveled};
use super::{Evaluator, Samples, Scratch, add_to_body, table_lut};
use crate::compiled::{MLP_ACC_BITS, MLP_FLOOR_BITS, MLP_TABLE, QMlp};
use crate::fhe::keys::BootstrapKeys;

impl Evaluator<'_> {
    /// A table of `MLP_TABLE` integers over a floored pre-activation, each entry at `2^shift`.
    pub(super) fn mlp_table(&self, table: &[i64], shift: u32) -> GlweCiphertextOwned<u64> {
        let width = self.params.polynomial_size.log2().0 - (B - S) as usize;
        table_lut(&self.params, width, |e| {
            (table.get(e).copied().unwrap_or(0) as u64).wrapping_shl(shift)
        })
    }

    /// Every hidden layer of every row: the last layer's activations (`rows x width`, each a
    /// floored pre-activation ready for a table) and the width.
    pub(super) fn hidden(
        &self,
        m: &QMlp,
        sk: &BootstrapKeys,
        floor: &Floor,
        s: &Samples<'_>,
        rows: usize,
    ) -> (Vec<LweCiphertextOwned<u64>>, usize) {
        let nh = m.hidden.weights.len();
        // first hidden layer: z = W1 q + b1 on fresh inputs, y = z * 2^(B + 1 - S)
        let mut acts: Vec<LweCiphertextOwned<u64>> = (0..rows * nh)
            .into_par_iter()
            .map_init(
                || Scratch::new(&self.params),
                |scratch, j| {
                    let (r, h) = (j / nh, j % nh);
                    let (z, y) = leveled(s, r, &m.hidden.weights[h], m.hidden.bias[h]);
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
        (acts, width)
    }

    /// Scores of every row.
    pub(super) fn mlp(
        &self,
        m: &QMlp,
        sk: &BootstrapKeys,
        s: &Samples<'_>,
        rows: usize,
    ) -> Vec<LweCiphertextOwned<u64>> {
        let floor = Floor::new(&self.params);
        let (acts, width) = self.hidden(m, sk, &floor, s, rows);
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
        (0..rows * n_out)
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
            .collect()
    }
}

/// A deeper neuron's pre-activation at both scales: the sum of one table lookup per
/// activation of the layer before at `z`'s scale (`[0]`) and at `y`'s (`[1]`), plus `bias`.
pub(super) fn lookup_sum<'l>(
    scratch: &mut Scratch,
    sk: &BootstrapKeys,
    s: &Samples<'_>,
    acts: &[LweCiphertextOwned<u64>],
    luts: impl Iterator<Item = &'l [GlweCiphertextOwned<u64>; 2]>,
    bias: i64,
) -> (LweCiphertextOwned<u64>, LweCiphertextOwned<u64>) {
    let parts = acts
        .iter()
        .zip(luts)
        .map(|(act, l)| l.each_ref().map(|lut| scratch.bootstrap(sk, act, lut)));
    sum_scales(s, parts, bias)
}

/// A pre-activation at both scales from its lookups (`[z's scale, y's scale]` each) and `bias`.
pub(super) fn sum_scales(
    s: &Samples<'_>,
    parts: impl IntoIterator<Item = impl std::borrow::Borrow<[LweCiphertextOwned<u64>; 2]>>,
    bias: i64,
) -> (LweCiphertextOwned<u64>, LweCiphertextOwned<u64>) {
    let (mut z, mut y) = (s.zero(), s.zero());
    for part in parts {
        let [pz, py] = part.borrow();
        slice_wrapping_add_assign(z.as_mut(), pz.as_ref());
        slice_wrapping_add_assign(y.as_mut(), py.as_ref());
    }
    add_to_body(&mut z, (bias as u64).wrapping_shl(63 - B));
    add_to_body(&mut y, (bias as u64).wrapping_shl(64 - S));
    (z, y)
}

const _: () = assert!(1 << (MLP_ACC_BITS - MLP_FLOOR_BITS) == MLP_TABLE);
