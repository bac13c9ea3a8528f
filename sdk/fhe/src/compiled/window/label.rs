//! Label-only output: a binary classifier decided under FHE, so the result holds one washed bit
//! (the class) and nothing else. The window value is the classifier's decision `d`, and the
//! class is 1 exactly when `d >= 0` ([`label_of`]); compilers fold the float model's strict
//! comparison (`score > threshold`, `s1 > s0`) into `d`'s constant ([`strict_bias`]), so ties
//! go to class 0 as in the float model.

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

/// The labels of a binary classifier; anything else has no label-only output.
pub(in crate::compiled) fn binary_labels(model: &Model) -> Result<&[String]> {
    match &model.task {
        Task::Classification { labels } if labels.len() == 2 => Ok(labels),
        Task::Classification { labels } => Err(Error::Unsupported(format!(
            "label-only output for a {}-class model (binary classifiers only: an argmax under \
             FHE is not built)",
            labels.len()
        ))),
        Task::Regression => {
            Err(Error::Unsupported("label-only output for a regression model (no label)".into()))
        }
    }
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
