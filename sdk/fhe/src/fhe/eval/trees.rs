//! Encrypted evaluation of tree ensembles: one sign bootstrap per distinct comparison, one
//! bootstrap per reachable (leaf, output) testing that every comparison on its path went its
//! way, and the sum of the leaf outputs.

use rayon::prelude::*;
use tfhe::core_crypto::algorithms::slice_algorithms::{
    slice_wrapping_add_assign, slice_wrapping_sub_assign,
};
use tfhe::core_crypto::prelude::*;

use super::{CMP_OUT_LOG, Evaluator, Samples, Scratch, constant_lut, half_value};
use crate::compiled::QTrees;
use crate::fhe::keys::BootstrapKeys;

impl Evaluator<'_> {
    pub(super) fn trees(
        &self,
        t: &QTrees,
        sk: &BootstrapKeys,
        s: &Samples<'_>,
        rows: usize,
    ) -> (Vec<LweCiphertextOwned<u64>>, usize) {
        let enc = self.model.encoding;
        let u_log = u32::from(enc.input_delta_log) - 1;
        let v = 1u64 << CMP_OUT_LOG;
        let cmp_lut = constant_lut(&self.params, v);
        let nc = t.comparisons.len();
        // comparisons: phase (2(q - T) - 1) u, positive when the sample goes right
        let cmp_out: Vec<LweCiphertextOwned<u64>> = (0..rows * nc)
            .into_par_iter()
            .map_init(
                || Scratch::new(&self.params),
                |scratch, j| {
                    let (r, c) = (j / nc, &t.comparisons[j % nc]);
                    let mut x = s.zero();
                    s.extract(r, c.feature as usize, &mut x);
                    let offset = ((2 * c.threshold + 1) as u64).wrapping_shl(u_log);
                    let body = x.get_mut_body().data;
                    *body = body.wrapping_sub(offset);
                    scratch.bootstrap(sk, &x, &cmp_lut)
                },
            )
            .collect();
        // leaf tests: sum dir_j out_j - (d - 1) v is +v only when every condition holds; the
        // bootstrap of leaf l for output k returns +-c with c = L * 2^(delta - 1), so
        // out + c is L * 2^delta when the leaf is reached and 0 otherwise, with the noise of a
        // single bootstrap whatever L is
        let tasks: Vec<(usize, usize)> = t
            .leaves
            .iter()
            .enumerate()
            .flat_map(|(li, leaf)| {
                leaf.values.iter().enumerate().filter(|(_, v)| **v != 0).map(move |(k, _)| (li, k))
            })
            .collect();
        let luts: Vec<GlweCiphertextOwned<u64>> = tasks
            .iter()
            .map(|(li, k)| {
                constant_lut(
                    &self.params,
                    half_value(t.leaves[*li].values[*k], enc.output_delta_log),
                )
            })
            .collect();
        let nt = tasks.len();
        let leaf_out: Vec<LweCiphertextOwned<u64>> = (0..rows * nt)
            .into_par_iter()
            .map_init(
                || Scratch::new(&self.params),
                |scratch, j| {
                    let (r, task) = (j / nt, j % nt);
                    let leaf = &t.leaves[tasks[task].0];
                    let mut acc = s.zero();
                    for (c, right) in &leaf.path {
                        let o = &cmp_out[r * nc + *c as usize];
                        if *right {
                            slice_wrapping_add_assign(acc.as_mut(), o.as_ref());
                        } else {
                            slice_wrapping_sub_assign(acc.as_mut(), o.as_ref());
                        }
                    }
                    let d = leaf.path.len() as u64;
                    let body = acc.get_mut_body().data;
                    *body = body.wrapping_sub((d - 1).wrapping_mul(v));
                    scratch.bootstrap(sk, &acc, &luts[task])
                },
            )
            .collect();
        // scores minus their centre, in units of 2^output_delta_log
        let n_out = t.constant.len();
        let outputs = (0..rows * n_out)
            .into_par_iter()
            .map(|j| {
                let (r, k) = (j / n_out, j % n_out);
                let mut ct = s.zero();
                let mut offset = (t.constant[k] - t.center[k]) as u64;
                offset = offset.wrapping_shl(u32::from(enc.output_delta_log));
                for (task, (li, kk)) in tasks.iter().enumerate() {
                    if *kk == k {
                        slice_wrapping_add_assign(ct.as_mut(), leaf_out[r * nt + task].as_ref());
                        offset = offset.wrapping_add(half_value(
                            t.leaves[*li].values[k],
                            enc.output_delta_log,
                        ));
                    }
                }
                let body = ct.get_mut_body().data;
                *body = body.wrapping_add(offset);
                ct
            })
            .collect();
        (outputs, rows * (nc + nt))
    }
}
