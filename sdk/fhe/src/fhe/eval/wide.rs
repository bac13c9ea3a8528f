//! Leveled (linear) models in the 128-bit domain, with sanitized results.
//!
//! `acc = W q + B` is computed on the LWE samples of the input's N = 4096 GLWE chunks exactly as
//! on the 64-bit torus; then every result ciphertext is sanitized before it is modulus-switched
//! and packed:
//!
//! 1. **Re-randomization:** add a fresh encryption of zero under the buyer's compact public key
//!    (mask `A * r + e1` with a fresh binary `r` and TUniform(24) `e1`, body `B * r + e2`). The
//!    buyer knows `A` and its own secret but not `r`, `e1`: the new mask is an RLWE sample with
//!    secret `r`, indistinguishable from uniform, so the result's mask `sum_i w_i a_i` (which
//!    gives the weights away, see `attack.rs`) is hidden.
//! 2. **Noise flooding:** add a uniform integer in `[-F, F)`, `F = Delta / 4`. What is left of
//!    the model in the phase is `e_model = sum_i w_i e_i` (the buyer knows every `e_i`) and the
//!    re-randomization's own noise `E * r + e2 - <e1, s>`, together at most
//!    `b = ||W||_1 2^24 + (2 N + 1) 2^24`. Shifting a uniform distribution on `2F` integers by
//!    at most `b` moves it by at most `b / 2F` in statistical distance (Gentry's
//!    flooding argument, thesis 2009 section 21; the setting of Bourse, Del Pino, Minelli, Wee,
//!    "FHE circuit privacy almost for free", CRYPTO 2016): the compiler only accepts encodings
//!    where this is at most `2^-40`.
//!
//! Decryption stays exact: `F + b` plus the modulus switch's rounding (at most `(N / 2 + 1/2)`
//! steps of the switched modulus, `<= Delta / 8` by the choice of `ell`) is below `Delta / 2`.

use rand::SeedableRng;
use rayon::prelude::*;
use tfhe::core_crypto::prelude::*;

use super::Evaluator;
use crate::compiled::QLinear;
use crate::fhe::codec::EncryptedInput;
use crate::fhe::sanitize::{LimbFft, Limbs, SanitizeKey, invert_x};
use crate::params::Params;

/// Regenerate each 128-bit chunk's GLWE mask from its seed (two wire words per coefficient).
pub(super) fn expand_wide(
    params: &Params,
    input: &EncryptedInput,
) -> Vec<GlweCiphertextOwned<u128>> {
    super::expand_chunks(input, params.wide_polynomial_size, GlweSize(2), |w| {
        u128::from(w[0]) | (u128::from(w[1]) << 64)
    })
}

/// log2 of the flooding bound `F` for an output step `2^delta_log`.
pub(crate) fn flood_log(delta_log: u8) -> u32 {
    u32::from(delta_log) - 2
}

impl Evaluator<'_> {
    /// `W q + B` for every row in the 128-bit domain, each output sanitized when `pk` is given.
    ///
    /// Sample `d` of a chunk with mask `A` has mask `a_d[j] = (A X^j)[d]`, so output `k`'s mask
    /// `sum_i w_i a_(d_i)` is `Q(X^-1)` with `Q = A * sum_i w_i X^(-d_i)`: one product per chunk
    /// the row touches, computed limb-wise in the Fourier domain, where the public key's
    /// encryption of zero is added before the single inverse transform.
    pub(super) fn linear_wide(
        &self,
        l: &QLinear,
        pk: Option<&SanitizeKey>,
        input: &EncryptedInput,
    ) -> Vec<LweCiphertextOwned<u128>> {
        let glwes = expand_wide(&self.params, input);
        let n = self.params.wide_polynomial_size.0;
        let chunks: Vec<Limbs> = glwes
            .par_iter()
            .map_init(
                || LimbFft::new(n),
                |f, g| f.limbs(g.get_mask().as_polynomial_list().get(0).as_ref()),
            )
            .collect();
        let features = input.features();
        let outputs = l.weights.len();
        let size = self.params.wide_lwe_dimension().to_lwe_size();
        let delta_log = self.model.encoding.output_delta_log;
        let flood = flood_log(delta_log);
        on_every_core(
            input.rows() * outputs,
            || (rand::rngs::StdRng::from_os_rng(), LimbFft::new(n), vec![0f64; n], vec![0u128; n]),
            |(rng, f, small, q), task| {
                let (r, k) = (task / outputs, task % outputs);
                let w = &l.weights[k];
                let mut body = (l.bias[k] as i128 as u128) << delta_log;
                // sum_i w_i X^(-d_i), per chunk the row touches
                let first = r * features / n;
                let last = ((r + 1) * features - 1) / n;
                f.clear();
                for c in first..=last {
                    small.fill(0.0);
                    for (i, wi) in w.iter().enumerate() {
                        let v = r * features + i;
                        if v / n != c || *wi == 0 {
                            continue;
                        }
                        let d = v % n;
                        let b = glwes[c].get_body().as_ref()[d];
                        body = body.wrapping_add(b.wrapping_mul(*wi as i128 as u128));
                        // X^-d = -X^(N-d)
                        if d == 0 {
                            small[0] += *wi as f64;
                        } else {
                            small[n - d] -= *wi as f64;
                        }
                    }
                    f.mul_add(&chunks[c], |j| small[j]);
                }
                let draw = pk.map(|pk| {
                    let draw = pk.draw(flood, rng);
                    pk.mul_add(&draw, f);
                    draw
                });
                f.finish(q);
                // mask = Q(X^-1)
                let mut ct = LweCiphertext::new(0u128, size, CiphertextModulus::new_native());
                let (mut mask, out_body) = ct.get_mut_mask_and_body();
                let mask = mask.as_mut();
                invert_x(q, mask);
                if let Some(d) = &draw {
                    for (m, e) in mask.iter_mut().zip(&d.e1) {
                        *m = m.wrapping_add(*e);
                    }
                    body = body.wrapping_add(d.body);
                }
                *out_body.data = body;
                ct
            },
        )
    }
}

/// Run `tasks` equal-cost tasks in contiguous blocks on one scoped thread per core (the caller
/// takes the first block), each thread with its own `init()` state; results in task order.
///
/// The leveled path uses this instead of rayon: its whole evaluation lasts one or two
/// milliseconds, and rayon's pool left the second core idle in about half of such runs (a
/// sleeping worker woke too late; digits: 2.2–2.9 ms through rayon, 1.5 ms here, medians of 20).
fn on_every_core<T: Send, S>(
    tasks: usize,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, usize) -> T + Sync,
) -> Vec<T> {
    let threads = rayon::current_num_threads().clamp(1, tasks.max(1));
    let per = tasks.div_ceil(threads);
    let block = |i: usize| {
        let mut state = init();
        (i * per..((i + 1) * per).min(tasks)).map(|t| work(&mut state, t)).collect::<Vec<T>>()
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = (1..threads).map(|i| scope.spawn(move || block(i))).collect();
        let mut out = block(0);
        for h in handles {
            match h.join() {
                Ok(v) => out.extend(v),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use tfhe::core_crypto::algorithms::slice_algorithms::slice_wrapping_add_scalar_mul_assign;

    use super::*;
    use crate::compiled::QProgram;
    use crate::fhe::{ClientKey, ServerKey};
    use crate::params::ParamSetId;

    /// Fresh inputs decrypt, under tfhe's own GLWE decryption, to their plaintexts within the
    /// TUniform(24) noise bound.
    #[test]
    fn wide_inputs_decrypt_with_bounded_noise() {
        let client = ClientKey::generate(ParamSetId::default()).unwrap();
        let p = Params::get(ParamSetId::default()).unwrap();
        let values: Vec<u128> =
            (0..5000u128).map(|v| v.wrapping_mul(0x9E37_79B9_7F4A_7C15) << 64).collect();
        let input = EncryptedInput {
            param_set: 1,
            rows: 1,
            features: values.len() as u32,
            wide: true,
            chunks: client.encrypt_values_wide(&p, &values),
        };
        let key = client.wide_key();
        for (c, glwe) in expand_wide(&p, &input).iter().enumerate() {
            let mut plain = PlaintextList::new(0u128, PlaintextCount(p.wide_polynomial_size.0));
            decrypt_glwe_ciphertext(&key, glwe, &mut plain);
            let n = p.wide_polynomial_size.0;
            for (i, got) in plain.as_ref().iter().enumerate().take(values.len() - c * n) {
                let err = got.wrapping_sub(values[c * n + i]) as i128;
                assert!(err.abs() <= 1 << crate::params::WIDE_NOISE_BOUND_LOG, "value {i}: {err}");
            }
        }
    }

    /// Without sanitization the Fourier path equals extracting every sample and accumulating
    /// `w_i a_i` word by word, for rows that straddle two chunks too.
    #[test]
    fn fourier_linear_equals_sample_extraction() {
        let client = ClientKey::generate(ParamSetId::default()).unwrap();
        let features = 30;
        let rows = 140; // 4200 values: row 136 straddles the first chunk boundary
        let q = QLinear {
            weights: vec![(0..features as i64).map(|i| (i * 37 % 1001) - 500).collect(); 2],
            bias: vec![12345, -6789],
            center: Vec::new(),
        };
        let (mut model, _) = crate::compiled::fixture_logreg();
        model.program = QProgram::Linear(q.clone());
        let p = Params::get(model.param_set).unwrap();
        let values: Vec<u128> =
            (0..rows * features).map(|v| (v as u128 * 0x9E37_79B9) << 60).collect();
        let input = EncryptedInput {
            param_set: 1,
            rows: rows as u32,
            features: features as u32,
            wide: true,
            chunks: client.encrypt_values_wide(&p, &values),
        };
        let server = ServerKey::expand(&client.public_key().unwrap()).unwrap();
        let ev = Evaluator::new(&model, Some(&server)).unwrap();
        let got = ev.linear_wide(&q, None, &input);
        let glwes = expand_wide(&p, &input);
        let n = p.wide_polynomial_size.0;
        let size = p.wide_lwe_dimension().to_lwe_size();
        let mut x = LweCiphertext::new(0u128, size, CiphertextModulus::new_native());
        for r in [0, 1, 136, 139] {
            for k in 0..2 {
                let mut want = LweCiphertext::new(0u128, size, CiphertextModulus::new_native());
                *want.get_mut_body().data =
                    (q.bias[k] as i128 as u128) << model.encoding.output_delta_log;
                for i in 0..features {
                    let v = r * features + i;
                    extract_lwe_sample_from_glwe_ciphertext(
                        &glwes[v / n],
                        &mut x,
                        MonomialDegree(v % n),
                    );
                    slice_wrapping_add_scalar_mul_assign(
                        want.as_mut(),
                        x.as_ref(),
                        q.weights[k][i] as i128 as u128,
                    );
                }
                assert_eq!(got[r * 2 + k].as_ref(), want.as_ref(), "row {r} output {k}");
            }
        }
    }
}
