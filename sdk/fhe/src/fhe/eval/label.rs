//! Label-only evaluation (`compiled::label`): each family brings its decision value `d` at the
//! two scales of the exact floor, then [`Evaluator::decide`] floors it, takes its sign as
//! `±2^62` and washes that bit, so the result reveals the class and nothing else about the
//! model.

use rayon::prelude::*;
use tfhe::core_crypto::algorithms::slice_algorithms::slice_wrapping_add_assign;
use tfhe::core_crypto::prelude::*;

use super::floor::{B, Floor, S, leveled};
use super::trees::leaf_phase;
use super::wash::{WashKey, Washer};
use super::{Evaluator, Samples, Scratch, add_to_body, constant_lut, half_value};
use crate::compiled::{QLinear, QTrees};
use crate::fhe::keys::BootstrapKeys;

impl Evaluator<'_> {
    /// The class of every row's decision value `d`, which `value` gives as
    /// `(z, y) = (d 2^(63 - B), d 2^(64 - S))` (with a bootstrap scratch to compute it), as a
    /// washed bit: the exact floor, a sign bootstrap (`+2^62` for `d >= 0`) and the wash.
    pub(super) fn decide(
        &self,
        sk: &BootstrapKeys,
        key: &WashKey,
        rows: usize,
        value: impl Fn(&mut Scratch, usize) -> (LweCiphertextOwned<u64>, LweCiphertextOwned<u64>) + Sync,
    ) -> Vec<LweCiphertextOwned<u64>> {
        let floor = Floor::new(&self.params);
        (0..rows)
            .into_par_iter()
            .map_init(
                || Washer::new(&self.params),
                |washer, r| {
                    let (z, y) = value(washer.scratch(), r);
                    let t = floor.apply(washer.scratch(), sk, z, y, 0);
                    let mut bit = washer.sign(sk, &t);
                    washer.wash(sk, key, &mut bit);
                    bit
                },
            )
            .collect()
    }

    /// A label-only linear model: `d = W q + b` leveled on the row's fresh inputs, decided.
    pub(super) fn linear_label(
        &self,
        l: &QLinear,
        sk: &BootstrapKeys,
        key: &WashKey,
        s: &Samples<'_>,
        rows: usize,
    ) -> Vec<LweCiphertextOwned<u64>> {
        self.decide(sk, key, rows, |_, r| leveled(s, r, &l.weights[0], l.bias[0]))
    }

    /// A label-only tree ensemble: every leaf with a non-zero share `L` of `d` is tested twice,
    /// once with a table answering `±L 2^(62 - B)` and once `±L 2^(63 - S)`; adding `L` at
    /// those scales gives `L` at `z`'s and at `y`'s scale when the leaf is reached and 0
    /// otherwise (with one bootstrap's noise each), and the sums over leaves are decided.
    pub(super) fn trees_label(
        &self,
        t: &QTrees,
        sk: &BootstrapKeys,
        key: &WashKey,
        s: &Samples<'_>,
        rows: usize,
    ) -> Vec<LweCiphertextOwned<u64>> {
        let cmp_out = self.comparisons(t, sk, s, rows);
        let nc = t.comparisons.len();
        let leaves: Vec<_> = t.leaves.iter().filter(|l| l.values[0] != 0).collect();
        // the two scales' half values: `half_value(L, delta)` is `L * 2^(delta - 1)`
        let (dz, dy) = ((63 - B) as u8, (64 - S) as u8);
        let luts: Vec<[GlweCiphertextOwned<u64>; 2]> = leaves
            .iter()
            .map(|l| {
                let v = l.values[0];
                [half_value(v, dz), half_value(v, dy)].map(|h| constant_lut(&self.params, h))
            })
            .collect();
        let nl = leaves.len();
        // one task per (row, leaf): both scales from one leaf-test input
        let outs: Vec<[LweCiphertextOwned<u64>; 2]> = (0..rows * nl)
            .into_par_iter()
            .map_init(
                || Scratch::new(&self.params),
                |scratch, j| {
                    let (r, li) = (j / nl, j % nl);
                    let acc = leaf_phase(s, leaves[li], &cmp_out[r * nc..(r + 1) * nc]);
                    let [lz, ly] = &luts[li];
                    [scratch.bootstrap(sk, &acc, lz), scratch.bootstrap(sk, &acc, ly)]
                },
            )
            .collect();
        self.decide(sk, key, rows, |_, r| {
            let (mut z, mut y) = (s.zero(), s.zero());
            let (mut cz, mut cy) = (0u64, 0u64);
            for (leaf, [oz, oy]) in leaves.iter().zip(&outs[r * nl..(r + 1) * nl]) {
                slice_wrapping_add_assign(z.as_mut(), oz.as_ref());
                slice_wrapping_add_assign(y.as_mut(), oy.as_ref());
                cz = cz.wrapping_add(half_value(leaf.values[0], dz));
                cy = cy.wrapping_add(half_value(leaf.values[0], dy));
            }
            let c = t.constant[0] as u64;
            add_to_body(&mut z, cz.wrapping_add(c.wrapping_shl(u32::from(dz))));
            add_to_body(&mut y, cy.wrapping_add(c.wrapping_shl(u32::from(dy))));
            (z, y)
        })
    }
}
