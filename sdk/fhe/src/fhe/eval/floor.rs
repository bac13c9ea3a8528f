//! The exact floor `t = floor(d / 2^S)` of an integer `d` in the window `[-2^B, 2^B)`, which
//! one bootstrap cannot read (it resolves 4 bits and a padding bit): networks floor every hidden
//! pre-activation with it, label-only models their decision value. The encodings and why every
//! bootstrap keeps its `2^58` margin are in [`crate::compiled::QMlp`]'s module.

use tfhe::core_crypto::algorithms::slice_algorithms::{
    slice_wrapping_add_assign, slice_wrapping_add_scalar_mul_assign,
    slice_wrapping_scalar_mul_assign, slice_wrapping_sub_assign,
};
use tfhe::core_crypto::prelude::*;

use super::{Samples, Scratch, add_to_body, constant_lut, table_lut, with_scratch};
use crate::compiled::{MLP_ACC_BITS, MLP_FLOOR_BITS};
use crate::fhe::keys::BootstrapKeys;
use crate::params::Params;

/// A window value at both scales: `(d 2^(63 - B), d 2^(64 - S))`.
pub(super) type Pair = (LweCiphertextOwned<u64>, LweCiphertextOwned<u64>);

/// `B`, `S`: the window and the low digit the floor drops.
pub(super) const B: u32 = MLP_ACC_BITS;
pub(super) const S: u32 = MLP_FLOOR_BITS;

/// `2^(S - 2)` at the scale of `z`: what `top_bit_z` returns for a clear top bit.
const V2: u64 = 1u64 << (S - 2 + 63 - B);

/// The lookup tables of the exact floor, shared by every neuron.
pub(super) struct Floor {
    /// The digit's top bit at the scale of `y`.
    top_bit: GlweCiphertextOwned<u64>,
    /// The digit's top bit at the scale of `z`.
    top_bit_z: GlweCiphertextOwned<u64>,
    /// The digit's other `S - 1` bits at the scale of `z`.
    digit: GlweCiphertextOwned<u64>,
}

impl Floor {
    pub(super) fn new(params: &Params) -> Self {
        let log_2n = params.polynomial_size.log2().0 + 1;
        Self {
            top_bit: constant_lut(params, 1 << 62),
            top_bit_z: constant_lut(params, V2),
            digit: table_lut(params, log_2n - S as usize, |e| (e as u64) << (63 - B)),
        }
    }

    /// `z` at `2^(63 - B)` and `y = z * 2^(64 - S)` (the low digit `d` on top of the torus)
    /// become `floor(z / 2^S) + K`, half an entry up, at `2^(63 - B + S)`: ready for a table.
    /// The two readings of the digit's top bit run side by side (on another rayon thread when
    /// one is free: a single row's floor then takes two bootstraps' time, not three).
    pub(super) fn apply(
        &self,
        scratch: &mut Scratch,
        sk: &BootstrapKeys,
        mut z: LweCiphertextOwned<u64>,
        mut y: LweCiphertextOwned<u64>,
        offset: i64,
    ) -> LweCiphertextOwned<u64> {
        // half a digit step up
        add_to_body(&mut y, 1 << (63 - S));
        let (a1, a2) = if scratch.is_split() {
            // each bootstrap already takes two cores
            (scratch.bootstrap(sk, &y, &self.top_bit), scratch.bootstrap(sk, &y, &self.top_bit_z))
        } else {
            rayon::join(
                || scratch.bootstrap(sk, &y, &self.top_bit),
                || with_scratch(&sk.params, |s| s.bootstrap(sk, &y, &self.top_bit_z)),
            )
        };
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

/// `z = W q + b` at `2^(63 - B)` on row `r`'s fresh inputs, and `y = z * 2^(B + 1 - S)`: fresh
/// noise is small enough to be multiplied (compilers bound `sum |W|` for it).
pub(super) fn leveled(
    s: &Samples<'_>,
    r: usize,
    weights: &[i64],
    bias: i64,
) -> (LweCiphertextOwned<u64>, LweCiphertextOwned<u64>) {
    let (mut z, mut x) = (s.zero(), s.zero());
    for (i, w) in weights.iter().enumerate() {
        if *w != 0 {
            s.extract(r, i, &mut x);
            slice_wrapping_add_scalar_mul_assign(z.as_mut(), x.as_ref(), *w as u64);
        }
    }
    add_to_body(&mut z, (bias as u64).wrapping_shl(63 - B));
    let mut y = z.clone();
    slice_wrapping_scalar_mul_assign(y.as_mut(), 1 << (B + 1 - S));
    (z, y)
}
