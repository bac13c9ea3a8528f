//! `modelmart-service`: the shell every ModelMart service shares, so that the indexer, the
//! coprocessor and the `modelmart` CLI read the chain, log, take configuration and stop the same
//! way.
//!
//! - [`ChainArgs`], [`FollowArgs`], [`LogArgs`]: the flag groups, each flag with its
//!   `MODELMART_*` environment variable, default and range check, defined once.
//! - [`parse_with_config`]: flags > `MODELMART_*` environment > the TOML file named by
//!   `--config` > defaults.
//! - [`shutdown_signal`]: SIGTERM or SIGINT (Ctrl-C), so `docker stop`, systemd and Kubernetes
//!   stop a service cleanly.
//! - [`ListenArgs`]: the listen group — the service's address, where `/metrics` is served (its
//!   own address, or a loopback service port, never a public one) — and [`ListenArgs::serve`],
//!   which binds and serves both until shutdown.
//! - [`Health`]: the one `/healthz` answer (200 `ok`/`degraded`, 503 `down`).
//! - [`Problem`]: the one error answer (RFC 9457 problem details with a stable [`ProblemCode`]),
//!   and [`problem::problems`], the middleware that gives the framework's own errors that shape.
//! - [`serve`]: a service binary's whole `main`, so every service starts the same way.
//!
//! This crate must not hold business logic: it parses, logs, and listens for signals; what a
//! service does is its own crate's.

mod args;
mod config;
mod health;
mod listen;
pub mod problem;
mod shell;

pub use args::{
    ChainArgs, DEFAULT_RPC_URL, DEV_CHAIN_IDS, FollowArgs, LogArgs, Verbosity,
    default_confirmations,
};
pub use config::{
    parse_command_with_config, parse_from_with_config, parse_or_exit, parse_with_config,
};
pub use health::{Health, HealthStatus};
pub use listen::{Bound, ListenArgs, ServicePort, serve_until};
pub use problem::{PROBLEM_JSON, Problem, ProblemCode};
pub use shell::{ServiceCli, install_metrics, metrics_router, serve, shutdown_signal};

/// Result alias for the shell.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong setting a service up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config file could not be read.
    #[error("config {path}: {source}")]
    ConfigRead {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The config file is not TOML, or names a setting the service does not have.
    #[error("config {path}: {detail}")]
    ConfigInvalid {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// Flags, environment or config values do not parse (clap's message, with usage).
    #[error(transparent)]
    Args(#[from] clap::Error),
    /// The Prometheus recorder could not be installed.
    #[error("metrics: {0}")]
    Metrics(String),
    /// The async runtime could not be started.
    #[error("runtime: {0}")]
    Runtime(String),
    /// The service stopped with an error.
    #[error(transparent)]
    Service(Box<dyn std::error::Error + Send + Sync>),
}
