//! Encrypted evaluation of tree ensembles: the bootstraps deciding every distinct comparison
//! (one sign bootstrap on whole 4-bit inputs; digit tests and a combining sign bootstrap on
//! digit inputs, see `compiled::trees`), one bootstrap per reachable (leaf, output) testing that
//! every comparison on its path went its way, and the sum of the leaf outputs.

use std::cmp::Ordering;

use rayon::prelude::*;
use tfhe::core_crypto::algorithms::slice_algorithms::{
    slice_wrapping_add_assign, slice_wrapping_sub_assign,
};
use tfhe::core_crypto::prelude::*;

use super::{
    CMP_OUT_LOG, Evaluator, Samples, Scratch, add_to_body, constant_lut, half_value, table_lut,
};
use crate::compiled::{DigitTest, QLeaf, QTrees};
use crate::fhe::keys::BootstrapKeys;

impl Evaluator<'_> {
    /// Every comparison of every row, `+v` when the row goes right (`rows x comparisons`).
    pub(super) fn comparisons(
        &self,
        t: &QTrees,
        sk: &BootstrapKeys,
        s: &Samples<'_>,
        rows: usize,
    ) -> Vec<LweCiphertextOwned<u64>> {
        if self.model.encoding.low_bits == 0 {
            self.whole_comparisons(t, sk, s, rows)
        } else {
            self.digit_comparisons(t, sk, s, rows)
        }
    }

    /// Scores of every row.
    pub(super) fn trees(
        &self,
        t: &QTrees,
        sk: &BootstrapKeys,
        s: &Samples<'_>,
        rows: usize,
    ) -> Vec<LweCiphertextOwned<u64>> {
        let enc = self.model.encoding;
        // leaf tests: sum dir_j out_j - (d - 1) v is +v only when every condition holds; the
        // bootstrap of leaf l for output k returns +-c with c = L * 2^(delta - 1), so
        // out + c is L * 2^delta when the leaf is reached and 0 otherwise, with the noise of a
        // single bootstrap whatever L is
        let tasks = leaf_tasks(t);
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
        let leaf_out = self.leaf_tests(t, sk, s, rows, &tasks, |scratch, acc, task| {
            scratch.bootstrap(sk, acc, &luts[task])
        });
        // scores minus their centre, in units of 2^output_delta_log
        let n_out = t.constant.len();
        (0..rows * n_out)
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
            .collect()
    }

    /// The comparisons of every row, then `test` of each (row, task)'s leaf-test input with the
    /// task's index (`rows x tasks`, a task being a pair of [`leaf_tasks`]).
    pub(super) fn leaf_tests<T: Send>(
        &self,
        t: &QTrees,
        sk: &BootstrapKeys,
        s: &Samples<'_>,
        rows: usize,
        tasks: &[(usize, usize)],
        test: impl Fn(&mut Scratch, &LweCiphertextOwned<u64>, usize) -> T + Sync,
    ) -> Vec<T> {
        let cmp_out = self.comparisons(t, sk, s, rows);
        let (nc, nt) = (t.comparisons.len(), tasks.len());
        (0..rows * nt)
            .into_par_iter()
            .map_init(
                || Scratch::new(&self.params),
                |scratch, j| {
                    let (r, task) = (j / nt, j % nt);
                    let acc = leaf_phase(s, &t.leaves[tasks[task].0], &cmp_out[r * nc..][..nc]);
                    test(scratch, &acc, task)
                },
            )
            .collect()
    }

    /// Comparisons on whole 4-bit inputs: one sign bootstrap of `(2(q - T) - 1) u` each,
    /// positive when the sample goes right.
    fn whole_comparisons(
        &self,
        t: &QTrees,
        sk: &BootstrapKeys,
        s: &Samples<'_>,
        rows: usize,
    ) -> Vec<LweCiphertextOwned<u64>> {
        let u_log = u32::from(self.model.encoding.input_delta_log) - 1;
        let cmp_lut = constant_lut(&self.params, 1 << CMP_OUT_LOG);
        let nc = t.comparisons.len();
        (0..rows * nc)
            .into_par_iter()
            .map_init(
                || Scratch::new(&self.params),
                |scratch, j| {
                    let c = &t.comparisons[j % nc];
                    let x = sign_phase(s, j / nc, c.feature as usize, c.threshold, u_log);
                    scratch.bootstrap(sk, &x, &cmp_lut)
                },
            )
            .collect()
    }

    /// Comparisons on inputs sent as digits (`compiled::trees` module doc): the shared digit
    /// bootstraps first, then one sign bootstrap of `H + L` per combined comparison.
    fn digit_comparisons(
        &self,
        t: &QTrees,
        sk: &BootstrapKeys,
        s: &Samples<'_>,
        rows: usize,
    ) -> Vec<LweCiphertextOwned<u64>> {
        let enc = self.model.encoding;
        let plan = t.digit_plan(enc.low_bits);
        let features = self.model.schema.len();
        let u_log = u32::from(enc.input_delta_log) - 1;
        let log_2n = self.params.polynomial_size.log2().0 + 1;
        // the high digit holds the bits above the input scale's padding bit
        let high_digits = 1usize << (63 - u32::from(enc.input_delta_log));
        let sign_lut = constant_lut(&self.params, 1 << CMP_OUT_LOG);
        // H = 2w sign(h - Th), w = 2^59, over the 16 high digits, read half an entry up
        let tables: Vec<GlweCiphertextOwned<u64>> = plan
            .tables
            .iter()
            .map(|(_, th)| {
                table_lut(&self.params, log_2n - 1 - high_digits.ilog2() as usize, |h| {
                    match (h as i64).cmp(th) {
                        Ordering::Greater => 1 << (CMP_OUT_LOG + 1),
                        Ordering::Equal => 0,
                        Ordering::Less => (1u64 << (CMP_OUT_LOG + 1)).wrapping_neg(),
                    }
                })
            })
            .collect();
        let (nh, nt, nl) = (plan.high.len(), plan.tables.len(), plan.low.len());
        let per_row = nh + nt + nl;
        let digits: Vec<LweCiphertextOwned<u64>> = (0..rows * per_row)
            .into_par_iter()
            .map_init(
                || Scratch::new(&self.params),
                |scratch, j| {
                    let (r, i) = (j / per_row, j % per_row);
                    if i < nh {
                        let (f, th) = plan.high[i];
                        scratch.bootstrap(sk, &sign_phase(s, r, f as usize, th, u_log), &sign_lut)
                    } else if i < nh + nt {
                        let (f, _) = plan.tables[i - nh];
                        let mut x = s.zero();
                        s.extract(r, f as usize, &mut x);
                        add_to_body(&mut x, 1 << u_log);
                        scratch.bootstrap(sk, &x, &tables[i - nh])
                    } else {
                        let (f, tl) = plan.low[i - nh - nt];
                        let x = sign_phase(s, r, features + f as usize, tl, u_log);
                        scratch.bootstrap(sk, &x, &sign_lut)
                    }
                },
            )
            .collect();
        let nc = t.comparisons.len();
        (0..rows * nc)
            .into_par_iter()
            .map_init(
                || Scratch::new(&self.params),
                |scratch, j| {
                    let row = &digits[(j / nc) * per_row..][..per_row];
                    match plan.tests[j % nc] {
                        DigitTest::High(i) => row[i].clone(),
                        DigitTest::Combined { table, low } => {
                            let mut x = row[nh + table].clone();
                            slice_wrapping_add_assign(x.as_mut(), row[nh + nt + low].as_ref());
                            scratch.bootstrap(sk, &x, &sign_lut)
                        }
                    }
                },
            )
            .collect()
    }
}

/// Every (leaf, output) pair whose leaf value is not zero: what the leaf tests are run for.
pub(super) fn leaf_tasks(t: &QTrees) -> Vec<(usize, usize)> {
    t.leaves
        .iter()
        .enumerate()
        .flat_map(|(li, l)| (0..l.values.len()).filter(|k| l.values[*k] != 0).map(move |k| (li, k)))
        .collect()
}

/// A leaf test's input: `sum dir_j out_j - (d - 1) v` over the `d` comparisons on the leaf's
/// path (`row`: the row's comparison outputs), `+v` when every condition holds and at most `-v`
/// otherwise.
pub(super) fn leaf_phase(
    s: &Samples<'_>,
    leaf: &QLeaf,
    row: &[LweCiphertextOwned<u64>],
) -> LweCiphertextOwned<u64> {
    let mut acc = s.zero();
    for (c, right) in &leaf.path {
        let o = &row[*c as usize];
        if *right {
            slice_wrapping_add_assign(acc.as_mut(), o.as_ref());
        } else {
            slice_wrapping_sub_assign(acc.as_mut(), o.as_ref());
        }
    }
    let d = leaf.path.len() as u64;
    add_to_body(&mut acc, (d - 1).wrapping_mul(1 << CMP_OUT_LOG).wrapping_neg());
    acc
}

/// The phase `(2 (x - threshold) - 1) 2^u_log` of input slot `slot` of row `row`: positive
/// exactly when the value there exceeds `threshold`, at least `2^u_log` from both decision
/// boundaries.
fn sign_phase(
    s: &Samples<'_>,
    row: usize,
    slot: usize,
    threshold: i64,
    u_log: u32,
) -> LweCiphertextOwned<u64> {
    let mut x = s.zero();
    s.extract(row, slot, &mut x);
    add_to_body(&mut x, ((2 * threshold + 1) as u64).wrapping_shl(u_log).wrapping_neg());
    x
}
