//! Encrypted evaluation of one-hidden-layer networks; the encodings and why every bootstrap
//! keeps its `2^58` margin are in [`crate::compiled::QMlp`]'s module.

use rayon::prelude::*;
use tfhe::core_crypto::algorithms::slice_algorithms::{
    slice_wrapping_add_assign, slice_wrapping_add_scalar_mul_assign,
    slice_wrapping_scalar_mul_assign, slice_wrapping_sub_assign,
};
use tfhe::core_crypto::prelude::*;

use super::{Evaluator, Samples, Scratch, add_to_body, constant_lut, table_lut};
use crate::compiled::{MLP_ACC_BITS, MLP_FLOOR_BITS, MLP_TABLE, QMlp};
use crate::fhe::keys::BootstrapKeys;

impl Evaluator<'_> {
    /// Scores of every row; also returns the bootstraps spent.
    pub(super) fn mlp(
        &self,
        m: &QMlp,
        sk: &BootstrapKeys,
        s: &Samples<'_>,
        rows: usize,
    ) -> (Vec<LweCiphertextOwned<u64>>, usize) {
        let (b, sb) = (MLP_ACC_BITS, MLP_FLOOR_BITS);
        let delta = u32::from(self.model.encoding.output_delta_log);
        let log_2n = self.params.polynomial_size.log2().0 + 1;
        let (nh, n_out) = (m.hidden.weights.len(), m.constant.len());
        // the digit's top bit, at the scale of z * 2^(B+1-S) and at the scale of z
        let top_bit = constant_lut(&self.params, 1 << 62);
        let v2 = 1u64 << (sb - 2 + 63 - b);
        let top_bit_z = constant_lut(&self.params, v2);
        // the digit's other S-1 bits, at the scale of z
        let digit = table_lut(&self.params, log_2n - sb as usize, |e| (e as u64) << (63 - b));
        let width = log_2n - 1 - (b - sb) as usize;
        let tables: Vec<GlweCiphertextOwned<u64>> = m
            .tables
            .iter()
            .flat_map(|per_out| per_out.iter())
            .map(|t| {
                table_lut(&self.params, width, |e| {
                    (t.get(e).copied().unwrap_or(0) as u64).wrapping_shl(delta)
                })
            })
            .collect();
        let hidden: Vec<Vec<LweCiphertextOwned<u64>>> = (0..rows * nh)
            .into_par_iter()
            .map_init(
                || Scratch::new(&self.params),
                |scratch, j| {
                    let (r, h) = (j / nh, j % nh);
                    // z * 2^(63 - B)
                    let (mut z, mut x) = (s.zero(), s.zero());
                    for (i, w) in m.hidden.weights[h].iter().enumerate() {
                        if *w != 0 {
                            s.extract(r, i, &mut x);
                            slice_wrapping_add_scalar_mul_assign(z.as_mut(), x.as_ref(), *w as u64);
                        }
                    }
                    add_to_body(&mut z, (m.hidden.bias[h] as u64).wrapping_shl(63 - b));
                    // the low digit d = z mod 2^S on top of the torus, half a digit step up
                    let mut y = z.clone();
                    slice_wrapping_scalar_mul_assign(y.as_mut(), 1 << (b + 1 - sb));
                    add_to_body(&mut y, 1 << (63 - sb));
                    let a1 = scratch.bootstrap(sk, &y, &top_bit);
                    let a2 = scratch.bootstrap(sk, &y, &top_bit_z);
                    // drop the top bit (2^62 - a1 is bit * 2^63): d mod 2^(S-1), centred
                    slice_wrapping_add_assign(y.as_mut(), a1.as_ref());
                    add_to_body(&mut y, (1u64 << 62).wrapping_neg());
                    let low = scratch.bootstrap(sk, &y, &digit);
                    // z - d = z - (v2 - a2) - low = floor(z / 2^S) * 2^(63 - B + S)
                    slice_wrapping_add_assign(z.as_mut(), a2.as_ref());
                    slice_wrapping_sub_assign(z.as_mut(), low.as_ref());
                    add_to_body(&mut z, v2.wrapping_neg());
                    // table entry t + K, half an entry up
                    add_to_body(&mut z, ((2 * m.offset[h] + 1) as u64).wrapping_shl(62 - b + sb));
                    (0..n_out).map(|k| scratch.bootstrap(sk, &z, &tables[h * n_out + k])).collect()
                },
            )
            .collect();
        let outputs = (0..rows * n_out)
            .into_par_iter()
            .map(|j| {
                let (r, k) = (j / n_out, j % n_out);
                let mut ct = s.zero();
                for h in 0..nh {
                    slice_wrapping_add_assign(ct.as_mut(), hidden[r * nh + h][k].as_ref());
                }
                add_to_body(&mut ct, ((m.constant[k] - m.center[k]) as u64).wrapping_shl(delta));
                ct
            })
            .collect();
        (outputs, rows * m.bootstraps())
    }
}

const _: () = assert!(1 << (MLP_ACC_BITS - MLP_FLOOR_BITS) == MLP_TABLE);
