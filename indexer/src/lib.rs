//! `modelmart-indexer`: the indexer service. It runs the chain index (`modelmart-index`: follower,
//! state tables, SQLite or Postgres) and serves it over HTTP: the marketplace API (OpenAPI
//! document), a live stream of updates, market statistics, and health checks of operators'
//! endpoints with the model cards they serve.
//!
//! Guarantees (from the index): the API only ever shows blocks of the branch the node currently
//! follows; each range of blocks is written in one transaction with its cursor.
//!
//! This crate must not sign transactions, hold keys, or read contract storage: events are its
//! only input, and the only outside requests it makes are the endpoint probes.

pub mod api;
pub mod egress;
pub mod probe;
pub mod service;
pub mod stats;

/// The chain index this service serves (re-exported from `modelmart-index`).
pub use modelmart_index::{
    Backend, Balance, Db, Error, EvalKey, Follower, FollowerConfig, Job, Model, Operator, Result,
    SharedStatus, Status, Update, apply, connect_pool, db, follower,
};
