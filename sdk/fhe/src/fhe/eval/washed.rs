//! Washed outputs (`compiled::window`): each family brings its window values `d` at the two
//! scales of the exact floor; every value (or, for an argmax, every pair's difference) is
//! floored to `u = floor(d / 32)` at `2^59`, half an entry up; its bits are read by one
//! bootstrap each (a sign for a binary label; four tables and the sign for a rounded score; an
//! argmax's votes, `super::argmax`) and every bit is washed, so the result reveals the label or
//! the rounded scores and nothing else about the model.

use rayon::prelude::*;
use tfhe::core_crypto::algorithms::slice_algorithms::slice_wrapping_add_assign;
use tfhe::core_crypto::prelude::*;

use super::floor::{B, Floor, Pair, S, leveled};
use super::mlp::{lookup_sum, sum_scales};
use super::split::stage;
use super::wash::Washer;
use super::{Evaluator, Samples, Scratch, add_to_body, constant_lut, half_value, table_lut};
use crate::compiled::{QMlp, QProgram, QTrees, ROUNDED_BITS, TreeWindow, rounded_bit};
use crate::fhe::keys::BootstrapKeys;
use crate::fhe::keys::WashKey;
use crate::params::Params;

/// A washed bit is `±2^62`.
const BIT: u64 = 1 << 62;

impl Evaluator<'_> {
    /// Every row's washed outputs: `rows x values x bits` washed bits.
    pub(super) fn washed(
        &self,
        sk: &BootstrapKeys,
        key: &WashKey,
        s: &Samples<'_>,
        rows: usize,
    ) -> Vec<LweCiphertextOwned<u64>> {
        let n = self.model.window_values();
        let pairs: Vec<Pair> = match &self.model.program {
            // leveled on the row's fresh inputs
            QProgram::Linear(l) => (0..rows * n)
                .into_par_iter()
                .map(|j| leveled(s, j / n, &l.weights[j % n], l.bias[j % n]))
                .collect(),
            QProgram::Trees(t) => self.tree_window(t, sk, s, rows),
            QProgram::Mlp(m) => self.mlp_window(m, sk, s, rows),
        };
        // an argmax floors every pair's difference instead
        let classes = usize::from(self.model.encoding.classes());
        let pairs = if classes > 2 { super::argmax::differences(&pairs, classes) } else { pairs };
        let floor = Floor::new(&self.params);
        // fewer floors than cores: each floor's three bootstraps in turn, each over two threads
        let tasks = pairs.len();
        let values = stage(
            pairs,
            || Scratch::for_tasks(&self.params, tasks),
            |sc, (z, y)| floor.apply(sc, sk, z, y, 0),
        );
        let values = if classes > 2 { self.argmax_bits(sk, &values, classes) } else { values };
        self.wash_bits(sk, key, &values)
    }

    /// Each value's bits, each washed: the sign alone for a label; for a rounded score, the
    /// tables of `compiled::rounded_bit` for the low four, then the sign.
    fn wash_bits(
        &self,
        sk: &BootstrapKeys,
        key: &WashKey,
        values: &[LweCiphertextOwned<u64>],
    ) -> Vec<LweCiphertextOwned<u64>> {
        let p = &self.params;
        let width = entry_width(p);
        let sign = std::iter::once(constant_lut(p, BIT));
        let luts: Vec<GlweCiphertextOwned<u64>> = if self.model.encoding.label() {
            sign.collect()
        } else {
            (0..ROUNDED_BITS - 1)
                .map(|j| {
                    let bit = |e| if rounded_bit(e, j) { BIT } else { BIT.wrapping_neg() };
                    table_lut(p, width, bit)
                })
                .chain(sign)
                .collect()
        };
        let bits = luts.len();
        let tasks = values.len() * bits;
        stage(
            (0..tasks).collect(),
            || Washer::new(p, tasks),
            |washer, i| {
                let mut bit = washer.scratch().bootstrap(sk, &values[i / bits], &luts[i % bits]);
                washer.wash(sk, key, &mut bit);
                bit
            },
        )
    }

    /// A tree ensemble's window values, each tree by its plan (`compiled::TreeWindow`):
    /// - by leaves: every leaf with a non-zero share `L` of value `k` is tested twice, with
    ///   tables answering `±L 2^(62 - B)` and `±L 2^(63 - S)`; adding `L` at those scales gives
    ///   `L` at `z`'s and at `y`'s scale when the leaf is reached and 0 otherwise;
    /// - by index: the leaf at position `i > 0` is tested once with a table answering
    ///   `±i 2^58`; adding `i 2^58` and summing gives the reached leaf's index at `2^59`, which
    ///   two table bootstraps per value read as the tree's share at both scales.
    ///
    /// Every term carries one bootstrap's noise; the sums over trees take the constants.
    fn tree_window(
        &self,
        t: &QTrees,
        sk: &BootstrapKeys,
        s: &Samples<'_>,
        rows: usize,
    ) -> Vec<Pair> {
        let n = t.constant.len();
        let (dz, dy) = ((63 - B) as u8, (64 - S) as u8);
        let plan = t.window_plan();
        // the leaf tests: (leaf, value) shares and (leaf, position) indicators
        let mut tasks: Vec<(usize, usize)> = Vec::new();
        let mut luts: Vec<Vec<GlweCiphertextOwned<u64>>> = Vec::new();
        // per index-planned tree: its leaves and where its indicators start among the tasks
        let mut indexed: Vec<(&[usize], usize)> = Vec::new();
        for (_, p) in &plan {
            match p {
                TreeWindow::Leaves(leaves) => {
                    for (l, k) in leaves.iter().flat_map(|l| (0..n).map(move |k| (*l, k))) {
                        let v = t.leaves[l].values[k];
                        if v != 0 {
                            tasks.push((l, k));
                            let halves = [half_value(v, dz), half_value(v, dy)];
                            luts.push(halves.map(|h| constant_lut(&self.params, h)).to_vec());
                        }
                    }
                }
                TreeWindow::Index(leaves) => {
                    indexed.push((leaves, tasks.len()));
                    for (i, l) in leaves.iter().enumerate().skip(1) {
                        tasks.push((*l, usize::MAX));
                        luts.push(vec![constant_lut(&self.params, (i as u64) << 58)]);
                    }
                }
            }
        }
        let nt = tasks.len();
        let tests = self.leaf_tests(t, sk, s, rows, &tasks, |scratch, acc, task| {
            luts[task].iter().map(|lut| scratch.bootstrap(sk, acc, lut)).collect::<Vec<_>>()
        });
        // index-planned trees: the reached leaf's share of every value it adds to
        let width = entry_width(&self.params);
        let reads: Vec<(usize, usize, [GlweCiphertextOwned<u64>; 2])> = indexed
            .iter()
            .enumerate()
            .flat_map(|(ti, (leaves, _))| (0..n).map(move |k| (ti, k, *leaves)))
            .filter(|(_, k, leaves)| leaves.iter().any(|l| t.leaves[*l].values[*k] != 0))
            .map(|(ti, k, leaves)| {
                let share = |e: usize, d: u8| {
                    leaves
                        .get(e)
                        .map_or(0, |l| t.leaves[*l].values[k] as u64)
                        .wrapping_shl(u32::from(d))
                };
                (ti, k, [dz, dy].map(|d| table_lut(&self.params, width, |e| share(e, d))))
            })
            .collect();
        let nr = reads.len();
        let read: Vec<[LweCiphertextOwned<u64>; 2]> = (0..rows * nr)
            .into_par_iter()
            .map_init(
                || Scratch::new(&self.params),
                |scratch, j| {
                    let (r, (ti, _, luts)) = (j / nr, &reads[j % nr]);
                    let (leaves, first) = indexed[*ti];
                    let mut index = s.zero();
                    let mut constant = 1u64 << 58; // half an entry up
                    for (i, test) in tests[r * nt + first..][..leaves.len() - 1].iter().enumerate()
                    {
                        slice_wrapping_add_assign(index.as_mut(), test[0].as_ref());
                        constant = constant.wrapping_add(((i + 1) as u64) << 58);
                    }
                    add_to_body(&mut index, constant);
                    luts.each_ref().map(|lut| scratch.bootstrap(sk, &index, lut))
                },
            )
            .collect();
        (0..rows * n)
            .into_par_iter()
            .map(|j| {
                let (r, k) = (j / n, j % n);
                let (mut z, mut y) = (s.zero(), s.zero());
                let c = t.constant[k] as u64;
                let (mut cz, mut cy) =
                    (c.wrapping_shl(u32::from(dz)), c.wrapping_shl(u32::from(dy)));
                for (task, (l, kk)) in tasks.iter().enumerate() {
                    if *kk == k {
                        let out = &tests[r * nt + task];
                        slice_wrapping_add_assign(z.as_mut(), out[0].as_ref());
                        slice_wrapping_add_assign(y.as_mut(), out[1].as_ref());
                        let v = t.leaves[*l].values[k];
                        cz = cz.wrapping_add(half_value(v, dz));
                        cy = cy.wrapping_add(half_value(v, dy));
                    }
                }
                for (i, (_, kk, _)) in reads.iter().enumerate() {
                    if *kk == k {
                        let [oz, oy] = &read[r * nr + i];
                        slice_wrapping_add_assign(z.as_mut(), oz.as_ref());
                        slice_wrapping_add_assign(y.as_mut(), oy.as_ref());
                    }
                }
                add_to_body(&mut z, cz);
                add_to_body(&mut y, cy);
                (z, y)
            })
            .collect()
    }

    /// A network's window values: the hidden layers, then each window neuron's pre-activation
    /// (two table bootstraps per last-layer neuron, as a deeper layer's).
    fn mlp_window(&self, m: &QMlp, sk: &BootstrapKeys, s: &Samples<'_>, rows: usize) -> Vec<Pair> {
        let (acts, width) = self.hidden(m, sk, &Floor::new(&self.params), s, rows);
        let Some(window) = &m.window else { return Vec::new() };
        let n = window.bias.len();
        let luts: Vec<[GlweCiphertextOwned<u64>; 2]> = window
            .tables
            .iter()
            .flatten()
            .map(|t| [self.mlp_table(t, 63 - B), self.mlp_table(t, 64 - S)])
            .collect();
        if rows * n < rayon::current_num_threads() {
            // too few values to fill the cores: their lookups side by side, then summed
            let looked: Vec<[LweCiphertextOwned<u64>; 2]> = (0..rows * n * width)
                .into_par_iter()
                .map_init(
                    || Scratch::new(&self.params),
                    |scratch, i| {
                        let (j, h) = (i / width, i % width);
                        let act = &acts[(j / n) * width + h];
                        luts[h * n + j % n].each_ref().map(|lut| scratch.bootstrap(sk, act, lut))
                    },
                )
                .collect();
            return looked
                .chunks(width)
                .enumerate()
                .map(|(j, parts)| sum_scales(s, parts, window.bias[j % n]))
                .collect();
        }
        (0..rows * n)
            .into_par_iter()
            .map_init(
                || Scratch::new(&self.params),
                |scratch, j| {
                    let (r, k) = (j / n, j % n);
                    let row = &acts[r * width..(r + 1) * width];
                    let luts = (0..width).map(|h| &luts[h * n + k]);
                    lookup_sum(scratch, sk, s, row, luts, window.bias[k])
                },
            )
            .collect()
    }
}

/// [`table_lut`]'s width for entries `2^59` apart: a floored value `u`, or a tree's leaf index,
/// each half an entry up.
fn entry_width(p: &Params) -> usize {
    p.polynomial_size.log2().0 + 1 - (64 - 59)
}
