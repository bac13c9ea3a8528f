//! Earlier versions of the wire formats and their upgrades: blobs written before the 128-bit
//! leveled domain existed (evaluation keys on buyers' disks, inputs and results in blob stores)
//! still read.

use tfhe::core_crypto::entities::packed_integers::PackedIntegers;
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

impl Upgrade<EvaluationKeyV1> for EvaluationKeyV0 {
    type Error = std::convert::Infallible;

    fn upgrade(self) -> Result<EvaluationKeyV1, Self::Error> {
        Ok(EvaluationKeyV1 {
            param_set: self.param_set,
            ksk: Some(self.ksk),
            bsk: Some(self.bsk),
            public: None,
        })
    }
}

/// [`EvaluationKey`] before label-only output: no washing key.
#[derive(Version)]
pub struct EvaluationKeyV1 {
    param_set: u16,
    ksk: Option<SeededLweKeyswitchKeyOwned<u64>>,
    bsk: Option<SeededLweBootstrapKeyOwned<u64>>,
    public: Option<SeededLweCompactPublicKeyOwned<u128>>,
}

impl Upgrade<EvaluationKey> for EvaluationKeyV1 {
    type Error = std::convert::Infallible;

    fn upgrade(self) -> Result<EvaluationKey, Self::Error> {
        let Self { param_set, ksk, bsk, public } = self;
        Ok(EvaluationKey { param_set, ksk, bsk, public, wash: None })
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

impl Upgrade<EncryptedResultV1> for EncryptedResultV0 {
    type Error = std::convert::Infallible;

    fn upgrade(self) -> Result<EncryptedResultV1, Self::Error> {
        let Self { param_set, rows, outputs, log_modulus, cts } = self;
        Ok(EncryptedResultV1 { param_set, rows, outputs, log_modulus, wide: false, cts })
    }
}

/// [`EncryptedResult`] with tfhe's compressed modulus-switched ciphertexts.
#[derive(Version)]
pub struct EncryptedResultV1 {
    param_set: u16,
    rows: u32,
    outputs: u32,
    log_modulus: u8,
    wide: bool,
    cts: Vec<CompressedModulusSwitchedLweCiphertext<u64>>,
}

impl Upgrade<EncryptedResult> for EncryptedResultV1 {
    type Error = crate::Error;

    /// Repack each ciphertext's integers as 64-bit words. tfhe reads them only as `usize`, so on a
    /// 32-bit target a version-1 result with a modulus above 2^32 cannot be read.
    fn upgrade(self) -> Result<EncryptedResult, Self::Error> {
        let Self { param_set, rows, outputs, log_modulus, wide, cts } = self;
        if u32::from(log_modulus) > usize::BITS || log_modulus == 0 || log_modulus > 64 {
            return Err(crate::Error::Serialization(format!(
                "a version-1 result with a 2^{log_modulus} modulus cannot be read on this \
                 {}-bit platform",
                usize::BITS
            )));
        }
        let ell = CiphertextModulusLog(usize::from(log_modulus));
        let cts = cts
            .iter()
            .map(|ct| {
                let ms = ct.extract();
                let words: Vec<u64> =
                    ms.mask().chain(std::iter::once(ms.body())).map(|w| w as u64).collect();
                PackedIntegers::pack(&words, ell)
            })
            .collect();
        Ok(EncryptedResult { param_set, rows, outputs, log_modulus, wide, cts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhe::{ClientKey, Evaluator, ServerKey};

    /// A result in the version-1 layout (tfhe's compressed ciphertexts) reads as the same
    /// integers, and decrypts to the same scores, after the upgrade.
    #[test]
    fn a_version_1_result_upgrades_and_decrypts_the_same() {
        let (compiled, train) = crate::compiled::fixture_logreg();
        let client = ClientKey::generate(compiled.param_set).unwrap();
        let server = ServerKey::expand(&client.key_for(&compiled.public()).unwrap()).unwrap();
        let input = client.encrypt_rows(&compiled.public(), &train.x[..2]).unwrap();
        let (result, _) =
            Evaluator::new(&compiled, Some(&server)).unwrap().evaluate(&input, 2).unwrap();
        let ell = usize::from(result.log_modulus);
        let cts = result
            .cts
            .iter()
            .map(|c| {
                // integers already on the 2^ell grid switch back to themselves exactly
                let words: Vec<u64> = c.unpack::<u64>().map(|w| w << (64 - ell)).collect();
                let ct = LweCiphertext::from_container(words, CiphertextModulus::new_native());
                lwe_ciphertext_modulus_switch::<u64, u64, _>(
                    ct.as_view(),
                    CiphertextModulusLog(ell),
                )
                .compress::<u64>()
            })
            .collect();
        let v1 = EncryptedResultV1 {
            param_set: result.param_set,
            rows: result.rows,
            outputs: result.outputs,
            log_modulus: result.log_modulus,
            wide: result.wide,
            cts,
        };
        let upgraded = v1.upgrade().unwrap();
        assert!(upgraded.cts.iter().zip(&result.cts).all(|(a, b)| a == b));
        let public = compiled.public();
        assert_eq!(
            client.decrypt(&public, &upgraded).unwrap(),
            client.decrypt(&public, &result).unwrap()
        );
    }

    /// An evaluation key made before label-only output upgrades without a washing key: it
    /// still runs score models, and a label-only model refuses it in words.
    #[test]
    fn a_version_1_evaluation_key_upgrades_without_a_washing_key() {
        let client = ClientKey::generate(Default::default()).unwrap();
        let new = client.evaluation_key().unwrap();
        assert!(new.wash.is_some());
        let v1 = EvaluationKeyV1 {
            param_set: new.param_set,
            ksk: new.ksk.clone(),
            bsk: new.bsk.clone(),
            public: None,
        };
        let old = v1.upgrade().unwrap();
        assert!(old.has_bootstrap_keys() && old.wash.is_none());
        let server = ServerKey::expand(&old).unwrap();
        let mut label = crate::compiled::fixture_logreg().0;
        label.encoding.readout = crate::compiled::Readout::Label { classes: 0 };
        let err = Evaluator::new(&label, Some(&server)).unwrap_err();
        assert!(matches!(err, crate::Error::MissingWashKey), "{err}");
        assert!(err.to_string().contains("register a new evaluation key"));
    }
}
