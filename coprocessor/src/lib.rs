//! `modelmart-coprocessor`: the operator's service. So far it holds the content-addressed blob
//! endpoint every operator serves (`GET`/`PUT /v1/blobs/{sha256}`): model cards, sealed models,
//! evaluation keys, encrypted inputs and results, stored on a local folder or on S3-compatible
//! object storage and streamed in and out without whole-blob copies in memory; and the durable
//! job [`queue`] its workers claim jobs from. The pipeline that feeds and drains the queue is
//! still to come.
//!
//! This crate must not decrypt anything: it never holds a buyer's client key, and it must not
//! trust a blob it did not hash itself.

pub mod blobs;
pub mod queue;

pub use blobs::{BlobError, BlobKind, BlobStore, Limits};
