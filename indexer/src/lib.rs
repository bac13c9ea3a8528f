//! `modelmart-indexer`: follows the ModelMart contracts and keeps a queryable picture of
//! operators, models, evaluation keys, jobs and balances in SQL (SQLite by default, Postgres by
//! URL), and serves it over HTTP with a live stream of updates.
//!
//! Guarantees: the index only ever shows blocks of the branch the node currently follows (reorgs
//! are rolled back in one transaction); each range of blocks is written in one transaction with
//! its cursor, so a crash at any moment loses and duplicates nothing.
//!
//! This crate must not sign transactions, hold keys, or read contract storage: events are its
//! only input.

pub mod api;
mod apply;
pub mod db;
mod error;
pub mod follower;
pub mod probe;
pub mod service;
mod state;
pub mod stats;

pub use apply::Update;
pub use db::{Backend, Db, connect_pool};
pub use error::{Error, Result};
pub use follower::{Follower, FollowerConfig, SharedStatus, Status};
pub use state::{Balance, EvalKey, Job, Model, Operator};
