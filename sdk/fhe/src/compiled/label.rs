//! Label-only output: a binary classifier decided under FHE, so the result holds one washed bit
//! (the class) and nothing else.
//!
//! Every family computes one integer *decision value* `d` per row, in the window
//! `[-2^B, 2^B)` (`B` = [`MLP_ACC_BITS`]), at two scales: `z = d * 2^(63 - B)` and
//! `y = d * 2^(64 - S)`. The engine's exact floor turns them into `floor(d / 2^S)` at `2^59`, a
//! sign bootstrap into `±2^62`, and washing into a bit that reveals only the class
//! (`fhe/eval/wash.rs`). The class is 1 exactly when `d >= 0` ([`label_of`]); compilers fold
//! the float model's strict comparison (`score > threshold`, `s1 > s0`) into `d`'s constant
//! ([`strict_bias`]), so ties go to class 0 as in the float model.
//! - linear models: `d = W q + b` is leveled on fresh 64-bit inputs ([`linear`]);
//! - tree ensembles: every reached leaf adds its share of `d` through two leaf bootstraps, one
//!   per scale ([`trees`]);
//! - networks: a label neuron sums two table lookups per last-layer neuron (`compiled::mlp`).

use super::Encoding;
use super::mlp::{MLP_ACC_BITS, MLP_FLOOR_BITS, MLP_TABLE};
use crate::model::{Model, Task};
use crate::{Error, Result};

pub(super) use linear::compile as compile_linear;
pub(super) use trees::compile as compile_trees;

mod linear;
mod trees;

/// Bits a washed label is modulus-switched to: its rounding noise (`~2^(64 - 16 + 3.2)`) stays
/// far inside what the wash's flood leaves of the half-torus.
pub(super) const LABEL_LOG_MODULUS: u32 = 16;

/// Bootstraps of deciding a row's class from its decision value: the exact floor's three,
/// the sign and the wash's.
pub(crate) const DECIDE_BOOTSTRAPS: usize = 3 + 1 + crate::fhe::WASH_BOOTSTRAPS;

/// Largest `|d|` a compiler aims for: the window's half-width, less a unit for the strict
/// comparison.
pub(super) const LABEL_REACH: i64 = (1 << MLP_ACC_BITS) - 2;

/// The class a decision value `d` stands for: what the exact floor and the sign bootstrap
/// compute, wrap-around included (`d >= 0` for `d` in `[-2^B, 2^B)`).
pub(crate) fn label_of(d: i64) -> i64 {
    let t = d.div_euclid(1 << MLP_FLOOR_BITS);
    i64::from(t.rem_euclid(2 * MLP_TABLE as i64) < MLP_TABLE as i64)
}

/// The encoding of a label-only model whose inputs are `q * 2^input_delta_log` (in digits of
/// `low_bits` when non-zero): a washed bit at `2^62`, switched to `2^LABEL_LOG_MODULUS`.
pub(super) fn encoding(input_delta_log: u32, low_bits: u8) -> Encoding {
    Encoding {
        wide: false,
        input_delta_log: input_delta_log as u8,
        low_bits,
        output_delta_log: 62,
        output_log_modulus: LABEL_LOG_MODULUS as u8,
        label: true,
    }
}

/// The integer bias that makes `s + bias >= 0` hold exactly when `s + b > 0`, for any
/// integer `s`: `ceil(b) - 1` (ties go to class 0, as the float model's strict comparison).
pub(super) fn strict_bias(b: f64) -> i64 {
    b.ceil() as i64 - 1
}

/// The labels of a binary classifier; anything else has no label-only output.
pub(super) fn binary_labels(model: &Model) -> Result<&[String]> {
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
pub(super) fn decision(outputs: usize, threshold: f64) -> Result<([f64; 2], f64)> {
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
        let w = 1i64 << MLP_ACC_BITS;
        for (d, class) in [(0, 1), (-1, 0), (31, 1), (-32, 0), (w - 1, 1), (-w, 0)] {
            assert_eq!(label_of(d), class, "d = {d}");
        }
        // beyond the window the floor's digit wraps, and so does the sign
        assert_eq!((label_of(w), label_of(-w - 1)), (0, 1));
        assert!(LABEL_REACH + 1 < w);
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
