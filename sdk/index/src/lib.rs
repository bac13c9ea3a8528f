//! `modelmart-index`: the chain index as a library. It follows the ModelMart contracts and keeps
//! a queryable picture of operators, models, evaluation keys, jobs and balances in SQL (SQLite by
//! default, Postgres by URL). The indexer service serves it over HTTP; the coprocessor embeds it
//! to find the listings and jobs addressed to its operator.
//!
//! - [`Follower`]: pulls logs in adaptive block ranges, detects reorgs by parent hash and rolls
//!   back above the fork, and commits each range atomically with its cursor, so a crash at any
//!   moment loses and duplicates nothing; it announces each change as an [`Update`].
//! - [`Db`]: the schema (migrations for both backends) and every query, written once.
//! - [`Operator`], [`Model`], [`EvalKey`], [`Job`], [`Balance`]: the state tables' rows.
//!
//! This crate must not sign transactions, hold keys, read contract storage or serve HTTP:
//! events are its only input, and the services above it decide what to expose.

pub mod apply;
pub mod db;
mod error;
pub mod follower;
mod state;

pub use apply::Update;
pub use db::{Backend, Db, WriterLock, connect_pool};
pub use error::{Error, Result};
pub use follower::{Follower, FollowerConfig, Role, SharedStatus, Status};
pub use state::{Balance, EvalKey, Job, Model, Operator};
