//! Comparisons on 6-bit tree inputs sent as two digits (the circuit is in the module doc of
//! `compiled::trees`): which digit bootstraps a model needs, each shared by every comparison
//! that needs it. Pure bookkeeping: no keys, no ciphertexts.

use super::trees::QTrees;

/// How one comparison `q > T` is decided from the digits `h`, `l` of `q` (`T = (Th, Tl)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DigitTest {
    /// `Tl` is the largest low digit, so `q > T` exactly when `h > Th`: this entry of
    /// [`DigitPlan::high`].
    High(usize),
    /// The sign of `H + L`: `H` from this entry of [`DigitPlan::tables`], `L` from this entry
    /// of [`DigitPlan::low`].
    Combined {
        /// Index into [`DigitPlan::tables`].
        table: usize,
        /// Index into [`DigitPlan::low`].
        low: usize,
    },
}

/// The bootstraps deciding a model's comparisons on digit inputs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct DigitPlan {
    /// `(feature, Th)`: sign bootstrap of `h > Th`.
    pub high: Vec<(u32, i64)>,
    /// `(feature, Th)`: table bootstrap of `2w sign(h - Th)`.
    pub tables: Vec<(u32, i64)>,
    /// `(feature, Tl)`: sign bootstrap of `l > Tl`.
    pub low: Vec<(u32, i64)>,
    /// One per comparison, in order.
    pub tests: Vec<DigitTest>,
}

impl DigitPlan {
    /// Bootstraps per row: the digit tests plus one sign bootstrap per combined comparison.
    pub(crate) fn bootstraps(&self) -> usize {
        let combined = self.tests.iter().filter(|t| matches!(t, DigitTest::Combined { .. }));
        self.high.len() + self.tables.len() + self.low.len() + combined.count()
    }
}

impl QTrees {
    /// The digit bootstraps that decide every comparison (module doc), each shared by every
    /// comparison that needs it.
    pub(crate) fn digit_plan(&self, low_bits: u8) -> DigitPlan {
        fn index(list: &mut Vec<(u32, i64)>, key: (u32, i64)) -> usize {
            list.iter().position(|k| *k == key).unwrap_or_else(|| {
                list.push(key);
                list.len() - 1
            })
        }
        let top_low = (1i64 << low_bits) - 1;
        let mut plan = DigitPlan::default();
        for c in &self.comparisons {
            let (th, tl) = (c.threshold >> low_bits, c.threshold & top_low);
            let test = if tl == top_low {
                DigitTest::High(index(&mut plan.high, (c.feature, th)))
            } else {
                DigitTest::Combined {
                    table: index(&mut plan.tables, (c.feature, th)),
                    low: index(&mut plan.low, (c.feature, tl)),
                }
            };
            plan.tests.push(test);
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compiled::trees::{Comparison, TREE_LOW_BITS};

    /// The digit circuit, run in the clear with the bootstraps' exact values, decides `q > T`
    /// for every 6-bit `q` and threshold, and keeps every bootstrap input at least `2^58` from
    /// a decision boundary.
    #[test]
    fn digit_tests_decide_every_comparison() {
        let comparisons: Vec<Comparison> =
            (0..63).map(|t| Comparison { feature: 0, threshold: t }).collect();
        let trees = QTrees { comparisons, leaves: vec![], constant: vec![0], center: vec![0] };
        let plan = trees.digit_plan(TREE_LOW_BITS);
        // 15 thresholds end in the largest low digit; the other 48 share 16 tables and 3 low tests
        assert_eq!((plan.high.len(), plan.tables.len(), plan.low.len()), (15, 16, 3));
        assert_eq!(plan.bootstraps(), 15 + 16 + 3 + 48);
        let w = 1i128 << 59;
        let sign = |phase: i128| {
            // inside the negacyclic half-torus, 2^58 from both boundaries
            assert!(phase.abs() >= 1 << 58 && phase.abs() <= (1 << 63) - (1 << 58), "{phase:#x}");
            if phase > 0 { w } else { -w }
        };
        for q in 0..64i64 {
            let (h, l) = (q >> TREE_LOW_BITS, q & 3);
            for (c, test) in trees.comparisons.iter().zip(&plan.tests) {
                let right = match *test {
                    DigitTest::High(i) => sign((2 * (h - plan.high[i].1) - 1) as i128 * (w / 2)),
                    DigitTest::Combined { table, low } => {
                        let big = 2 * w * (h - plan.tables[table].1).signum() as i128;
                        let small = sign((2 * (l - plan.low[low].1) - 1) as i128 * (w / 2));
                        sign(big + small)
                    }
                };
                assert_eq!(right > 0, q > c.threshold, "q={q} T={}", c.threshold);
            }
        }
    }
}
