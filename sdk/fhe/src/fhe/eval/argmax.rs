//! Label-only output among more than two classes (`compiled::window::label`): the class
//! scores' pairwise differences are floored exactly, and their signs vote for the winner.
//!
//! Every vote is `±2^58`, far inside the half-torus, so sums of a few stay exact:
//! - each pair `k < j` is one sign bootstrap of its floored difference: `+2^58` when `k` beats
//!   `j` (`d_k - d_j >= 0`, so equal maxima go to the first class);
//! - class `k` wins when it beats all `c - 1` others: the sum of its `c - 1` votes (a pair's
//!   vote negated for its second class) less `(c - 2) 2^58` is `2^58` when it wins and at most
//!   `-2^58` otherwise, and one sign bootstrap reads it as `±2^58` (exactly one class wins);
//! - bit `m` of the winner's index is set when a class with that bit wins: the `K_m` classes'
//!   wins summed plus `(K_m - 1) 2^58` are `±2^58`, whose sign the wash's first bootstrap reads.
//!
//! With at most 16 classes the widest sum, `-(2c - 3) 2^58`, stays inside the half-torus.

use tfhe::core_crypto::algorithms::slice_algorithms::{
    slice_wrapping_add_assign, slice_wrapping_sub_assign,
};
use tfhe::core_crypto::prelude::*;

use super::floor::Pair;
use super::split::stage;
use super::{Evaluator, Scratch, add_to_body, constant_lut};
use crate::compiled::index_bits;
use crate::fhe::keys::BootstrapKeys;

/// One vote.
const VOTE: u64 = 1 << 58;

/// The pairs `(k, j)`, `k < j`, of `c` classes (the order of the compiler's combinations).
fn pairs(c: usize) -> Vec<(usize, usize)> {
    (0..c).flat_map(|k| (k + 1..c).map(move |j| (k, j))).collect()
}

/// Each row's differences `d_k - d_j` of its `c` class values, at both scales.
pub(super) fn differences(values: &[Pair], c: usize) -> Vec<Pair> {
    let ps = pairs(c);
    values
        .chunks(c)
        .flat_map(|row| {
            ps.iter().map(move |(k, j)| {
                let (mut z, mut y) = row[*k].clone();
                slice_wrapping_sub_assign(z.as_mut(), row[*j].0.as_ref());
                slice_wrapping_sub_assign(y.as_mut(), row[*j].1.as_ref());
                (z, y)
            })
        })
        .collect()
}

impl Evaluator<'_> {
    /// From every row's floored pair differences, the sums whose signs are the bits of the
    /// winning class's index (`rows x index bits`, each `±2^58`).
    pub(super) fn argmax_bits(
        &self,
        sk: &BootstrapKeys,
        floored: &[LweCiphertextOwned<u64>],
        c: usize,
    ) -> Vec<LweCiphertextOwned<u64>> {
        let p = &self.params;
        let vote = constant_lut(p, VOTE);
        let ps = pairs(c);
        let np = ps.len();
        let rows = floored.len() / np.max(1);
        let sign = |items: Vec<&LweCiphertextOwned<u64>>| {
            let tasks = items.len();
            stage(items, || Scratch::for_tasks(p, tasks), |sc, ct| sc.bootstrap(sk, ct, &vote))
        };
        let beats = sign(floored.iter().collect());
        let zero = || LweCiphertext::new(0u64, p.big_lwe_dimension().to_lwe_size(), p.modulus());
        let wins: Vec<LweCiphertextOwned<u64>> = (0..rows * c)
            .map(|i| {
                let (r, k) = (i / c, i % c);
                let mut w = zero();
                for (v, (a, b)) in beats[r * np..][..np].iter().zip(&ps) {
                    if *a == k {
                        slice_wrapping_add_assign(w.as_mut(), v.as_ref());
                    } else if *b == k {
                        slice_wrapping_sub_assign(w.as_mut(), v.as_ref());
                    }
                }
                add_to_body(&mut w, ((c - 2) as u64 * VOTE).wrapping_neg());
                w
            })
            .collect();
        let wins = sign(wins.iter().collect());
        let bits = index_bits(c);
        (0..rows * bits)
            .map(|i| {
                let (r, m) = (i / bits, i % bits);
                let mut sum = zero();
                let members: Vec<usize> = (0..c).filter(|k| (k >> m) & 1 == 1).collect();
                for k in &members {
                    slice_wrapping_add_assign(sum.as_mut(), wins[r * c + k].as_ref());
                }
                add_to_body(&mut sum, (members.len() as u64 - 1) * VOTE);
                sum
            })
            .collect()
    }
}
