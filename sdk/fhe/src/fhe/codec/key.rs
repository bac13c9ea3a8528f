//! The evaluation key's accessors, wire format and conformance checks.

use tfhe::core_crypto::commons::math::random::CompressionSeed;
use tfhe::core_crypto::prelude::*;

use modelmart_primitives::BlobKind;

use super::{EvaluationKey, from_bytes, to_bytes};
use crate::params::{ParamSetId, Params};
use crate::{Error, Result};

impl EvaluationKey {
    /// Parameter set.
    pub(crate) fn param_set(&self) -> ParamSetId {
        ParamSetId(self.param_set)
    }

    /// Serialize (versioned, safe serialization).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        to_bytes(self, BlobKind::EvalKey.max_bytes())
    }

    /// Deserialize with the size limit and check conformance with its parameter set.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let key: Self = from_bytes(bytes, BlobKind::EvalKey.max_bytes())?;
        key.check(&Params::get(key.param_set())?)?;
        Ok(key)
    }

    /// Whether the key holds what bootstrapped models need.
    pub fn has_bootstrap_keys(&self) -> bool {
        self.ksk.is_some() && self.bsk.is_some()
    }

    /// Whether the key holds the public key leveled models' results are sanitized with.
    pub fn has_public_key(&self) -> bool {
        self.public.is_some()
    }
    /// Check every dimension and the data lengths against `p`.
    pub(crate) fn check(&self, p: &Params) -> Result<()> {
        let bad = |why: String| Err(Error::nonconformant("evaluation key", why));
        if self.param_set != p.id.0 {
            return bad(format!("parameter set {} instead of {}", self.param_set, p.id.0));
        }
        if self.ksk.is_some() != self.bsk.is_some() {
            return bad("a key-switching key without a bootstrapping key, or the reverse".into());
        }
        if self.ksk.is_none() && self.public.is_none() {
            return bad("holds no key".into());
        }
        if let Some(k) = &self.ksk {
            if k.input_key_lwe_dimension() != p.big_lwe_dimension()
                || k.output_key_lwe_dimension() != p.lwe_dimension
                || k.decomposition_base_log() != p.ks_base_log
                || k.decomposition_level_count() != p.ks_level
                || k.ciphertext_modulus() != p.modulus()
            {
                return bad("key-switching key dimensions".into());
            }
            let ksk_len = p.big_lwe_dimension().0 * p.ks_level.0;
            if k.as_ref().len() != ksk_len {
                return bad(format!(
                    "key-switching key holds {} values, expected {ksk_len}",
                    k.as_ref().len()
                ));
            }
            if !canonical_seed(&k.compression_seed()) {
                return bad("key seed is not a plain AES-CTR seed starting at counter 0".into());
            }
        }
        if let Some(b) = &self.bsk {
            if b.input_lwe_dimension() != p.lwe_dimension
                || b.glwe_size() != p.glwe_dimension.to_glwe_size()
                || b.polynomial_size() != p.polynomial_size
                || b.decomposition_base_log() != p.pbs_base_log
                || b.decomposition_level_count() != p.pbs_level
                || b.ciphertext_modulus() != p.modulus()
            {
                return bad("bootstrapping key dimensions".into());
            }
            if !canonical_seed(&b.compression_seed()) {
                return bad("key seed is not a plain AES-CTR seed starting at counter 0".into());
            }
            let bsk_len = p.lwe_dimension.0
                * p.glwe_dimension.to_glwe_size().0
                * p.pbs_level.0
                * p.polynomial_size.0;
            if b.as_ref().len() != bsk_len {
                return bad(format!(
                    "bootstrapping key holds {} values, expected {bsk_len}",
                    b.as_ref().len()
                ));
            }
        }
        if let Some(pk) = &self.wash {
            if self.bsk.is_none()
                || pk.lwe_dimension() != p.big_lwe_dimension()
                || pk.ciphertext_modulus() != p.modulus()
                || pk.as_ref().len() != p.big_lwe_dimension().0
            {
                return bad("washing public key dimensions (or one without bootstrap keys)".into());
            }
            if !canonical_seed(&pk.compression_seed()) {
                return bad("washing public key seed is not a plain AES-CTR seed".into());
            }
        }
        if let Some(pk) = &self.public {
            if pk.lwe_dimension() != p.wide_lwe_dimension()
                || pk.ciphertext_modulus() != CiphertextModulus::<u128>::new_native()
                || pk.as_ref().len() != p.wide_lwe_dimension().0
            {
                return bad("public key dimensions".into());
            }
            if !canonical_seed(&pk.compression_seed()) {
                return bad("public key seed is not a plain AES-CTR seed".into());
            }
        }
        Ok(())
    }
}

/// Only seeds as tfhe's seeded key generation makes them: AES-CTR keyed by a 128-bit seed,
/// starting at the first table index. Anything else could make decompression walk off the end
/// of the generator's counter space.
fn canonical_seed(seed: &CompressionSeed) -> bool {
    use tfhe_csprng::generators::aes_ctr::TableIndex;
    use tfhe_csprng::seeders::SeedKind;
    matches!(seed.inner.seed, SeedKind::Ctr(_)) && seed.inner.first_index == TableIndex::FIRST
}
