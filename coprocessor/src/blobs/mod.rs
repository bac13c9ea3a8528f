//! Content-addressed blob storage: a blob is stored under the SHA-256 of its bytes, and only if
//! it hashes to the address it was uploaded to and fits its kind's size limit.

mod doc;
pub mod expiry;
mod gate;
pub mod http;
mod store;

pub use doc::BlobApi;
pub use gate::{UploadArgs, UploadPolicy};
pub use http::{router, router_with};
pub use store::{BlobStore, Stored};

/// Result alias for blob operations.
pub type Result<T, E = BlobError> = std::result::Result<T, E>;

/// What can go wrong storing or reading a blob.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The address is not 64 hex digits (optionally `0x`-prefixed).
    #[error("`{0}` is not a SHA-256 (64 hex digits)")]
    BadHash(String),
    /// The kind is not one of the known kinds.
    #[error("unknown blob kind `{0}` (card, sealed_model, eval_key, input, result)")]
    BadKind(String),
    /// Blobs of this kind are written by the operator's pipeline only, never uploaded.
    #[error("{0} blobs are written by the operator, not uploaded")]
    NotUploadable(BlobKind),
    /// The upload exceeds its kind's limit.
    #[error("{kind} blobs are limited to {limit} bytes")]
    TooLarge {
        /// The blob's kind.
        kind: BlobKind,
        /// Its limit in bytes.
        limit: u64,
    },
    /// The bytes do not hash to the address they were uploaded to (nothing was stored).
    #[error("content hashes to {actual}, not {expected}")]
    HashMismatch {
        /// The address of the upload.
        expected: String,
        /// The SHA-256 of what was received.
        actual: String,
    },
    /// The upload stream failed before it ended (nothing was stored).
    #[error("upload interrupted: {0}")]
    Interrupted(String),
    /// The storage backend failed.
    #[error("storage: {0}")]
    Store(#[from] object_store::Error),
    /// The storage URL is not understood.
    #[error(
        "unsupported blob storage URL `{0}` (a folder path, file:///…, s3://bucket/prefix or memory:)"
    )]
    BadUrl(String),
    /// Local temporary files could not be written.
    #[error("temporary file: {0}")]
    Io(#[from] std::io::Error),
}

use modelmart_primitives::BlobHash;
/// The kinds of blob, each with its own size limit (`modelmart-primitives`' one table).
pub use modelmart_primitives::BlobKind;

/// Parse a kind name from a URL.
pub fn parse_kind(s: &str) -> Result<BlobKind> {
    s.parse().map_err(|_| BlobError::BadKind(s.to_owned()))
}

/// Size limits per kind, in bytes: by default each kind's limit from the protocol's table
/// ([`BlobKind::max_bytes`]); an operator (or a test) may store less.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Model cards.
    pub card: u64,
    /// Sealed models.
    pub sealed_model: u64,
    /// Evaluation keys.
    pub eval_key: u64,
    /// Encrypted inputs.
    pub input: u64,
    /// Encrypted results.
    pub result: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            card: BlobKind::Card.max_bytes(),
            sealed_model: BlobKind::SealedModel.max_bytes(),
            eval_key: BlobKind::EvalKey.max_bytes(),
            input: BlobKind::Input.max_bytes(),
            result: BlobKind::Result.max_bytes(),
        }
    }
}

impl Limits {
    /// The limit of one kind.
    pub fn of(&self, kind: BlobKind) -> u64 {
        match kind {
            BlobKind::Card => self.card,
            BlobKind::SealedModel => self.sealed_model,
            BlobKind::EvalKey => self.eval_key,
            BlobKind::Input => self.input,
            BlobKind::Result => self.result,
        }
    }
}

/// Parse a blob address: 64 hex digits, with or without `0x`; returned lowercase without `0x`.
pub fn parse_hash(s: &str) -> Result<String> {
    s.parse::<BlobHash>().map(|h| h.hex()).map_err(|_| BlobError::BadHash(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_hashes_normalize() {
        for k in BlobKind::ALL {
            assert_eq!(parse_kind(k.as_str()).ok(), Some(k));
        }
        assert!(parse_kind("weights").is_err());
        let h = "AB".repeat(32);
        assert_eq!(parse_hash(&format!("0x{h}")).ok(), Some("ab".repeat(32)));
        assert!(parse_hash("0x1234").is_err());
        assert!(parse_hash(&"zz".repeat(32)).is_err());
    }
}
