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

use rayon::prelude::*;
use tfhe::core_crypto::algorithms::slice_algorithms::slice_wrapping_add_scalar_mul_assign;
use tfhe::core_crypto::commons::math::random::RandomGenerator;
use tfhe::core_crypto::prelude::*;
use tfhe_csprng::seeders::Seed;

use super::Evaluator;
use crate::compiled::QLinear;
use crate::fhe::codec::EncryptedInput;
use crate::fhe::sanitize::{SanitizeKey, Scratch};
use crate::params::Params;

/// Regenerate each 128-bit chunk's GLWE mask from its seed.
pub(super) fn expand_wide(
    params: &Params,
    input: &EncryptedInput,
) -> Vec<GlweCiphertextOwned<u128>> {
    let n = params.wide_polynomial_size.0;
    input
        .chunks
        .par_iter()
        .map(|c| {
            let mut body = vec![0u128; n];
            for (b, w) in body.iter_mut().zip(c.bodies.chunks_exact(2)) {
                *b = u128::from(w[0]) | (u128::from(w[1]) << 64);
            }
            SeededGlweCiphertext::from_container(
                body,
                GlweSize(2),
                Seed(c.seed).into(),
                CiphertextModulus::new_native(),
            )
            .decompress_into_glwe_ciphertext()
        })
        .collect()
}

/// log2 of the flooding bound `F` for an output step `2^delta_log`.
pub(crate) fn flood_log(delta_log: u8) -> u32 {
    u32::from(delta_log) - 2
}

impl Evaluator<'_> {
    /// `W q + B` for every row in the 128-bit domain, each output sanitized when `pk` is given.
    pub(super) fn linear_wide(
        &self,
        l: &QLinear,
        pk: Option<&SanitizeKey>,
        input: &EncryptedInput,
    ) -> Vec<LweCiphertextOwned<u128>> {
        let glwes = expand_wide(&self.params, input);
        let n = self.params.wide_polynomial_size.0;
        let features = input.features();
        let size = self.params.wide_lwe_dimension().to_lwe_size();
        let modulus = CiphertextModulus::<u128>::new_native();
        let delta_log = self.model.encoding.output_delta_log;
        let flood = flood_log(delta_log);
        let per_row: Vec<Vec<LweCiphertextOwned<u128>>> = (0..input.rows())
            .into_par_iter()
            .map_init(
                || {
                    let rng = RandomGenerator::<DefaultRandomGenerator>::new(new_seeder().seed());
                    (rng, Scratch::new(n))
                },
                |(rng, scratch), r| {
                    let mut outs: Vec<LweCiphertextOwned<u128>> = l
                        .bias
                        .iter()
                        .map(|b| {
                            let mut ct = LweCiphertext::new(0u128, size, modulus);
                            *ct.get_mut_body().data = (*b as i128 as u128) << delta_log;
                            ct
                        })
                        .collect();
                    let mut x = LweCiphertext::new(0u128, size, modulus);
                    for i in 0..features {
                        let v = r * features + i;
                        extract_lwe_sample_from_glwe_ciphertext(
                            &glwes[v / n],
                            &mut x,
                            MonomialDegree(v % n),
                        );
                        for (out, w) in outs.iter_mut().zip(&l.weights) {
                            if w[i] != 0 {
                                slice_wrapping_add_scalar_mul_assign(
                                    out.as_mut(),
                                    x.as_ref(),
                                    w[i] as i128 as u128,
                                );
                            }
                        }
                    }
                    if let Some(pk) = pk {
                        for out in &mut outs {
                            pk.sanitize(out, flood, rng, scratch);
                        }
                    }
                    outs
                },
            )
            .collect();
        per_row.into_iter().flatten().collect()
    }
}
