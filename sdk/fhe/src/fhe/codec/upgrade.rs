//! Earlier versions of the wire formats and their upgrades: blobs written before the 128-bit
//! leveled domain existed (evaluation keys on buyers' disks, inputs and results in blob stores)
//! still read.

use tfhe::core_crypto::prelude::*;
use tfhe_versionable::{Upgrade, Version};

use super::{EncryptedInput, EncryptedResult, EvaluationKey, InputChunk};

/// [`EvaluationKey`] before it could hold a public key: always both bootstrap keys.
#[derive(Version)]
pub struct EvaluationKeyV0 {
    param_set: u16,
    ksk: SeededLweKeyswitchKeyOwned<u64>,
    bsk: SeededLweBootstrapKeyOwned<u64>,
}

impl Upgrade<EvaluationKey> for EvaluationKeyV0 {
    type Error = std::convert::Infallible;

    fn upgrade(self) -> Result<EvaluationKey, Self::Error> {
        Ok(EvaluationKey {
            param_set: self.param_set,
            ksk: Some(self.ksk),
            bsk: Some(self.bsk),
            public: None,
        })
    }
}

/// [`EncryptedInput`] before the 128-bit domain.
#[derive(Version)]
pub struct EncryptedInputV0 {
    param_set: u16,
    rows: u32,
    features: u32,
    chunks: Vec<InputChunk>,
}

impl Upgrade<EncryptedInput> for EncryptedInputV0 {
    type Error = std::convert::Infallible;

    fn upgrade(self) -> Result<EncryptedInput, Self::Error> {
        let Self { param_set, rows, features, chunks } = self;
        Ok(EncryptedInput { param_set, rows, features, wide: false, chunks })
    }
}

/// [`EncryptedResult`] before the 128-bit domain.
#[derive(Version)]
pub struct EncryptedResultV0 {
    param_set: u16,
    rows: u32,
    outputs: u32,
    log_modulus: u8,
    cts: Vec<CompressedModulusSwitchedLweCiphertext<u64>>,
}

impl Upgrade<EncryptedResult> for EncryptedResultV0 {
    type Error = std::convert::Infallible;

    fn upgrade(self) -> Result<EncryptedResult, Self::Error> {
        let Self { param_set, rows, outputs, log_modulus, cts } = self;
        Ok(EncryptedResult { param_set, rows, outputs, log_modulus, wide: false, cts })
    }
}
