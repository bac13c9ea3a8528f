//! Washed outputs: what a result holds when it reveals a label or rounded scores and nothing
//! else about the model.
//!
//! Every family computes its *window values* `d` per row, integers in the exact floor's window
//! `[-2^B, 2^B)` (`B` = [`MLP_ACC_BITS`]), at two scales: `z = d * 2^(63 - B)` and
//! `y = d * 2^(64 - S)`. The floor turns each into `u = floor(d / 2^S)` (5 bits) at `2^59`,
//! table bootstraps read its bits as `±2^62`, and every bit is washed (`fhe/eval/wash.rs`):
//! - label-only output ([`label`]): one value, the decision `d` of a binary classifier, whose
//!   sign is the class; or, among more classes, every class score, whose pairwise differences
//!   are floored and decide an argmax;
//! - rounded scores ([`rounded`]): one value per score, `d = alpha * score + 16 - 32 c` for a
//!   centre `c`, whose five bits are the score rounded to a 32nd of the window, `c` added back.
//!
//! How each family computes its values:
//! - linear models: leveled on fresh 64-bit inputs ([`linear`]);
//! - tree ensembles: every reached leaf adds its share through two leaf bootstraps, one per
//!   scale ([`trees`]);
//! - networks: a window layer sums two table lookups per last-layer neuron (`compiled::mlp`).
//!
//! One scale `alpha` serves every value of a model, so rounded scores stay comparable; it is
//! set so that each value's exact range (over the whole input box for linear models, over
//! every combination of leaves or table entries otherwise) fits the window: no input, however
//! extreme, wraps around.

pub(crate) mod label;
mod linear;
pub(crate) mod rounded;
mod trees;

pub(super) use linear::{
    compile_label as compile_linear_label, compile_rounded as compile_linear_rounded,
};
pub(super) use trees::compile as compile_trees;

use super::mlp::{MLP_ACC_BITS, MLP_FLOOR_BITS};
use super::{Encoding, OutputMode, Readout};
use crate::Result;

/// Bits a washed bit is modulus-switched to: its rounding noise (`~2^(64 - 16 + 3.2)`) stays
/// far inside what the wash's flood leaves of the half-torus.
pub(crate) const WASHED_LOG_MODULUS: u32 = 16;

/// Largest `|d|` a compiler aims for: the window's half-width, less a unit for a label's strict
/// comparison.
pub(super) const REACH: i64 = (1 << MLP_ACC_BITS) - 2;

/// One rounded unit of a window value: the low digit the floor drops.
const UNIT: i64 = 1 << MLP_FLOOR_BITS;

/// The encoding of washed outputs (label or rounded, among `classes` classes when more than
/// two) of a model whose inputs are `q * 2^input_delta_log` (in digits of `low_bits` when
/// non-zero).
pub(super) fn encoding(
    output: OutputMode,
    input_delta_log: u32,
    low_bits: u8,
    classes: u8,
) -> Encoding {
    let label = output == OutputMode::LabelOnly;
    Encoding {
        readout: if label { Readout::Label { classes } } else { Readout::Rounded },
        input_delta_log: input_delta_log as u8,
        low_bits,
        // a label's bit at 2^62; a rounded value's at 2^59
        output_delta_log: if label { 62 } else { (64 - rounded::ROUNDED_BITS) as u8 },
        output_log_modulus: WASHED_LOG_MODULUS as u8,
    }
}

/// What the window values stand for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// A binary classifier's decision (no centre, strict comparison).
    Decision,
    /// Class scores whose pairwise differences decide an argmax (no centre).
    Argmax,
    /// Scores rounded to 5 bits (centred).
    Rounded,
}

/// What the window values are, as combinations of a model's raw scores: per value, the weight
/// of each score and a constant.
pub(super) struct Values {
    /// `(weights over the scores, constant)`, one per value.
    pub(super) rows: Vec<(Vec<f64>, f64)>,
    /// What the values stand for.
    pub(super) kind: Kind,
}

impl Values {
    /// The values of `output` (label or rounded) over `scores` raw scores: a binary label's
    /// decision compares one score with `threshold` or two with each other; a label among more
    /// classes takes every class score.
    pub(super) fn new(output: OutputMode, scores: usize, threshold: f64) -> Result<Self> {
        let unit = |k: usize| (0..scores).map(|j| f64::from(u8::from(j == k))).collect();
        let each = || (0..scores).map(|k| (unit(k), 0.0)).collect();
        match output {
            OutputMode::LabelOnly if scores <= 2 => {
                let (coef, constant) = label::decision(scores, threshold)?;
                Ok(Self { rows: vec![(coef.to_vec(), constant)], kind: Kind::Decision })
            }
            OutputMode::LabelOnly => Ok(Self { rows: each(), kind: Kind::Argmax }),
            _ => Ok(Self { rows: each(), kind: Kind::Rounded }),
        }
    }

    /// Whether the values decide a label (no centre) rather than round scores.
    pub(super) fn label(&self) -> bool {
        self.kind != Kind::Rounded
    }

    /// Classes of a label among more than two, else 0 (the encoding's `classes`).
    pub(super) fn classes(&self) -> u8 {
        if self.kind == Kind::Argmax { self.rows.len() as u8 } else { 0 }
    }

    /// Value `k` of float scores `s` (plus the value's constant).
    pub(super) fn of(&self, k: usize, s: &[f64]) -> f64 {
        let (w, c) = &self.rows[k];
        w.iter().zip(s).map(|(w, s)| w * s).sum::<f64>() + c
    }

    /// Value `k`'s share of float scores `s`, without its constant (what one leaf or table
    /// entry adds).
    pub(super) fn share(&self, k: usize, s: &[f64]) -> f64 {
        self.rows[k].0.iter().zip(s).map(|(w, s)| w * s).sum()
    }

    /// The combinations of values that must fit the window, as coefficients per value: each
    /// value, or for an argmax each difference `d_k - d_j`, `k < j`.
    pub(super) fn combos(&self) -> Vec<Vec<i64>> {
        let n = self.rows.len();
        let unit = |k: usize| (0..n).map(|j| i64::from(j == k)).collect::<Vec<i64>>();
        if self.kind != Kind::Argmax {
            return (0..n).map(unit).collect();
        }
        (0..n)
            .flat_map(|k| (k + 1..n).map(move |j| (k, j)))
            .map(|(k, j)| (0..n).map(|i| i64::from(i == k) - i64::from(i == j)).collect())
            .collect()
    }

    /// The scale that fits the combinations' float ranges `[lo, hi]` into the window, leaving
    /// `slack` units for rounding: a label's values around 0, a rounded score around its centre.
    pub(super) fn scale(&self, ranges: &[(f64, f64)], slack: f64) -> f64 {
        // a rounded score's centre is off its midpoint by up to half a unit, and its `+16`
        // moves it by another half
        let label = self.label();
        let room = (REACH as f64 - slack - if label { 0.0 } else { UNIT as f64 }).max(1.0);
        let reach = ranges
            .iter()
            .map(|(lo, hi)| if label { lo.abs().max(hi.abs()) } else { (hi - lo) / 2.0 })
            .fold(0f64, f64::max);
        if reach > 0.0 { room / reach } else { 1.0 }
    }

    /// The centre (in rounded units) of a value whose float range is `[lo, hi]` at scale
    /// `alpha`: 0 for a label's values, the nearest multiple of 32 to the midpoint otherwise.
    pub(super) fn centre(&self, alpha: f64, (lo, hi): (f64, f64)) -> i64 {
        if self.label() { 0 } else { (alpha * (lo + hi) / 2.0 / UNIT as f64).round() as i64 }
    }

    /// The integer constant of a value whose scaled float constant is `b`: a binary decision's
    /// strict comparison ([`label::strict_bias`]), a class score's nearest integer, or a
    /// rounded score's `+16` (so the floor rounds to nearest) less its centre.
    pub(super) fn constant(&self, b: f64, centre: i64) -> i64 {
        match self.kind {
            Kind::Decision => label::strict_bias(b),
            Kind::Argmax => b.round() as i64,
            Kind::Rounded => b.round() as i64 + UNIT / 2 - centre * UNIT,
        }
    }

    /// Whether an integer range `[lo, hi]` of window values stays inside the window.
    pub(super) fn fits(lo: i64, hi: i64) -> bool {
        let window = 1i64 << MLP_ACC_BITS;
        lo >= -window && hi < window
    }
}

/// The range of combination `coef` of values, given each value's per-part contributions:
/// `parts[p]` lists what part `p` (a tree, a neuron, a feature) can add to every value, one
/// alternative per entry (exactly one of which is taken); plus the values' constants.
pub(super) fn combo_range<T>(coef: &[i64], constants: &[T], parts: &[Vec<Vec<T>>]) -> (T, T)
where
    T: Copy
        + Default
        + PartialOrd
        + From<i32>
        + std::ops::Add<Output = T>
        + std::ops::Mul<Output = T>,
{
    // combination coefficients are small (-1, 0, 1)
    let coef: Vec<T> = coef.iter().map(|c| T::from(*c as i32)).collect();
    let dot = |v: &[T]| v.iter().zip(&coef).fold(T::default(), |acc, (v, c)| acc + *v * *c);
    let c = dot(constants);
    parts.iter().fold((c, c), |(lo, hi), alternatives| {
        let mut it = alternatives.iter().map(|v| dot(v));
        let Some(first) = it.next() else { return (lo, hi) };
        let (mn, mx) = it.fold((first, first), |(a, b), x| {
            (if x < a { x } else { a }, if x > b { x } else { b })
        });
        (lo + mn, hi + mx)
    })
}

/// Refuse integer window values some combination of which can leave the window, given the
/// rounded per-part contributions and constants ([`combo_range`]).
pub(super) fn check_fits(
    combos: &[Vec<i64>],
    constants: &[i64],
    parts: &[Vec<Vec<i64>>],
) -> Result<()> {
    for coef in combos {
        let (lo, hi) = combo_range(coef, constants, parts);
        if !Values::fits(lo, hi) {
            return Err(crate::Error::Quantization(format!(
                "window values [{lo}, {hi}] outside the window"
            )));
        }
    }
    Ok(())
}

/// Bootstraps a washed bit waits for after its window value, in sequence: the floor's two
/// levels (its top bit read twice side by side, then the low digit), the bit, the wash; an
/// argmax's bits wait for two more (the winners, the index bits).
pub(crate) fn washed_depth(classes: u8) -> usize {
    2 + 1 + crate::params::WASH_BOOTSTRAPS + if classes > 2 { 2 } else { 0 }
}

/// Bootstraps of a model's washed outputs after its `values` window values: each value's exact
/// floor, then its bits and their washes; for an argmax among `classes` classes, each pair's
/// floor and sign, one bootstrap per class for its win, then the index bits and their washes.
pub(crate) fn washed_bootstraps(values: usize, label: bool, classes: u8) -> usize {
    let wash = 1 + crate::params::WASH_BOOTSTRAPS;
    if classes > 2 {
        let c = usize::from(classes);
        return c * (c - 1) / 2 * 4 + c + label::index_bits(c) * wash;
    }
    let bits = if label { 1 } else { rounded::ROUNDED_BITS };
    values * (3 + bits * wash)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A label's decision is fitted around 0 and keeps its strict comparison; rounded scores
    /// are centred on multiples of 32 and round to nearest.
    #[test]
    fn values_fit_the_window() {
        let label = Values::new(OutputMode::LabelOnly, 2, 0.0).unwrap();
        assert_eq!((label.kind, label.combos()), (Kind::Decision, vec![vec![1]]));
        let argmax = Values::new(OutputMode::LabelOnly, 3, 0.0).unwrap();
        assert_eq!(argmax.combos(), vec![vec![1, -1, 0], vec![1, 0, -1], vec![0, 1, -1]]);
        assert_eq!(argmax.constant(2.6, 0), 3);
        // two parts: a feature adding 0 or 5 to value 0 and 2 to value 1; one adding -1 or 1
        let parts = vec![vec![vec![0, 2], vec![5, 2]], vec![vec![-1, 0], vec![1, 0]]];
        assert_eq!(combo_range(&[1, -1], &[10, 0], &parts), (7, 14));
        let alpha = label.scale(&[(-3.0, 1.0)], 2.0);
        assert_eq!(label.centre(alpha, (-3.0, 1.0)), 0);
        assert!((alpha * 3.0 - (REACH - 2) as f64).abs() < 1e-9);
        assert_eq!(label.constant(0.0, 0), -1);
        let rounded = Values::new(OutputMode::RoundedScores, 2, 0.0).unwrap();
        assert_eq!(rounded.rows.len(), 2);
        assert_eq!(rounded.of(1, &[5.0, 7.0]), 7.0);
        let alpha = rounded.scale(&[(10.0, 30.0), (-4.0, 0.0)], 0.0);
        // the widest range (20) fills the window; each centre sits on its midpoint
        assert!((alpha * 10.0 - (REACH - 32) as f64).abs() < 1e-9);
        assert_eq!(rounded.centre(alpha, (10.0, 30.0)), (alpha * 20.0 / 32.0).round() as i64);
        assert_eq!(rounded.constant(47.4, 1), 47 + 16 - 32);
        assert!(Values::fits(-512, 511) && !Values::fits(-513, 0) && !Values::fits(0, 512));
    }
}
