//! Label-only output: a classifier decided under FHE, so the result holds the class index as
//! washed bits and nothing else.
//! - Binary classifiers: the window value is the decision `d`, and the class is 1 exactly when
//!   `d >= 0` ([`label_of`]); compilers fold the float model's strict comparison
//!   (`score > threshold`, `s1 > s0`) into `d`'s constant ([`strict_bias`]), so ties go to
//!   class 0 as in the float model.
//! - More classes (at most [`MAX_CLASSES`]): the window values are the class scores `d_k`, on
//!   one scale such that every difference `d_k - d_j` fits the window. Each pair `k < j` is one
//!   floor and one sign, `k` beating `j` when `d_k - d_j >= 0`; class `k` wins when it beats
//!   every other (one sum and one sign bootstrap), and each bit of the winner's index is one
//!   more sum and sign over the classes with that bit set ([`argmax_of`]): the first of equal
//!   maxima, as the float model's argmax.

use crate::compiled::mlp::{MLP_FLOOR_BITS, MLP_TABLE};
use crate::model::{Model, Task};
use crate::{Error, Result};

/// The class a decision value `d` stands for: what the exact floor and the sign bootstrap
/// compute, wrap-around included (`d >= 0` for `d` in `[-2^B, 2^B)`).
pub(crate) fn label_of(d: i64) -> i64 {
    let t = d.div_euclid(1 << MLP_FLOOR_BITS);
    i64::from(t.rem_euclid(2 * MLP_TABLE as i64) < MLP_TABLE as i64)
}

/// The integer bias that makes `s + bias >= 0` hold exactly when `s + b > 0`, for any
/// integer `s`: `ceil(b) - 1` (ties go to class 0, as the float model's strict comparison).
pub(in crate::compiled) fn strict_bias(b: f64) -> i64 {
    b.ceil() as i64 - 1
}

/// Most classes a label-only model may have: the winners' sums of `±2^58` terms must stay
/// inside the half-torus, and an index bit's sum too.
pub(crate) const MAX_CLASSES: usize = 16;

/// Bits of a class index among `classes` (one for a binary classifier).
pub(crate) fn index_bits(classes: usize) -> usize {
    (usize::BITS - classes.saturating_sub(1).leading_zeros()).max(1) as usize
}

/// The labels of a classifier with `scores` raw scores that can be listed label-only: a
/// binary classifier, or one with a score per class and at most [`MAX_CLASSES`] classes.
pub(in crate::compiled) fn class_labels(model: &Model, scores: usize) -> Result<&[String]> {
    match &model.task {
        Task::Classification { labels } if labels.len() == 2 => Ok(labels),
        Task::Classification { labels } if labels.len() > MAX_CLASSES => Err(Error::Unsupported(
            format!("label-only output for {} classes (at most {MAX_CLASSES})", labels.len()),
        )),
        Task::Classification { labels } if labels.len() == scores => Ok(labels),
        Task::Classification { labels } => Err(Error::Unsupported(format!(
            "label-only output for {} classes from {scores} scores",
            labels.len()
        ))),
        Task::Regression => {
            Err(Error::Unsupported("label-only output for a regression model (no label)".into()))
        }
    }
}

/// The class the argmax circuit computes from class values `d`, exactly as the pairs' floors
/// and signs, the winners' sums and the index bits' sums do, wrap-around included: of a pair
/// the lower index wins when `d_lo - d_hi >= 0`, so equal maxima go to the first.
pub(crate) fn argmax_of(d: &[i64]) -> i64 {
    let c = d.len();
    let beats = |k: usize, j: usize| {
        // the pair (min, max) is compared once: the lower index wins ties
        let (lo, hi) = (k.min(j), k.max(j));
        (label_of(d[lo] - d[hi]) == 1) == (k == lo)
    };
    let wins: Vec<bool> = (0..c).map(|k| (0..c).all(|j| j == k || beats(k, j))).collect();
    (0..index_bits(c)).map(|m| i64::from((0..c).any(|k| (k >> m) & 1 == 1 && wins[k])) << m).sum()
}

/// The decision function of a binary classifier's raw scores: positive exactly when the float
/// model predicts class 1 (`s > threshold` for one score, `s1 > s0` for two), as the difference
/// `(coefficient of each score, constant)`.
pub(in crate::compiled) fn decision(outputs: usize, threshold: f64) -> Result<([f64; 2], f64)> {
    match outputs {
        1 => Ok(([1.0, 0.0], -threshold)),
        2 => Ok(([-1.0, 1.0], 0.0)),
        n => Err(Error::Unsupported(format!("label-only output for a model of {n} scores"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The label is `d >= 0` inside the window `[-2^B, 2^B)` and wraps outside it, as the
    /// floor and the sign bootstrap compute it.
    #[test]
    fn label_is_the_sign_inside_the_window() {
        let w = 1i64 << crate::compiled::MLP_ACC_BITS;
        for (d, class) in [(0, 1), (-1, 0), (31, 1), (-32, 0), (w - 1, 1), (-w, 0)] {
            assert_eq!(label_of(d), class, "d = {d}");
        }
        // beyond the window the floor's digit wraps, and so does the sign
        assert_eq!((label_of(w), label_of(-w - 1)), (0, 1));
        assert!(super::super::REACH + 1 < w);
    }

    /// The circuit's class is the argmax (first of equal maxima) when no difference wraps.
    #[test]
    fn argmax_is_the_first_maximum() {
        for (d, class) in [
            (vec![3, 9, 1], 1),
            (vec![9, 9, 1], 0),
            (vec![-5, -2, -2, -7], 1),
            (vec![0, 0, 0, 0, 0, 4, 4, 0, 0, 0], 5),
        ] {
            assert_eq!(argmax_of(&d), class, "{d:?}");
        }
        assert_eq!((index_bits(2), index_bits(3), index_bits(10), index_bits(16)), (1, 2, 4, 4));
    }

    /// One score is compared with the threshold, two with each other; more have no decision.
    #[test]
    fn decisions_of_one_and_two_scores() {
        assert_eq!(decision(1, 0.5).unwrap(), ([1.0, 0.0], -0.5));
        assert_eq!(decision(2, 0.5).unwrap(), ([-1.0, 1.0], 0.0));
        assert!(matches!(decision(3, 0.0), Err(Error::Unsupported(_))));
    }

    /// `s + strict_bias(b) >= 0` exactly when `s + b > 0`.
    #[test]
    fn strict_bias_sends_ties_to_class_0() {
        for b in [-2.0, -1.5, -0.25, 0.0, 0.25, 1.0, 3.75] {
            for s in -6i64..=6 {
                assert_eq!(s + strict_bias(b) >= 0, s as f64 + b > 0.0, "s {s} b {b}");
            }
        }
    }
}
