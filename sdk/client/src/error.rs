//! The SDK's error type.

use alloy::primitives::U256;
use modelmart_primitives::{JobId, JobStatus, ModelId};

/// Result alias for SDK calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything an SDK call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The JSON-RPC node could not be reached or answered with an error.
    #[error("rpc: {0}")]
    Rpc(String),
    /// The contract refused the call; `reason` is the decoded custom error in plain words.
    #[error("{call} refused: {reason}")]
    Reverted {
        /// The contract function.
        call: &'static str,
        /// Why, decoded from the revert data when possible.
        reason: String,
    },
    /// A transaction was sent but no receipt arrived in time (it may still be mined).
    #[error("{call}: no receipt for {tx} within {seconds} s")]
    NoReceipt {
        /// The contract function.
        call: &'static str,
        /// Transaction hash.
        tx: String,
        /// How long we waited.
        seconds: u64,
    },
    /// A blob endpoint failed or refused an upload.
    #[error("blob {hash}: {detail}")]
    Blob {
        /// The blob's SHA-256 (hex).
        hash: String,
        /// What went wrong.
        detail: String,
    },
    /// Bytes did not hash to the address they were fetched or committed under.
    #[error("hash mismatch: expected {expected}, got {actual}")]
    HashMismatch {
        /// The hash asked for.
        expected: String,
        /// The hash of what arrived.
        actual: String,
    },
    /// The indexer API failed or answered something unexpected.
    #[error("indexer: {0}")]
    Indexer(String),
    /// A model, job, operator or key does not exist (or is not visible yet).
    #[error("not found: {0}")]
    NotFound(String),
    /// The listing cannot be used right now (not active, operator gone, ...).
    #[error("model {model_id} is {status}")]
    ModelUnavailable {
        /// Listing id.
        model_id: ModelId,
        /// Its status.
        status: String,
    },
    /// The price is above what the caller agreed to pay.
    #[error("price changed: {price} is above the maximum {max}")]
    PriceAboveMax {
        /// Current total price.
        price: U256,
        /// The caller's maximum.
        max: U256,
    },
    /// The job ended without a result.
    #[error("job {job_id} {status}{}", reason.map(|r| format!(" (reason {r}: {})", crate::reasons::describe(r))).unwrap_or_default())]
    JobFailed {
        /// Job id.
        job_id: JobId,
        /// `Rejected` or `Expired`.
        status: JobStatus,
        /// The operator's reason code, when rejected.
        reason: Option<u16>,
    },
    /// Waiting for something took longer than allowed.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The key store could not be read, written or unlocked.
    #[error("key store: {0}")]
    KeyStore(String),
    /// A caller-supplied value is invalid.
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// A CPU-heavy step (encryption, decryption) did not finish on its worker thread (it
    /// panicked or the runtime shut down).
    #[error("worker thread: {0}")]
    Task(String),
    /// The FHE engine failed (bad schema, non-conformant ciphertext, ...).
    #[error(transparent)]
    Fhe(#[from] modelmart_fhe::Error),
    /// A model card is malformed or inconsistent.
    #[error(transparent)]
    Card(#[from] crate::card::CardError),
    /// Sealing or opening a model failed.
    #[error(transparent)]
    Seal(#[from] crate::seal::SealError),
    /// A value from the chain or the caller is not one of the protocol's terms (an id out of
    /// range, an unknown status or mode, a malformed hash).
    #[error(transparent)]
    Protocol(#[from] modelmart_primitives::Error),
    /// A local file could not be read or written.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}
