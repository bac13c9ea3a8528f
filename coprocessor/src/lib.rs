//! `modelmart-coprocessor`: the operator's service.
//!
//! - [`blobs`]: the content-addressed blob endpoint every operator serves
//!   (`GET`/`PUT /v1/blobs/{sha256}`), on a local folder or S3-compatible storage, streamed.
//! - [`pipeline`]: listings sealed to this operator are opened, checked against their card and
//!   accepted or declined; jobs addressed to it are fed from an embedded index
//!   (`modelmart-index`'s follower) into the durable [`queue`]; each job's answer is decided
//!   apart from its side effects (`pipeline::worker::decide`), evaluated on CPU threads, and
//!   settled on chain exactly once (a result commitment, or a rejection with a reason code).
//! - [`service`]: its settings, from `modelmart-service`'s flag groups (flags > environment >
//!   TOML), and the process (`/healthz`, Prometheus `/metrics`); the `modelmart-coprocessor`
//!   binary and `modelmart coprocessor` both run it.
//!
//! This crate must not decrypt anything: it never holds a buyer's client key; it must not trust
//! a blob it did not hash itself, and must not panic on buyer input.

pub mod blobs;
pub mod pipeline;
pub mod queue;
pub mod service;

pub use blobs::{BlobError, BlobKind, BlobStore, Limits};

/// Result alias for the pipeline and the service.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Failures of the pipeline and the service (buyer mistakes are not errors: they are answered
/// on chain with a reason code).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A chain call failed (RPC, refused transaction).
    #[error(transparent)]
    Sdk(#[from] modelmart_sdk::Error),
    /// The queue database failed.
    #[error(transparent)]
    Queue(#[from] queue::QueueError),
    /// The embedded index failed.
    #[error(transparent)]
    Index(#[from] modelmart_index::Error),
    /// Blob storage failed.
    #[error("blob storage: {0}")]
    Blob(#[from] blobs::BlobError),
    /// A value from the chain or the index is not one of the protocol's terms (an id out of
    /// range, an unknown status).
    #[error(transparent)]
    Protocol(#[from] modelmart_primitives::Error),
    /// Something the job needs is not ready yet (its listing is not indexed yet); the job is
    /// released and retried.
    #[error("not ready: {0}")]
    NotReady(String),
    /// A blocking task (evaluation, key expansion) failed or was cancelled; the job is retried.
    #[error("task: {0}")]
    Task(String),
    /// The configuration is unusable.
    #[error("config: {0}")]
    Config(String),
    /// This worker's lease on the job ran out and another worker may hold it now: the work
    /// stops (nothing is evaluated or posted any more by this worker).
    #[error("lease on job {0} lost")]
    LeaseLost(i64),
}

impl Error {
    /// Whether this failure is the job's own (its blobs, its evaluation, a value it carries)
    /// and counts towards giving up on it, rather than a wait for the index, the chain or the
    /// queue, which says nothing about the job.
    pub fn is_job_failure(&self) -> bool {
        matches!(self, Self::Blob(_) | Self::Protocol(_) | Self::Task(_) | Self::Config(_))
    }
}
