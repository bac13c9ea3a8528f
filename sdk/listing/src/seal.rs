//! Sealed models: a compiled model file encrypted to one operator's X25519 key with HPKE
//! (RFC 9180, base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305).
//!
//! Wire format: `b"MMSEAL2\0"` (8 bytes) ‖ encapsulated key (32 bytes) ‖ AEAD ciphertext. The
//! HPKE `info` names the format and binds the listing's [`SealContext`] (chain id, market
//! address, seller, operator); the AEAD's associated data is the SHA-256 of the listing's public
//! model card. A sealed model therefore opens only for the seller, operator, market and card it
//! was made for: a copier who re-lists another seller's card and sealed model under its own
//! address gets a listing its operator cannot open.

use hpke::{
    Deserializable, Kem as _, OpModeR, OpModeS, Serializable, aead::ChaCha20Poly1305,
    kdf::HkdfSha256, kem::X25519HkdfSha256,
};

type Kem = X25519HkdfSha256;
type Aead = ChaCha20Poly1305;
type Kdf = HkdfSha256;

const MAGIC: &[u8; 8] = b"MMSEAL2\0";
const MAGIC_V1: &[u8; 8] = b"MMSEAL1\0";
const INFO: &[u8] = b"modelmart sealed model v2";
const ENC_LEN: usize = 32;

/// Whom a sealed model is for: the listing it may be opened for, bound into HPKE's `info`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealContext {
    /// EIP-155 chain id of the market.
    pub chain_id: u64,
    /// The market contract's address.
    pub market: [u8; 20],
    /// The seller who lists the model.
    pub seller: [u8; 20],
    /// The operator the model is sealed to.
    pub operator: [u8; 20],
}

impl SealContext {
    /// HPKE `info`: the format name, then chain id (big-endian), market, seller and operator.
    fn info(&self) -> Vec<u8> {
        let mut info = Vec::with_capacity(INFO.len() + 8 + 60);
        info.extend_from_slice(INFO);
        info.extend_from_slice(&self.chain_id.to_be_bytes());
        info.extend_from_slice(&self.market);
        info.extend_from_slice(&self.seller);
        info.extend_from_slice(&self.operator);
        info
    }
}

/// The listing a card was written for, as the card names it: the [`SealContext`] in readable
/// form (lowercase `0x` hex addresses). A card names its listing so that anyone who reads it (a
/// buyer, the indexer, the operator) tells the original from a copy listed by another seller,
/// with another operator, on another market or chain.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CardListing {
    /// EIP-155 chain id of the market.
    pub chain_id: u64,
    /// The market contract's address.
    pub market: String,
    /// The seller who lists the model.
    pub seller: String,
    /// The operator who serves it.
    pub operator: String,
}

fn hex20(a: &[u8; 20]) -> String {
    let mut s = String::with_capacity(42);
    s.push_str("0x");
    for b in a {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

impl From<&SealContext> for CardListing {
    fn from(c: &SealContext) -> Self {
        Self {
            chain_id: c.chain_id,
            market: hex20(&c.market),
            seller: hex20(&c.seller),
            operator: hex20(&c.operator),
        }
    }
}

impl CardListing {
    /// Whether this names exactly the listing `ctx` (addresses compared case-insensitively).
    pub fn names(&self, ctx: &SealContext) -> bool {
        let want = Self::from(ctx);
        self.chain_id == want.chain_id
            && self.market.eq_ignore_ascii_case(&want.market)
            && self.seller.eq_ignore_ascii_case(&want.seller)
            && self.operator.eq_ignore_ascii_case(&want.operator)
    }
}

/// Result alias for sealing.
pub type Result<T, E = SealError> = std::result::Result<T, E>;

/// Why a model could not be sealed or opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// The blob does not start with the sealed-model header or is too short.
    #[error("not a sealed model (bad header or truncated)")]
    Malformed,
    /// The blob is in the first format, which names no seller or operator: seal it again.
    #[error("sealed in the v1 format, which names no seller or operator: seal the model again")]
    Unbound,
    /// A public or private key is not a valid X25519 key.
    #[error("invalid X25519 key")]
    BadKey,
    /// Decryption failed: wrong operator key, another seller, market or card, or tampered bytes.
    #[error("cannot open: sealed for another operator, seller, market or card, or modified")]
    Open,
    /// Encryption failed.
    #[error("sealing failed")]
    Seal,
}

/// An operator's X25519 key pair for sealed models.
pub struct OperatorKey {
    secret: <Kem as hpke::Kem>::PrivateKey,
    public: <Kem as hpke::Kem>::PublicKey,
}

impl std::fmt::Debug for OperatorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorKey").field("public", &self.public_bytes()).finish_non_exhaustive()
    }
}

impl OperatorKey {
    /// A fresh random key pair.
    pub fn generate() -> Self {
        let (secret, public) = Kem::gen_keypair(&mut rand::rng());
        Self { secret, public }
    }

    /// The key pair of a stored 32-byte secret.
    pub fn from_secret(bytes: &[u8; 32]) -> Result<Self> {
        let secret =
            <Kem as hpke::Kem>::PrivateKey::from_bytes(bytes).map_err(|_| SealError::BadKey)?;
        let public = <Kem as hpke::Kem>::sk_to_pk(&secret);
        Ok(Self { secret, public })
    }

    /// The 32-byte secret, to store (encrypted) by the operator.
    pub fn secret_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(&self.secret.to_bytes());
        out
    }

    /// The 32-byte public key registered on chain (`x25519Key`).
    pub fn public_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(&self.public.to_bytes());
        out
    }

    /// Open a sealed model made for this operator and the listing `ctx` whose card hashes to
    /// `card_hash`.
    pub fn open(&self, sealed: &[u8], card_hash: &[u8; 32], ctx: &SealContext) -> Result<Vec<u8>> {
        if sealed.len() >= MAGIC_V1.len() && &sealed[..MAGIC_V1.len()] == MAGIC_V1 {
            return Err(SealError::Unbound);
        }
        if sealed.len() < MAGIC.len() + ENC_LEN || &sealed[..MAGIC.len()] != MAGIC {
            return Err(SealError::Malformed);
        }
        let (enc, ct) = sealed[MAGIC.len()..].split_at(ENC_LEN);
        let enc =
            <Kem as hpke::Kem>::EncappedKey::from_bytes(enc).map_err(|_| SealError::Malformed)?;
        hpke::single_shot_open::<Aead, Kdf, Kem>(
            &OpModeR::Base,
            &self.secret,
            &enc,
            &ctx.info(),
            ct,
            card_hash,
        )
        .map_err(|_| SealError::Open)
    }
}

/// Seal a compiled model file to the operator whose public key is `operator_key`, for the
/// listing `ctx` whose card hashes to `card_hash`.
pub fn seal(
    model: &[u8],
    operator_key: &[u8; 32],
    card_hash: &[u8; 32],
    ctx: &SealContext,
) -> Result<Vec<u8>> {
    let pk =
        <Kem as hpke::Kem>::PublicKey::from_bytes(operator_key).map_err(|_| SealError::BadKey)?;
    let (enc, ct) = hpke::single_shot_seal::<Aead, Kdf, Kem, _>(
        &OpModeS::Base,
        &pk,
        &ctx.info(),
        model,
        card_hash,
        &mut rand::rng(),
    )
    .map_err(|_| SealError::Seal)?;
    let mut out = Vec::with_capacity(MAGIC.len() + ENC_LEN + ct.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&enc.to_bytes());
    out.extend_from_slice(&ct);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const CTX: SealContext =
        SealContext { chain_id: 31_337, market: [1; 20], seller: [2; 20], operator: [3; 20] };

    #[test]
    fn only_the_chosen_operator_opens_for_the_listed_card() -> Result<()> {
        let op = OperatorKey::generate();
        let other = OperatorKey::generate();
        let card = [7u8; 32];
        let model = b"{\"format\":\"modelmart-model\",\"version\":1}".to_vec();
        let sealed = seal(&model, &op.public_bytes(), &card, &CTX)?;
        assert_eq!(op.open(&sealed, &card, &CTX)?, model);
        assert_eq!(other.open(&sealed, &card, &CTX), Err(SealError::Open), "another operator");
        assert_eq!(
            op.open(&sealed, &[8u8; 32], &CTX),
            Err(SealError::Open),
            "another listing's card"
        );
        let again = OperatorKey::from_secret(&op.secret_bytes())?;
        assert_eq!(again.public_bytes(), op.public_bytes());
        assert_eq!(again.open(&sealed, &card, &CTX)?, model, "a stored secret still opens it");
        assert_ne!(seal(&model, &op.public_bytes(), &card, &CTX)?, sealed, "sealing is randomized");
        assert_eq!(op.open(&sealed[..20], &card, &CTX), Err(SealError::Malformed));
        assert_eq!(
            op.open(b"not sealed at all, not sealed at all, not sealed", &card, &CTX),
            Err(SealError::Malformed)
        );
        assert!(
            !format!("{op:?}").contains(&format!("{:?}", op.secret_bytes())),
            "Debug hides the secret"
        );
        Ok(())
    }

    /// A copier re-lists the seller's card and sealed model under its own address (or on
    /// another market or chain, or naming another operator address): the blob does not open.
    #[test]
    fn a_copied_listing_does_not_open() -> Result<()> {
        let op = OperatorKey::generate();
        let card = [7u8; 32];
        let sealed = seal(b"model", &op.public_bytes(), &card, &CTX)?;
        for (what, ctx) in [
            ("copier as seller", SealContext { seller: [9; 20], ..CTX }),
            ("another market", SealContext { market: [9; 20], ..CTX }),
            ("another chain", SealContext { chain_id: 1, ..CTX }),
            ("another operator address", SealContext { operator: [9; 20], ..CTX }),
        ] {
            assert_eq!(op.open(&sealed, &card, &ctx), Err(SealError::Open), "{what}");
        }
        let mut v1 = sealed.clone();
        v1[..8].copy_from_slice(MAGIC_V1);
        assert_eq!(op.open(&v1, &card, &CTX), Err(SealError::Unbound));
        Ok(())
    }

    /// A card names its listing readably, and names no other: each field that differs (and a
    /// card naming none) is told apart; addresses compare case-insensitively.
    #[test]
    fn a_card_listing_names_exactly_its_listing() {
        let named = CardListing::from(&CTX);
        assert_eq!(named.seller, format!("0x{}", "02".repeat(20)));
        assert!(named.names(&CTX));
        let upper = CardListing {
            market: named.market.to_uppercase().replace("0X", "0x"),
            ..named.clone()
        };
        assert!(upper.names(&CTX));
        for ctx in [
            SealContext { seller: [9; 20], ..CTX },
            SealContext { market: [9; 20], ..CTX },
            SealContext { chain_id: 1, ..CTX },
            SealContext { operator: [9; 20], ..CTX },
        ] {
            assert!(!named.names(&ctx), "{ctx:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Any model round-trips, and flipping any byte of the sealed blob makes it unopenable.
        #[test]
        fn any_bit_flip_is_detected(model in proptest::collection::vec(any::<u8>(), 0..2_000), at in any::<usize>(), bit in 0u8..8) {
            let op = OperatorKey::generate();
            let card = [1u8; 32];
            let sealed = seal(&model, &op.public_bytes(), &card, &CTX).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(op.open(&sealed, &card, &CTX), Ok(model));
            let mut bad = sealed.clone();
            let i = at % bad.len();
            bad[i] ^= 1 << bit;
            prop_assert!(op.open(&bad, &card, &CTX).is_err());
        }
    }
}
