//! The weight-extraction attack of issue 7, run against real results: a buyer knows every input
//! mask (it chose the seeds), and an unsanitized linear result's mask is `sum_i w_i a_i`
//! modulus-switched from `2^128` to `2^ell`. Each mask coordinate is then one equation
//! `sum_i w_i C_ij = Y_j + E_j (mod 2^(ell + t))` in the small unknown weights with a small error
//! (the switch's rounding): an LWE instance of dimension `features`, solved here by LLL on
//! Kannan's embedding. Test-only: it proves the leak exists and that sanitization closes it.

use tfhe::core_crypto::prelude::*;

use super::wide::expand_wide;
use crate::fhe::codec::{EncryptedInput, EncryptedResult};
use crate::params::Params;

/// Extra fractional bits kept from the known input masks.
const EXTRA_BITS: u32 = 8;
/// Mask coordinates used as equations (the rest verify the answer).
const EQUATIONS: usize = 24;

/// What the attack found.
pub(crate) struct Recovery {
    /// Weights that explain every coordinate of the result's mask, if a reduced vector gave them.
    pub(crate) weights: Option<Vec<i64>>,
    /// Every reduced lattice vector read as a weight guess (both signs): the attacker's best
    /// candidates, to compare with the truth.
    pub(crate) candidates: Vec<Vec<i64>>,
}

/// Try to recover output `k`'s integer weights of a linear model from the result of row 0,
/// assuming `|w_i| <= w_bound`.
pub(crate) fn recover_linear_weights(
    params: &Params,
    input: &EncryptedInput,
    result: &EncryptedResult,
    k: usize,
    w_bound: i64,
) -> Recovery {
    let glwes = expand_wide(params, input);
    let d = input.features();
    let ell = u32::from(result.log_modulus);
    let shift = 128 - ell - EXTRA_BITS;
    let modulus_log = ell + EXTRA_BITS;
    let m_mask = (1u128 << modulus_log) - 1;
    // known input masks (row 0, so all in the first chunk), rounded to 2^(ell + t)
    let mut x = LweCiphertext::new(
        0u128,
        params.wide_lwe_dimension().to_lwe_size(),
        CiphertextModulus::new_native(),
    );
    let masks: Vec<Vec<i128>> = (0..d)
        .map(|i| {
            extract_lwe_sample_from_glwe_ciphertext(&glwes[0], &mut x, MonomialDegree(i));
            x.get_mask()
                .as_ref()
                .iter()
                .map(|a| (a.wrapping_add(1u128 << (shift - 1)) >> shift & m_mask) as i128)
                .collect()
        })
        .collect();
    let mut out: Vec<u64> = result.cts[k].unpack::<u64>().collect();
    out.pop(); // the body; the attack reads the mask
    let targets: Vec<i128> = out.iter().map(|a| i128::from(*a) << EXTRA_BITS).collect();
    // error bound per equation, in units of 2^shift
    let err = (1i128 << (EXTRA_BITS - 1)) + i128::from(w_bound) * d as i128 / 2 + 1;
    let s = (err / i128::from(w_bound.max(1))).max(1);
    let dim = d + EQUATIONS + 1;
    let mut basis = vec![vec![0i128; dim]; dim];
    for i in 0..d {
        basis[i][i] = s;
        for j in 0..EQUATIONS {
            basis[i][d + j] = masks[i][j];
        }
    }
    for j in 0..EQUATIONS {
        basis[d + j][d + j] = 1i128 << modulus_log;
        basis[dim - 1][d + j] = -targets[j];
    }
    basis[dim - 1][dim - 1] = err;
    lll(&mut basis, 0.99);
    let modulus = 1i128 << modulus_log;
    let explains = |w: &[i64]| {
        (0..targets.len()).all(|j| {
            let acc: i128 =
                (0..d).map(|i| i128::from(w[i]) * masks[i][j]).sum::<i128>() - targets[j];
            let r = acc.rem_euclid(modulus);
            r.min(modulus - r) <= err
        })
    };
    let weights = basis.iter().find_map(|row| {
        let sign = match row[dim - 1] {
            v if v == err => 1,
            v if v == -err => -1,
            _ => return None,
        };
        let w: Option<Vec<i64>> =
            row[..d].iter().map(|v| (v % s == 0).then(|| (sign * v / s) as i64)).collect();
        w.filter(|w| explains(w))
    });
    let candidates = basis
        .iter()
        .flat_map(|row| {
            [1i128, -1].map(|sign| row[..d].iter().map(|v| (sign * v / s) as i64).collect())
        })
        .collect();
    Recovery { weights, candidates }
}

/// The most coordinates any candidate gets exactly right.
fn best_agreement(r: &Recovery, truth: &[i64]) -> usize {
    r.candidates
        .iter()
        .map(|c| c.iter().zip(truth).filter(|(a, b)| a == b).count())
        .max()
        .unwrap_or(0)
}

/// LLL reduction (Schnorr–Euchner style: exact integer basis, floating-point Gram–Schmidt
/// recomputed from exact inner products for the row being reduced).
fn lll(b: &mut [Vec<i128>], delta: f64) {
    let n = b.len();
    let dot = |x: &[i128], y: &[i128]| {
        x.iter().zip(y).map(|(a, c)| (*a as f64) * (*c as f64)).sum::<f64>()
    };
    let mut mu = vec![vec![0f64; n]; n];
    let mut bstar = vec![0f64; n];
    let gso_row = |b: &[Vec<i128>], mu: &mut Vec<Vec<f64>>, bstar: &mut Vec<f64>, k: usize| {
        let mut norm = dot(&b[k], &b[k]);
        for j in 0..k {
            let mut v = dot(&b[k], &b[j]);
            for l in 0..j {
                v -= mu[j][l] * mu[k][l] * bstar[l];
            }
            mu[k][j] = v / bstar[j];
            norm -= mu[k][j] * mu[k][j] * bstar[j];
        }
        bstar[k] = norm;
    };
    gso_row(b, &mut mu, &mut bstar, 0);
    let mut k = 1;
    let mut steps = 0usize;
    while k < n && steps < 1_000_000 {
        steps += 1;
        gso_row(b, &mut mu, &mut bstar, k);
        // size reduction, repeated while a coefficient was large (floating-point safety)
        loop {
            let mut changed = false;
            for j in (0..k).rev() {
                let q = mu[k][j].round();
                if q != 0.0 {
                    let qi = q as i128;
                    let (head, tail) = b.split_at_mut(k);
                    for (x, y) in tail[0].iter_mut().zip(&head[j]) {
                        *x -= qi * y;
                    }
                    let (mu_head, mu_tail) = mu.split_at_mut(k);
                    for (m, mj) in mu_tail[0][..j].iter_mut().zip(&mu_head[j][..j]) {
                        *m -= q * mj;
                    }
                    mu[k][j] -= q;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
            gso_row(b, &mut mu, &mut bstar, k);
        }
        if bstar[k] >= (delta - mu[k][k - 1] * mu[k][k - 1]) * bstar[k - 1] {
            k += 1;
        } else {
            b.swap(k, k - 1);
            gso_row(b, &mut mu, &mut bstar, k - 1);
            k = (k - 1).max(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CompileOptions;
    use crate::compiled::QProgram;
    use crate::fhe::{ClientKey, Evaluator, ServerKey};

    /// Without sanitization one result of one row gives the buyer every weight exactly; with it,
    /// the same attack on the same input finds nothing, and decryption is still exact.
    #[test]
    fn sanitization_stops_weight_extraction() {
        let (compiled, train) = crate::compiled::fixture_logreg();
        let QProgram::Linear(q) = &compiled.program else { panic!("linear") };
        assert!(compiled.encoding.wide());
        let w_bound = (1i64 << (CompileOptions::default().linear_weight_bits - 1)) - 1;
        let client = ClientKey::generate(compiled.param_set).unwrap();
        let server = ServerKey::expand(&client.public_key().unwrap()).unwrap();
        let input = client.encrypt_rows(&compiled.public(), &train.x[..1]).unwrap();
        let params = Params::get(compiled.param_set).unwrap();
        let evaluator = Evaluator::new(&compiled, Some(&server)).unwrap();
        let expect = compiled.predict_clear(&train.x[0]).unwrap();

        let (raw, _) = evaluator.without_sanitization().evaluate(&input, 1).unwrap();
        assert_eq!(client.decrypt(&compiled.public(), &raw).unwrap()[0], expect);
        let start = std::time::Instant::now();
        let found = recover_linear_weights(&params, &input, &raw, 0, w_bound);
        eprintln!("attack: {:?}, ell = {}", start.elapsed(), compiled.encoding.output_log_modulus);
        assert_eq!(
            found.weights.as_ref(),
            Some(&q.weights[0]),
            "the attack must work on raw results"
        );

        let evaluator = Evaluator::new(&compiled, Some(&server)).unwrap();
        let (clean, _) = evaluator.evaluate(&input, 1).unwrap();
        assert_eq!(client.decrypt(&compiled.public(), &clean).unwrap()[0], expect);
        let found = recover_linear_weights(&params, &input, &clean, 0, w_bound);
        assert_eq!(found.weights, None);
        // nothing better than chance: no candidate gets more weights right than a guess of all
        // zeros gets (the model's zero weights) plus a couple by luck
        let zeros = q.weights[0].iter().filter(|w| **w == 0).count();
        let best = best_agreement(&found, &q.weights[0]);
        eprintln!("sanitized: best candidate right on {best} of 30 weights ({zeros} are 0)");
        assert!(best <= zeros + 2, "{best} of 30 weights right");
    }
}
