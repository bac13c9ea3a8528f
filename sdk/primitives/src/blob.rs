//! Content-addressed blobs: a blob is stored under the SHA-256 of its bytes ([`BlobHash`]) and
//! belongs to one [`BlobKind`], whose size limit below is the only definition of that limit.

use alloy_primitives::B256;

use crate::{Error, Result};

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;

/// The kinds of blob an operator's endpoint stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlobKind {
    /// A public model card (JSON).
    Card,
    /// A model sealed to its operator (HPKE).
    SealedModel,
    /// A buyer's FHE evaluation key.
    EvalKey,
    /// Encrypted input rows.
    Input,
    /// An encrypted result.
    Result,
}

impl BlobKind {
    /// Every kind.
    pub const ALL: [Self; 5] =
        [Self::Card, Self::SealedModel, Self::EvalKey, Self::Input, Self::Result];

    /// The size limit of this kind in bytes: what the engine reads back, the coprocessor stores,
    /// and the SDK, the CLI and the web dApp upload and download. The one table of limits.
    pub const fn max_bytes(self) -> u64 {
        match self {
            // a card's schema and figures; the indexer fetches cards from every operator
            Self::Card => 256 * KIB,
            // a compiled program: the largest fixture (digits argmax) is a few MB
            Self::SealedModel => 64 * MIB,
            // parameter set 1's seeded bootstrapping key is ~30 MB
            Self::EvalKey => 64 * MIB,
            // 128-bit linear inputs take ~16 KB a feature; rows are capped per listing
            Self::Input => 16 * MIB,
            // a washed multi-class label is ~16.6 KB a row; the largest row count a listing
            // allows must fit
            Self::Result => 256 * MIB,
        }
    }

    /// Whether buyers and sellers upload blobs of this kind to an operator's endpoint. Results
    /// are written only by the operator's own pipeline, so the endpoint refuses them from
    /// outside (a stranger could otherwise store the largest kind there).
    pub const fn client_uploads(self) -> bool {
        !matches!(self, Self::Result)
    }

    /// The kind's name as used in URLs (`?kind=`) and messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Card => "card",
            Self::SealedModel => "sealed_model",
            Self::EvalKey => "eval_key",
            Self::Input => "input",
            Self::Result => "result",
        }
    }
}

impl std::fmt::Display for BlobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for BlobKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| Error::Unknown {
            what: "blob kind",
            value: s.to_owned(),
            expected: "card, sealed_model, eval_key, input, result",
        })
    }
}

/// The address of a blob: the SHA-256 of its bytes. Parsed from 64 hex digits with or without
/// `0x` in either case; shown as `0x`-prefixed lowercase hex ([`Display`](std::fmt::Display)) or
/// bare lowercase hex ([`BlobHash::hex`], the form of blob URLs and store keys).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlobHash(pub B256);

impl BlobHash {
    /// The hash as 64 lowercase hex digits without `0x`.
    pub fn hex(&self) -> String {
        alloy_primitives::hex::encode(self.0)
    }

    /// The hash as the contract's `bytes32`.
    pub const fn b256(self) -> B256 {
        self.0
    }
}

impl From<B256> for BlobHash {
    fn from(h: B256) -> Self {
        Self(h)
    }
}

impl From<[u8; 32]> for BlobHash {
    fn from(h: [u8; 32]) -> Self {
        Self(B256::from(h))
    }
}

impl From<BlobHash> for B256 {
    fn from(h: BlobHash) -> Self {
        h.0
    }
}

impl std::fmt::Display for BlobHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl std::str::FromStr for BlobHash {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let h = s.strip_prefix("0x").unwrap_or(s);
        let mut b = [0u8; 32];
        if h.len() != 64 || alloy_primitives::hex::decode_to_slice(h, &mut b).is_err() {
            return Err(Error::BadHash(s.to_owned()));
        }
        Ok(Self(B256::from(b)))
    }
}

impl serde::Serialize for BlobHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for BlobHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_by_name() {
        for k in BlobKind::ALL {
            assert_eq!(k.as_str().parse::<BlobKind>(), Ok(k));
            assert_eq!(serde_json::to_string(&k).ok(), Some(format!("\"{k}\"")));
            assert!(k.max_bytes() >= 256 * KIB);
        }
        assert!("weights".parse::<BlobKind>().is_err());
        let operator_only: Vec<_> =
            BlobKind::ALL.into_iter().filter(|k| !k.client_uploads()).collect();
        assert_eq!(operator_only, [BlobKind::Result]);
    }

    #[test]
    fn hashes_parse_in_every_spelling_and_refuse_the_rest() {
        let h = "AB".repeat(32);
        let a: BlobHash = format!("0x{h}").parse().unwrap_or_default();
        assert_eq!(a.hex(), "ab".repeat(32));
        assert_eq!(h.parse::<BlobHash>(), Ok(a));
        assert_eq!(a.to_string(), format!("0x{}", "ab".repeat(32)));
        assert!("0x1234".parse::<BlobHash>().is_err());
        assert!("zz".repeat(32).parse::<BlobHash>().is_err());
        assert!(format!("0x{h}00").parse::<BlobHash>().is_err());
    }

    proptest::proptest! {
        #[test]
        fn hash_text_round_trips(bytes in proptest::array::uniform32(0u8..)) {
            let h = BlobHash::from(bytes);
            proptest::prop_assert_eq!(h.to_string().parse::<BlobHash>(), Ok(h));
            proptest::prop_assert_eq!(h.hex().parse::<BlobHash>(), Ok(h));
            let json = serde_json::to_string(&h).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            proptest::prop_assert_eq!(serde_json::from_str::<BlobHash>(&json).ok(), Some(h));
        }
    }
}
