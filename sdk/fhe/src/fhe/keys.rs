//! Buyer keys: the client (secret) key, the compressed evaluation keys it exports (bootstrap keys
//! for bootstrapped models, the sanitization public key for leveled ones), and the expanded
//! server key the coprocessor builds from them.

use serde::{Deserialize, Serialize};
use tfhe::core_crypto::prelude::*;
use tfhe_versionable::{Versionize, VersionsDispatch};

use super::codec::EvaluationKey;
use super::sanitize::SanitizeKey;
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
        let mut seeder = super::os_seeder();
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

    /// The secret key of the 128-bit leveled domain (binary, N = 4096). It is derived from the
    /// key's own secret material (SHA-256 with a domain separator, then tfhe's AES-CTR secret
    /// generator), so key files need no new field and a key always derives the same one; its
    /// entropy is the 128-bit seed, matching the set's security level.
    pub(crate) fn wide_key(&self) -> GlweSecretKeyOwned<u128> {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"modelmart-fhe wide glwe key v1");
        for v in self.glwe.as_ref().iter().chain(self.lwe.as_ref()) {
            h.update(v.to_le_bytes());
        }
        let digest = h.finalize();
        let mut seed = [0u8; 16];
        seed.copy_from_slice(&digest[..16]);
        let mut secret = SecretRandomGenerator::<DefaultRandomGenerator>::new(
            tfhe_csprng::seeders::Seed(u128::from_le_bytes(seed)),
        );
        GlweSecretKey::generate_new_binary(
            GlweDimension(1),
            PolynomialSize(crate::params::WIDE_POLYNOMIAL_SIZE),
            &mut secret,
        )
    }

    /// The key jobs on `model` need: its bootstrap keys if it bootstraps
    /// ([`ClientKey::evaluation_key`]), else the sanitization public key
    /// ([`ClientKey::public_key`]).
    pub fn key_for(&self, model: &crate::PublicModel) -> Result<EvaluationKey> {
        if model.needs_evaluation_key() { self.evaluation_key() } else { self.public_key() }
    }

    /// Export the public key (seeded compact public key of the 128-bit domain, 64 KB) the
    /// coprocessor sanitizes leveled models' results with.
    pub fn public_key(&self) -> Result<EvaluationKey> {
        let p = Params::get(self.param_set())?;
        let wide = self.wide_key();
        let mut seeder = super::os_seeder();
        let public = allocate_and_generate_new_seeded_lwe_compact_public_key(
            &wide.as_lwe_secret_key(),
            p.wide_noise,
            CiphertextModulus::new_native(),
            seeder.as_mut(),
        );
        Ok(EvaluationKey {
            param_set: self.param_set,
            ksk: None,
            bsk: None,
            public: Some(public),
            wash: None,
        })
    }

    /// Export the seeded compact public key of the 64-bit domain (under the GLWE key, 16 KB)
    /// that washing re-randomizes bootstrapped one-bit results with (`eval/wash.rs`).
    pub(crate) fn wash_key(&self) -> Result<SeededLweCompactPublicKeyOwned<u64>> {
        let p = Params::get(self.param_set())?;
        let mut seeder = super::os_seeder();
        Ok(allocate_and_generate_new_seeded_lwe_compact_public_key(
            &self.glwe.as_lwe_secret_key(),
            p.glwe_noise,
            p.modulus(),
            seeder.as_mut(),
        ))
    }

    /// Export the evaluation key (key-switching + bootstrapping keys, seeded/compressed, and
    /// the 16 KB public key label-only results are washed with) the coprocessor needs for
    /// bootstrapped models.
    pub fn evaluation_key(&self) -> Result<EvaluationKey> {
        let p = Params::get(self.param_set())?;
        let mut seeder = super::os_seeder();
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
        Ok(EvaluationKey {
            param_set: self.param_set,
            ksk: Some(ksk),
            bsk: Some(bsk),
            public: None,
            wash: Some(self.wash_key()?),
        })
    }
}

/// Expanded evaluation key: what the buyer's [`EvaluationKey`] held, ready to compute.
pub struct ServerKey {
    pub(crate) params: Params,
    pub(crate) bootstrap: Option<BootstrapKeys>,
    pub(crate) public: Option<SanitizeKey>,
    pub(crate) wash: Option<WashKey>,
}

/// Key-switching key and Fourier bootstrapping key.
pub(crate) struct BootstrapKeys {
    pub(crate) params: Params,
    pub(crate) ksk: LweKeyswitchKeyOwned<u64>,
    pub(crate) bsk: FourierLweBootstrapKeyOwned,
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerKey")
            .field("param_set", &self.params.id)
            .field("bootstrap", &self.bootstrap.is_some())
            .field("public", &self.public.is_some())
            .finish_non_exhaustive()
    }
}

impl ServerKey {
    /// Expand a (conformance-checked) evaluation key. Bootstrap keys take about a second: cache
    /// the result.
    pub fn expand(key: &EvaluationKey) -> Result<Self> {
        let params = Params::get(ParamSetId(key.param_set))?;
        key.check(&params)?;
        let bootstrap = match (&key.ksk, &key.bsk) {
            (Some(ksk), Some(bsk)) => {
                let ksk = ksk.as_view().decompress_into_lwe_keyswitch_key();
                let std_bsk = bsk.as_view().par_decompress_into_lwe_bootstrap_key();
                let mut bsk = FourierLweBootstrapKey::new(
                    std_bsk.input_lwe_dimension(),
                    std_bsk.glwe_size(),
                    std_bsk.polynomial_size(),
                    std_bsk.decomposition_base_log(),
                    std_bsk.decomposition_level_count(),
                );
                par_convert_standard_lwe_bootstrap_key_to_fourier(&std_bsk, &mut bsk);
                Some(BootstrapKeys { params, ksk, bsk })
            }
            _ => None,
        };
        let public = key
            .public
            .clone()
            .map(|pk| SanitizeKey::new(pk.decompress_into_lwe_compact_public_key()));
        let wash = key.wash.as_ref().map(|pk| WashKey::new(pk, &params));
        Ok(Self { params, bootstrap, public, wash })
    }
    /// Whether the key can run bootstrapped models.
    pub(crate) fn has_bootstrap_keys(&self) -> bool {
        self.bootstrap.is_some()
    }

    /// Whether the key can wash label-only results.
    pub(crate) fn has_wash_key(&self) -> bool {
        self.wash.is_some()
    }

    /// Whether the key can sanitize leveled models' results.
    pub fn has_public_key(&self) -> bool {
        self.public.is_some()
    }
}

/// The buyer's compact public key of the 64-bit domain (under the GLWE key read as an LWE key
/// of dimension k * N): what washing re-randomizes with.
pub(crate) struct WashKey {
    pub(in crate::fhe) pk: LweCompactPublicKeyOwned<u64>,
    pub(in crate::fhe) noise: DynamicDistribution<u64>,
}

impl WashKey {
    /// Expand the seeded key the buyer exports (`N` words plus a seed: 16 KB).
    pub(crate) fn new(seeded: &SeededLweCompactPublicKeyOwned<u64>, params: &Params) -> Self {
        Self {
            pk: seeded.clone().decompress_into_lwe_compact_public_key(),
            noise: params.glwe_noise,
        }
    }
}
