//! Buyer keys: the client (secret) key, the compressed evaluation key it exports, and the
//! expanded server key the coprocessor builds from it.

use serde::{Deserialize, Serialize};
use tfhe::core_crypto::prelude::*;
use tfhe_versionable::{Versionize, VersionsDispatch};

use super::codec::EvaluationKey;
use crate::Result;
use crate::params::{ParamSetId, Params};

/// Largest serialized [`ClientKey`] accepted (a few tens of KB in practice).
pub const MAX_CLIENT_KEY_BYTES: u64 = 1 << 20;

/// The buyer's secret key material. Never leaves the buyer's device.
#[derive(Clone, Serialize, Deserialize, Versionize)]
#[versionize(ClientKeyVersions)]
pub struct ClientKey {
    pub(crate) param_set: u16,
    /// GLWE secret key; inputs and results are encrypted under it (as an LWE key of size k*N).
    pub(crate) glwe: GlweSecretKeyOwned<u64>,
    /// Small LWE secret key (bootstrap input side).
    pub(crate) lwe: LweSecretKeyOwned<u64>,
}

#[derive(VersionsDispatch)]
#[allow(dead_code, missing_docs, unreachable_pub)]
pub enum ClientKeyVersions {
    V0(ClientKey),
}

impl tfhe::named::Named for ClientKey {
    const NAME: &'static str = "modelmart::fhe::ClientKey";
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKey").field("param_set", &self.param_set).finish_non_exhaustive()
    }
}

impl ClientKey {
    /// Generate a fresh client key from the OS's secure randomness.
    pub fn generate(param_set: ParamSetId) -> Result<Self> {
        let p = Params::get(param_set)?;
        let mut seeder = new_seeder();
        let mut secret = SecretRandomGenerator::<DefaultRandomGenerator>::new(seeder.seed());
        let glwe =
            GlweSecretKey::generate_new_binary(p.glwe_dimension, p.polynomial_size, &mut secret);
        let lwe = LweSecretKey::generate_new_binary(p.lwe_dimension, &mut secret);
        Ok(Self { param_set: param_set.0, glwe, lwe })
    }

    /// Parameter set of this key.
    pub fn param_set(&self) -> ParamSetId {
        ParamSetId(self.param_set)
    }

    /// Serialize (versioned, safe serialization). The bytes are the buyer's secret: store them
    /// encrypted.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        super::codec::to_bytes(self, MAX_CLIENT_KEY_BYTES)
    }

    /// Deserialize with a size limit and check the key's dimensions against its parameter set.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let key: Self = super::codec::from_bytes(bytes, MAX_CLIENT_KEY_BYTES)?;
        let p = Params::get(key.param_set())?;
        if key.glwe.glwe_dimension() != p.glwe_dimension
            || key.glwe.polynomial_size() != p.polynomial_size
            || key.lwe.lwe_dimension() != p.lwe_dimension
        {
            return Err(crate::Error::nonconformant(
                "client key",
                "dimensions differ from its parameter set",
            ));
        }
        Ok(key)
    }

    /// Export the evaluation key (key-switching + bootstrapping keys, seeded/compressed) the
    /// coprocessor needs for bootstrapped models.
    pub fn evaluation_key(&self) -> Result<EvaluationKey> {
        let p = Params::get(self.param_set())?;
        let mut seeder = new_seeder();
        let big = self.glwe.as_lwe_secret_key();
        let ksk = allocate_and_generate_new_seeded_lwe_keyswitch_key(
            &big,
            &self.lwe,
            p.ks_base_log,
            p.ks_level,
            p.lwe_noise,
            p.modulus(),
            seeder.as_mut(),
        );
        let bsk = par_allocate_and_generate_new_seeded_lwe_bootstrap_key(
            &self.lwe,
            &self.glwe,
            p.pbs_base_log,
            p.pbs_level,
            p.glwe_noise,
            p.modulus(),
            seeder.as_mut(),
        );
        Ok(EvaluationKey { param_set: self.param_set, ksk, bsk })
    }
}

/// Expanded evaluation key: key-switching key and Fourier bootstrapping key, ready to compute.
pub struct ServerKey {
    pub(crate) params: Params,
    pub(crate) ksk: LweKeyswitchKeyOwned<u64>,
    pub(crate) bsk: FourierLweBootstrapKeyOwned,
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerKey").field("param_set", &self.params.id).finish_non_exhaustive()
    }
}

impl ServerKey {
    /// Expand a (conformance-checked) evaluation key. Takes about a second: cache the result.
    pub fn expand(key: &EvaluationKey) -> Result<Self> {
        let params = Params::get(ParamSetId(key.param_set))?;
        key.check(&params)?;
        let ksk = key.ksk.as_view().decompress_into_lwe_keyswitch_key();
        let std_bsk = key.bsk.as_view().par_decompress_into_lwe_bootstrap_key();
        let mut bsk = FourierLweBootstrapKey::new(
            std_bsk.input_lwe_dimension(),
            std_bsk.glwe_size(),
            std_bsk.polynomial_size(),
            std_bsk.decomposition_base_log(),
            std_bsk.decomposition_level_count(),
        );
        par_convert_standard_lwe_bootstrap_key_to_fourier(&std_bsk, &mut bsk);
        Ok(Self { params, ksk, bsk })
    }

    /// Approximate memory held by the expanded key, in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.ksk.as_ref().len() * 8 + self.bsk.as_view().data().len() * 16
    }
}
