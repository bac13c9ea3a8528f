//! `modelmart-primitives`: the protocol's terms, each defined once, as
//! [`alloy-primitives`](alloy_primitives) is for Ethereum's.
//!
//! - [`JobId`], [`ModelId`]: on-chain ids (`uint256` in the contract, 63-bit in every database)
//!   with one checked conversion each way: an id out of range is an [`Error`], never a panic or a
//!   default.
//! - [`BlobHash`]: the SHA-256 address of a blob, and [`BlobKind`] with the one table of size
//!   limits ([`BlobKind::max_bytes`]) that the engine, the coprocessor, the SDK, the CLI and the
//!   web dApp all use.
//! - [`JobStatus`], [`ModelStatus`], [`OperatorStatus`]: the contract's lifecycles, by code and
//!   by name.
//! - [`OutputMode`]: what a listing's results reveal (scores, rounded scores, label only).
//! - [`reasons`]: the codes an operator gives on chain when it rejects a job or declines a
//!   listing, with their texts.
//! - [`redact`]: text that may be shown anywhere (URLs without keys, user-info or paths).
//!
//! The web dApp's copies of the modes, kinds, limits and reasons are generated from these files
//! (`make bindings`; `make bindings-check` fails on drift).
//!
//! This crate must not depend on any other ModelMart crate, do I/O, or hold secrets: it is the
//! bottom layer every other crate (the FHE engine included) may use.

mod blob;
mod error;
mod id;
mod mode;
pub mod reasons;
pub mod redact;
mod status;

pub use blob::{BlobHash, BlobKind};
pub use error::{Error, Result};
pub use id::{JobId, ModelId};
pub use mode::OutputMode;
pub use status::{JobStatus, ModelSort, ModelStatus, OperatorStatus};
