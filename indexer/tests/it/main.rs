//! Integration tests of the indexer against anvil running the real contracts, on SQLite and on
//! Postgres (`MODELMART_TEST_PG`, default `postgres://postgres@127.0.0.1:5432/test`).

mod api;
mod chain;
mod client;
mod db;
mod dump;
mod faults;
mod ingest;
mod outage;
mod probe;
mod problems;
mod reorg;

/// Log to the test output when `RUST_LOG` is set.
pub(crate) fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}
