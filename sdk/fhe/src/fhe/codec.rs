//! Wire formats: the evaluation key, encrypted inputs and encrypted results.
//!
//! All three are written with tfhe's versioned safe serialization and read back only through
//! [`safe_deserialize`](tfhe::safe_serialization::safe_deserialize) with a size limit, then
//! checked against the parameter set before anything indexes into them: a malformed, truncated,
//! oversized or wrong-parameter blob is a typed [`Error`], never a panic.

use serde::{Deserialize, Serialize};
use tfhe::core_crypto::entities::packed_integers::PackedIntegers;
use tfhe::core_crypto::prelude::*;
use tfhe::named::Named;
use tfhe::safe_serialization::{safe_deserialize, safe_serialize};
use tfhe_versionable::{Unversionize, Versionize, VersionsDispatch};

use modelmart_primitives::BlobKind;

use crate::params::{ParamSetId, Params};
use crate::{Error, Result};

mod key;
mod upgrade;

/// The buyer's public key material for one kind of model, registered once and sent to the
/// operator: for models that bootstrap, seeded (compressed) key-switching and bootstrapping
/// keys; for leveled models, the compact public key their results are sanitized with.
#[derive(Clone, Serialize, Deserialize, Versionize)]
#[versionize(EvaluationKeyVersions)]
pub struct EvaluationKey {
    pub(crate) param_set: u16,
    pub(crate) ksk: Option<SeededLweKeyswitchKeyOwned<u64>>,
    pub(crate) bsk: Option<SeededLweBootstrapKeyOwned<u64>>,
    /// Seeded compact public key of the 128-bit leveled domain.
    pub(crate) public: Option<SeededLweCompactPublicKeyOwned<u128>>,
    /// Seeded compact public key of the 64-bit domain that label-only results are washed with
    /// (with the bootstrap keys; absent from keys made before label-only output).
    pub(crate) wash: Option<SeededLweCompactPublicKeyOwned<u64>>,
}

/// Versions of [`EvaluationKey`].
#[derive(VersionsDispatch)]
#[allow(dead_code, missing_docs, unreachable_pub)]
pub enum EvaluationKeyVersions {
    V0(upgrade::EvaluationKeyV0),
    V1(upgrade::EvaluationKeyV1),
    V2(EvaluationKey),
}

impl Named for EvaluationKey {
    const NAME: &'static str = "modelmart::fhe::EvaluationKey";
}

/// One packed chunk of an encrypted input: a seeded GLWE ciphertext of which only the first
/// body coefficients are kept. Coefficient `i` is the LWE encryption (under the GLWE key seen as
/// an LWE key) of the `i`-th value of the chunk; its mask is regenerated from the 128-bit seed
/// (AES-CTR from counter 0), so each value costs 8 bytes on the wire (16 in the 128-bit domain,
/// where `bodies` holds each coefficient as two words, low then high).
#[derive(Clone, Debug, Serialize, Deserialize, Versionize)]
#[versionize(InputChunkVersions)]
pub struct InputChunk {
    pub(crate) seed: u128,
    pub(crate) bodies: Vec<u64>,
}

/// Versions of [`InputChunk`].
#[derive(VersionsDispatch)]
#[allow(dead_code, missing_docs, unreachable_pub)]
pub enum InputChunkVersions {
    V0(InputChunk),
}

/// Encrypted feature rows: `rows * features` quantized values, row-major, packed into chunks
/// of at most N values (`features` counts encrypted values per row: twice the model's features
/// when its encoding splits them into digits).
#[derive(Clone, Debug, Serialize, Deserialize, Versionize)]
#[versionize(EncryptedInputVersions)]
pub struct EncryptedInput {
    pub(crate) param_set: u16,
    pub(crate) rows: u32,
    pub(crate) features: u32,
    /// Encrypted on the 128-bit torus (leveled models with sanitized results).
    pub(crate) wide: bool,
    pub(crate) chunks: Vec<InputChunk>,
}

/// Versions of [`EncryptedInput`].
#[derive(VersionsDispatch)]
#[allow(dead_code, missing_docs, unreachable_pub)]
pub enum EncryptedInputVersions {
    V0(upgrade::EncryptedInputV0),
    V1(EncryptedInput),
}

impl Named for EncryptedInput {
    const NAME: &'static str = "modelmart::fhe::EncryptedInput";
}

/// Encrypted scores: `rows * outputs` LWE ciphertexts under the GLWE key (the 128-bit domain's
/// key when `wide`), modulus-switched to `2^log_modulus` and bit-packed: each is its mask then its
/// body, `lwe_size` integers in one [`PackedIntegers<u64>`]. (Version 1 used tfhe's
/// `CompressedModulusSwitchedLweCiphertext`, whose only reader returns `usize` words and so
/// cannot read moduli above 2^32 on 32-bit targets such as the browser's WebAssembly.)
#[derive(Clone, Serialize, Deserialize, Versionize)]
#[versionize(EncryptedResultVersions)]
pub struct EncryptedResult {
    pub(crate) param_set: u16,
    pub(crate) rows: u32,
    pub(crate) outputs: u32,
    pub(crate) log_modulus: u8,
    /// Computed on the 128-bit torus and sanitized.
    pub(crate) wide: bool,
    pub(crate) cts: Vec<PackedIntegers<u64>>,
}

/// Versions of [`EncryptedResult`].
#[derive(VersionsDispatch)]
#[allow(dead_code, missing_docs, unreachable_pub)]
pub enum EncryptedResultVersions {
    V0(upgrade::EncryptedResultV0),
    V1(upgrade::EncryptedResultV1),
    V2(EncryptedResult),
}

impl std::fmt::Debug for EncryptedResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptedResult")
            .field("param_set", &self.param_set)
            .field("rows", &self.rows)
            .field("outputs", &self.outputs)
            .field("log_modulus", &self.log_modulus)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for EvaluationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvaluationKey").field("param_set", &self.param_set).finish_non_exhaustive()
    }
}

impl Named for EncryptedResult {
    const NAME: &'static str = "modelmart::fhe::EncryptedResult";
}

pub(crate) fn to_bytes<T: Serialize + Versionize + Named>(v: &T, limit: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    safe_serialize(v, &mut out, limit).map_err(|e| Error::Serialization(e.to_string()))?;
    Ok(out)
}

pub(crate) fn from_bytes<T: serde::de::DeserializeOwned + Unversionize + Named>(
    bytes: &[u8],
    limit: u64,
) -> Result<T> {
    if bytes.len() as u64 > limit {
        return Err(Error::Serialization(format!(
            "{} of {} bytes exceeds the {limit}-byte limit",
            T::NAME,
            bytes.len()
        )));
    }
    safe_deserialize(bytes, limit).map_err(|e| Error::Serialization(format!("{}: {e}", T::NAME)))
}

impl EncryptedInput {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows as usize
    }

    /// Encrypted values per row (the model's features, or twice that when they are sent as
    /// digits).
    pub fn features(&self) -> usize {
        self.features as usize
    }

    /// Parameter set.
    pub(crate) fn param_set(&self) -> ParamSetId {
        ParamSetId(self.param_set)
    }

    /// Serialize (versioned, safe serialization).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        to_bytes(self, BlobKind::Input.max_bytes())
    }

    /// Deserialize with the size limit and check its layout against the parameter set.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let input: Self = from_bytes(bytes, BlobKind::Input.max_bytes())?;
        input.check(&Params::get(input.param_set())?)?;
        Ok(input)
    }

    pub(crate) fn check(&self, p: &Params) -> Result<()> {
        let bad = |why: String| Err(Error::nonconformant("encrypted input", why));
        if self.param_set != p.id.0 {
            return bad(format!("parameter set {} instead of {}", self.param_set, p.id.0));
        }
        let (n, words) =
            if self.wide { (p.wide_polynomial_size.0, 2) } else { (p.polynomial_size.0, 1) };
        let total = self.rows as usize * self.features as usize;
        if total == 0 {
            return bad("no values".into());
        }
        let expected_chunks = total.div_ceil(n);
        if self.chunks.len() != expected_chunks {
            return bad(format!("{} chunks for {total} values", self.chunks.len()));
        }
        for (i, c) in self.chunks.iter().enumerate() {
            let want = if i + 1 == expected_chunks { total - i * n } else { n };
            if c.bodies.len() != want * words {
                return bad(format!(
                    "chunk {i} holds {} words, expected {}",
                    c.bodies.len(),
                    want * words
                ));
            }
        }
        Ok(())
    }
}

impl EncryptedResult {
    /// Scores per row.
    pub(crate) fn outputs(&self) -> usize {
        self.outputs as usize
    }

    /// Serialize (versioned, safe serialization).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        to_bytes(self, BlobKind::Result.max_bytes())
    }

    /// Deserialize with the size limit and check every ciphertext against the parameter set.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let r: Self = from_bytes(bytes, BlobKind::Result.max_bytes())?;
        r.check(&Params::get(ParamSetId(r.param_set))?)?;
        Ok(r)
    }

    pub(crate) fn check(&self, p: &Params) -> Result<()> {
        let bad = |why: String| Err(Error::nonconformant("encrypted result", why));
        if self.param_set != p.id.0 {
            return bad(format!("parameter set {} instead of {}", self.param_set, p.id.0));
        }
        if self.cts.len() != self.rows as usize * self.outputs as usize || self.cts.is_empty() {
            return bad(format!(
                "{} ciphertexts for {}x{}",
                self.cts.len(),
                self.rows,
                self.outputs
            ));
        }
        if !(1..=64).contains(&self.log_modulus) {
            return bad(format!("log modulus {}", self.log_modulus));
        }
        let dim = if self.wide { p.wide_lwe_dimension() } else { p.big_lwe_dimension() };
        let ell = usize::from(self.log_modulus);
        if let Some(i) =
            self.cts.iter().position(|c| !packed_conformant(c, dim.to_lwe_size().0, ell))
        {
            return bad(format!("ciphertext {i} has the wrong size or modulus"));
        }
        Ok(())
    }
}

/// Whether `c` packs exactly `len` integers of `ell` bits in canonical form (tfhe's own check
/// for packed integers, with 64-bit output words on every target).
fn packed_conformant(c: &PackedIntegers<u64>, len: usize, ell: usize) -> bool {
    let words = c.packed_coeffs();
    c.log_modulus().0 == ell
        && c.initial_len() == len
        && words.len() == (len * ell).div_ceil(64)
        && words.last().is_none_or(|last| {
            let used = len * ell - (words.len() - 1) * 64;
            used == 64 || last >> used == 0
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhe::ClientKey;

    fn input() -> EncryptedInput {
        let client = ClientKey::generate(ParamSetId::default()).unwrap();
        let p = Params::get(ParamSetId::default()).unwrap();
        EncryptedInput {
            param_set: 1,
            rows: 3,
            features: 2,
            wide: false,
            chunks: client.encrypt_values(&p, &[1, 2, 3, 4, 5, 6]),
        }
    }

    #[test]
    fn wrong_parameter_set_is_refused() {
        let mut i = input();
        i.param_set = 2;
        let bytes = i.to_bytes().unwrap();
        assert!(matches!(EncryptedInput::from_bytes(&bytes), Err(Error::Unsupported(_))));
        let p = Params::get(ParamSetId::default()).unwrap();
        assert!(matches!(i.check(&p), Err(Error::NonConformant { .. })));
    }

    #[test]
    fn inconsistent_layout_is_refused() {
        let p = Params::get(ParamSetId::default()).unwrap();
        let mut i = input();
        i.rows = 4;
        assert!(matches!(i.check(&p), Err(Error::NonConformant { .. })));
        let mut i = input();
        i.chunks[0].bodies.pop();
        let err = EncryptedInput::from_bytes(&i.to_bytes().unwrap()).unwrap_err();
        assert!(matches!(err, Error::NonConformant { what: "encrypted input", .. }), "{err}");
        let mut i = input();
        i.chunks.push(i.chunks[0].clone());
        assert!(i.check(&p).is_err());
        let mut i = input();
        i.rows = 0;
        assert!(i.check(&p).is_err());
        assert!(input().check(&p).is_ok());
    }

    #[test]
    fn results_with_wrong_shape_are_refused() {
        let p = Params::get(ParamSetId::default()).unwrap();
        let r = EncryptedResult {
            param_set: 1,
            rows: 1,
            outputs: 1,
            log_modulus: 40,
            wide: false,
            cts: vec![],
        };
        assert!(r.check(&p).is_err());
        let bytes = r.to_bytes().unwrap();
        assert!(matches!(EncryptedResult::from_bytes(&bytes), Err(Error::NonConformant { .. })));
    }

    /// A result ciphertext must pack exactly `lwe_size` integers of the result's width, with the
    /// unused bits of its last word zero.
    #[test]
    fn packed_result_ciphertexts_are_checked() {
        let ell = CiphertextModulusLog(36);
        let good = PackedIntegers::pack(&[1u64, 2, 3, 4, 5], ell);
        assert!(packed_conformant(&good, 5, 36));
        assert!(!packed_conformant(&good, 6, 36), "wrong length");
        assert!(!packed_conformant(&good, 5, 35), "wrong width");
        // 5 x 36 bits = 180: three words, 52 bits used in the last; set one above them
        let mut v = serde_json::to_value(&good).unwrap();
        let last = v["packed_coeffs"].as_array_mut().unwrap().last_mut().unwrap();
        *last = serde_json::json!(last.as_u64().unwrap() | 1u64 << 63);
        let dirty: PackedIntegers<u64> = serde_json::from_value(v).unwrap();
        assert!(!packed_conformant(&dirty, 5, 36), "non-canonical last word");
    }
}
