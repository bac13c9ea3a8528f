//! FHE parameter sets.
//!
//! Parameter set 1 is tfhe-rs 1.4's `PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128` (128-bit
//! security, bootstrap failure probability 2^-129.6 at its 5-bit decision margin), used at the
//! core-crypto level: inputs are encrypted under the GLWE key (N = 2048) so linear algebra is
//! leveled, and bootstraps key-switch to the small key (n = 918) and blind-rotate back.
//!
//! Leveled (linear) models run in the set's 128-bit domain instead, so their results can be
//! sanitized (issue 7): a GLWE key of N = 4096 (binary), modulus 2^128, fresh noise TUniform(24)
//! (standard deviation 2^23.2). The HomomorphicEncryption.org standard (Albrecht et al., 2018,
//! table 1) gives n = 4096 128-bit classical security up to log2(q) = 109 at sigma = 3.2, i.e.
//! a ratio q / sigma of 2^107.3; ours is 2^104.8, 2.5 bits more conservative (binary rather
//! than ternary secrets cost part of that). The noise this leaves is what lets a result's model
//! dependent noise be flooded by a factor of 2^40 while decryption stays exact
//! (see `fhe::sanitize`).

use serde::{Deserialize, Serialize};
use tfhe::core_crypto::prelude::*;

/// GLWE polynomial size N.
pub(crate) const POLYNOMIAL_SIZE: usize = 2048;
/// log2 of the bound of the GLWE (input) noise: TUniform(17) draws from `[-2^17, 2^17]`.
pub(crate) const GLWE_NOISE_BOUND_LOG: u32 = 17;
/// Polynomial size of the 128-bit leveled domain.
pub(crate) const WIDE_POLYNOMIAL_SIZE: usize = 4096;
/// log2 of the bound of fresh noise in the 128-bit domain: TUniform(24).
pub(crate) const WIDE_NOISE_BOUND_LOG: u32 = 24;
/// Sanitized results are within statistical distance `2^-SANITIZE_SD_LOG` of a distribution that
/// depends only on the decrypted output.
pub(crate) const SANITIZE_SD_LOG: u32 = 40;
/// log2 of the standard deviation of one bootstrap's output noise assumed when sizing output
/// encodings of bootstrapped models (the `sign_bootstrap_and_leaf_test` test measures it).
pub(crate) const PBS_NOISE_STD_LOG: f64 = 49.5;
/// Bootstraps per washed bit (`fhe::eval::wash`); one more re-randomization than this ends the
/// wash. Here, below both the compiler (which counts them) and the evaluator (which runs them).
pub const WASH_BOOTSTRAPS: usize = 4;

/// Identifier of a parameter set (the on-chain `paramSet` of listings and keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ParamSetId(pub u16);

impl Default for ParamSetId {
    fn default() -> Self {
        Self(1)
    }
}

/// Concrete cryptographic parameters.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Params {
    /// Identifier.
    pub id: ParamSetId,
    /// Small LWE dimension (bootstrap input).
    pub lwe_dimension: LweDimension,
    /// GLWE dimension k.
    pub glwe_dimension: GlweDimension,
    /// Polynomial size N.
    pub polynomial_size: PolynomialSize,
    /// Noise of small-key LWE encryptions (key-switching key).
    pub lwe_noise: DynamicDistribution<u64>,
    /// Noise of GLWE encryptions (inputs, bootstrapping key).
    pub glwe_noise: DynamicDistribution<u64>,
    /// Bootstrapping key decomposition base log.
    pub pbs_base_log: DecompositionBaseLog,
    /// Bootstrapping key decomposition levels.
    pub pbs_level: DecompositionLevelCount,
    /// Key-switching key decomposition base log.
    pub ks_base_log: DecompositionBaseLog,
    /// Key-switching key decomposition levels.
    pub ks_level: DecompositionLevelCount,
    /// Polynomial size of the 128-bit leveled domain.
    pub wide_polynomial_size: PolynomialSize,
    /// Noise of encryptions in the 128-bit domain (inputs, public key, re-randomization).
    pub wide_noise: DynamicDistribution<u128>,
}

impl Params {
    /// Look up a parameter set by id.
    pub(crate) fn get(id: ParamSetId) -> crate::Result<Self> {
        match id.0 {
            1 => Ok(Self {
                id,
                lwe_dimension: LweDimension(918),
                glwe_dimension: GlweDimension(1),
                polynomial_size: PolynomialSize(POLYNOMIAL_SIZE),
                lwe_noise: DynamicDistribution::new_t_uniform(45),
                glwe_noise: DynamicDistribution::new_t_uniform(GLWE_NOISE_BOUND_LOG),
                pbs_base_log: DecompositionBaseLog(23),
                pbs_level: DecompositionLevelCount(1),
                ks_base_log: DecompositionBaseLog(4),
                ks_level: DecompositionLevelCount(4),
                wide_polynomial_size: PolynomialSize(WIDE_POLYNOMIAL_SIZE),
                wide_noise: DynamicDistribution::new_t_uniform(WIDE_NOISE_BOUND_LOG),
            }),
            other => Err(crate::Error::Unsupported(format!("FHE parameter set {other}"))),
        }
    }

    /// Dimension of LWE ciphertexts under the GLWE key (k * N).
    pub(crate) fn big_lwe_dimension(&self) -> LweDimension {
        LweDimension(self.glwe_dimension.0 * self.polynomial_size.0)
    }

    /// Dimension of LWE ciphertexts of the 128-bit domain (N).
    pub(crate) fn wide_lwe_dimension(&self) -> LweDimension {
        LweDimension(self.wide_polynomial_size.0)
    }

    /// The native 2^64 ciphertext modulus.
    pub(crate) fn modulus(&self) -> CiphertextModulus<u64> {
        CiphertextModulus::new_native()
    }
}
